// Modules, functions and libraries: a loaded image (its PTX built into an
// exec::Program), its module globals placed in device memory, and one
// Function per kernel.
//
// A CUkernel handle is the same object as the CUfunction handle of that
// kernel (cudart passes CUkernel handles to cuLaunchKernel), and a library
// owns exactly one module whose context is nullptr: library code and its
// globals survive context resets, as CUDA's context-independent loading does.
//
// Lazy loading: a kernel is lowered (exec::Program::prepare) by the first call
// that needs more than its name: a launch, an attribute, parameter or
// occupancy query, cuFuncLoad (function_ready). Until then only info->name is
// valid and num_regs is 0.
//
// Thread safety: Module and Function are immutable after load except the
// atomics in Function (attributes set by cuFuncSetAttribute) and the fields
// function_ready() fills once, before it publishes `ready`.
#pragma once

#include "context.h"
#include "jit.h"

#include "gpool/emu/exec/program.h"

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace gpool::emu::rt {

struct Module;
struct Library;

struct Function final : Object {
  static constexpr Kind kKind = Kind::Function;
  Function() : Object(Kind::Function) {}
  Module* module = nullptr;
  const exec::KernelInfo* info = nullptr;  // owned by module->program; only the name before ready
  size_t index = 0;                        // in module->program->kernels()
  uint32_t sass_regs = 0;                  // ptxas's count from a cubin in the image (0: none)
  uint32_t reg_cap = 0;                    // JIT/entry register cap of the load (0: none)
  std::atomic<bool> ready{false};          // lowered; num_regs set
  bool refused = false;                    // lowering failed (guarded by function_ready's lock)
  // Registers per thread (NUM_REGS, occupancy, launch limits): ptxas's count
  // from a cubin of this kernel in the same image, else info->num_regs.
  int num_regs = 0;
  std::atomic<int> max_dynamic_shared{-1};  // -1: the default (48 KiB - static)
  std::atomic<int> preferred_carveout{-1};
  std::atomic<int> cache_config{CU_FUNC_CACHE_PREFER_NONE};
  std::atomic<int> cluster_dims[3] = {0, 0, 0};
  std::atomic<int> non_portable_cluster{0};
  std::atomic<int> cluster_scheduling{0};
};

struct GlobalSym {
  uint64_t addr = 0;
  uint64_t size = 0;
  bool managed = false;  // a __managed__ variable (.attribute(.managed))
};

struct Module final : Object {
  static constexpr Kind kKind = Kind::Module;
  Module() : Object(Kind::Module) {}
  Context* ctx = nullptr;     // nullptr: owned by a library
  Library* library = nullptr;
  int device = 0;
  std::shared_ptr<exec::Program> program;
  std::vector<std::unique_ptr<Function>> functions;
  std::map<std::string, GlobalSym, std::less<>> globals;
  std::vector<uint64_t> global_allocs;  // device allocations holding the globals
  int ptx_version = 0;     // the PTX's virtual architecture: 75 for .target sm_75
  int binary_version = 0;  // sm major*10 + minor
};

struct Library final : Object {
  static constexpr Kind kKind = Kind::Library;
  Library() : Object(Kind::Library) {}
  Module* module = nullptr;
};

// Loads an image (fatBinC wrapper, fatbin, cubin or PTX text) for `dev`. Images holding several
// compilation units (-rdc=true, gpool's cuLinkComplete output) have their PTX linked
// (ptx::link). `jit` (may be null): options that bound the PTX arch and cap registers; the
// load's messages are appended to its logs.
// Errors: INVALID_IMAGE (unparseable), NO_BINARY_FOR_GPU (no PTX),
// INVALID_PTX (PTX that the parser or executor refuses), OUT_OF_MEMORY.
// Each error is logged with the loader's or executor's message. A library load (`ctx` nullptr)
// refused for want of PTX although the image holds SASS a real device of this capability runs
// also leaves the current context with the sticky NO_BINARY_FOR_GPU (refusal.h).
CUresult module_load(const void* image, size_t max_size, Context* ctx, int dev, Module** out,
                     JitOptions* jit = nullptr);

// Unregisters the module and its functions, frees its globals, deletes it.
void module_destroy(Module* m);

// Destroys every module owned by `ctx`.
void context_release_modules(Context* ctx);

// Resolves a CUfunction or CUkernel handle (no lowering: only info->name may be read).
Function* find_function(const void* handle);

// Lowers `f` if it is not yet and sets its register count. Errors: INVALID_PTX (the executor
// cannot run the kernel; logged once with the instruction and PTX line). Thread safe.
CUresult function_ready(Function* f);

// find_function + function_ready. *err: INVALID_HANDLE or INVALID_PTX when nullptr is returned.
Function* find_ready_function(const void* handle, CUresult* err);

}  // namespace gpool::emu::rt
