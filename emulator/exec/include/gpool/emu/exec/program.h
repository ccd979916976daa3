// The PTX executor's public interface: a lowered, validated PTX module that
// can launch its kernels on the CPU.
//
// Pipeline (one pass per file under emulator/exec/src): ptx::Module (parsed,
// see gpool/emu/ptx/ast.h) -> lower (validate every instruction, resolve
// registers, pick a handler) -> execute (warps of 32 lanes in lock step,
// blocks spread over a thread pool).
//
// Ownership: Program is immutable after build() except for bind_global(),
// which the runtime calls before the first launch, and, for a program made by
// build_lazy(), the lowering of each kernel the first time prepare() (or a
// launch) asks for it. Programs are shared (std::shared_ptr) between a module
// and any launch in flight.
//
// Lazy lowering (build_lazy): only the kernel names are known after the build;
// each kernel is lowered and validated when it is first prepared, so a module's
// kernels that are never launched or queried are never lowered, and one the
// executor cannot run fails only when it is used (docs/emulator.md, "Lazy
// loading and the kernel cache").
//
// Thread safety: launch() may be called from several threads at once on the
// same Program (different streams); bind_global() must not race with launch().
//
// Errors: build() fails with a message naming the first unsupported
// instruction or modifier, its function and its PTX line. launch() never
// throws and never crashes on a bad kernel: a memory fault, a trap or a
// failed assert is returned as a LaunchResult the runtime turns into the
// matching sticky CUDA error.
#pragma once

#include "gpool/emu/ptx/ast.h"

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace gpool::emu::exec {

// Generic addresses the executor reserves: a generic pointer whose top 16
// bits are one of these tags points into the current block's shared memory,
// the current thread's local memory or the kernel parameter buffer (offset =
// low 48 bits); any other generic address is a global address. The runtime
// must never hand out device addresses at or above kWindowBase (host
// user-space pointers on x86-64/aarch64 Linux are below 2^48, so they never
// collide).
constexpr uint64_t kWindowBase = 0xfffd000000000000ull;
constexpr uint64_t kParamWindow = 0xfffd000000000000ull;
constexpr uint64_t kLocalWindow = 0xfffe000000000000ull;
constexpr uint64_t kSharedWindow = 0xffff000000000000ull;

class TextureTable;  // texture.h

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
};

// What kernels may read and write outside shared and local memory: device
// allocations, mapped pinned host memory and module globals. Implemented by
// the runtime. Called concurrently from every interpreter thread; must be
// thread safe and cheap. The executor calls it once per warp-wide access with
// the span covering all lanes, and per lane only when that span is refused.
class GlobalMemory {
 public:
  virtual ~GlobalMemory() = default;
  // True when every byte of [addr, addr + len) may be accessed.
  virtual bool accessible(uint64_t addr, uint64_t len) const = 0;
};

// The device-side heap kernels reach through malloc/free (hence new/delete).
// Implemented by the runtime, one per context; its blocks are device memory
// that GlobalMemory::accessible accepts. Called concurrently from every
// interpreter thread: must be thread safe.
class DeviceHeap {
 public:
  virtual ~DeviceHeap() = default;
  // Device address of `bytes` bytes (16-byte aligned), or 0 when the heap has
  // no room, as malloc returns NULL on a GPU. allocate(0) returns 0.
  virtual uint64_t allocate(uint64_t bytes) = 0;
  // Returns a block allocate() handed out. False (nothing changes) when `addr`
  // is not the start of a live block; the executor reports that as a fault.
  virtual bool release(uint64_t addr) = 0;
};

// Where device-side printf output goes. The default writes to stdout.
class PrintfSink {
 public:
  virtual ~PrintfSink() = default;
  virtual void write(std::string_view text) = 0;
};

struct ParamInfo {
  uint32_t offset = 0;  // in the parameter buffer
  uint32_t size = 0;
  uint32_t align = 0;
  bool is_pointer = false;  // .ptr attribute or a .u64 used as an address
};

// Before a lazy program's kernel is prepared only `name` is valid.
struct KernelInfo {
  std::string name;  // mangled entry name
  std::vector<ParamInfo> params;
  uint32_t param_bytes = 0;          // size of the packed parameter buffer
  uint32_t static_shared_bytes = 0;  // .shared declarations of the kernel and module
  uint32_t local_bytes = 0;          // per-thread .local (stack) bytes
  uint32_t num_regs = 0;             // registers per thread estimated from PTX liveness and launch
                                     // bounds (reg_demand.h); the runtime prefers a cubin's count
  uint32_t max_threads_per_block = 1024;  // from .maxntid / .reqntid, else 1024
  uint32_t reqntid[3] = {0, 0, 0};
  bool uses_heap = false;  // calls malloc or free, or launches kernels: launches need LaunchEnv::heap
  // Launches kernels from the device (dynamic parallelism, nvcc's __cudaCDP2*
  // calls): its parameter buffers come from LaunchEnv::heap, and its child
  // grids run before launch() returns (docs/emulator.md, "Dynamic parallelism").
  bool uses_device_launch = false;
};

struct GlobalVarInfo {
  std::string name;
  ptx::Space space = ptx::Space::Global;  // Global or Const (module-scope)
  uint64_t size = 0;
  uint32_t align = 1;
  std::vector<uint8_t> init;             // initial bytes (size bytes, zero-filled)
  std::vector<ptx::InitReloc> relocs;    // resolved by bind_global of the targets
  bool is_extern = false;
  bool is_managed = false;  // .attribute(.managed): a __managed__ variable (cuLibraryGetManaged)
};

struct LaunchParams {
  Dim3 grid;
  Dim3 block;
  uint32_t dynamic_shared_bytes = 0;
  const void* param_buffer = nullptr;  // packed as KernelInfo::params describe
  size_t param_bytes = 0;
  bool cooperative = false;  // grid-wide sync allowed; all blocks must be co-resident
  // Device address of a zeroed grid-barrier workspace (>= 16 bytes, accessible
  // through LaunchEnv::memory), read by kernels through %envreg1 (high 32 bits)
  // and %envreg2 (low 32 bits): cooperative groups' grid.sync() counts arrivals
  // there. The runtime provides it for cooperative launches; 0 otherwise.
  uint64_t grid_workspace = 0;
};

enum class LaunchStatus {
  Ok,
  IllegalAddress,      // -> CUDA_ERROR_ILLEGAL_ADDRESS (sticky)
  MisalignedAddress,   // -> CUDA_ERROR_MISALIGNED_ADDRESS (sticky)
  AssertFailed,        // -> CUDA_ERROR_ASSERT (sticky)
  Trap,                // trap / brkpt -> CUDA_ERROR_LAUNCH_FAILED (sticky)
  IllegalInstruction,  // -> CUDA_ERROR_ILLEGAL_INSTRUCTION (sticky)
  OutOfResources,      // too many threads / too much shared memory -> CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES
  InvalidValue,        // bad dimensions or parameter buffer -> CUDA_ERROR_INVALID_VALUE
  Unbound,             // a module global was never bound -> CUDA_ERROR_NOT_INITIALIZED
  CooperativeTooLarge, // -> CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE
};

struct LaunchResult {
  LaunchStatus status = LaunchStatus::Ok;
  std::string message;  // what failed, where (kernel, PTX line, block, thread, address)
  uint64_t thread_instructions = 0;  // executed thread-instructions (for benchmarks)
};

struct LaunchEnv {
  const GlobalMemory* memory = nullptr;  // required
  PrintfSink* printf_sink = nullptr;     // nullptr = stdout
  unsigned threads = 0;                  // worker threads; 0 = all cores (GPOOL_EMU_THREADS)
  DeviceHeap* heap = nullptr;            // required when KernelInfo::uses_heap
  // Texture and surface objects (texture.h); nullptr: every tex/suld/sust faults.
  const TextureTable* textures = nullptr;
  // Device-side launches (KernelInfo::uses_device_launch): how many child
  // launches of one host launch's grid tree may wait to start at once
  // (CU_LIMIT_DEV_RUNTIME_PENDING_LAUNCH_COUNT); one more returns
  // cudaErrorLaunchPendingCountExceeded to the launching thread.
  uint64_t pending_launch_limit = 2048;
  int32_t device_ordinal = 0;  // what cudaGetDevice returns in device code
};

class Program {
 public:
  // Lowers and validates every kernel of `module`. Returns nullptr and sets *error on failure.
  static std::shared_ptr<Program> build(const ptx::Module& module, std::string* error);
  // Keeps `module` and lowers nothing yet: kernels() holds every kernel's name, and a kernel is
  // lowered by the first prepare() of it (or its first launch). Module variables (globals()) and
  // device-function addresses are laid out for the whole module now, exactly as build() does,
  // so bind_global() and function_address() work before any kernel is lowered.
  static std::shared_ptr<Program> build_lazy(std::shared_ptr<const ptx::Module> module, std::string* error);

  // Lowers kernels()[index] if it is not yet (thread safe; at most once per kernel). False with
  // *error naming the unsupported instruction, its function and PTX line when the executor
  // cannot run it (the failure is remembered: later calls fail the same way). A kernel that
  // launches kernels from the device has every kernel of the program prepared with it.
  virtual bool prepare(size_t index, std::string* error) const = 0;
  // True once kernels()[index] is lowered (always, for a program made by build()).
  virtual bool prepared(size_t index) const = 0;
  // Kernels lowered by this process so far, over all programs (for tests of laziness).
  static uint64_t kernels_lowered();

  virtual ~Program() = default;

  virtual const std::vector<KernelInfo>& kernels() const = 0;
  const KernelInfo* find_kernel(std::string_view name) const;
  virtual const std::vector<GlobalVarInfo>& globals() const = 0;

  // Tells the program where the runtime placed module global `name`.
  // REQUIRES: `name` is one of globals(); called before launches that use it.
  virtual void bind_global(std::string_view name, uint64_t device_address) = 0;
  // The value a device function pointer to function `name` holds (for module
  // globals initialized with function addresses). False for other names.
  virtual bool function_address(std::string_view name, uint64_t* out) const = 0;

  // Runs `kernel` to completion on the calling thread plus env.threads workers,
  // then the child grids its threads launched (dynamic parallelism), each with
  // its own children, before returning: the result is the first fault of the
  // whole tree.
  virtual LaunchResult launch(const KernelInfo& kernel, const LaunchParams& params,
                              const LaunchEnv& env) const = 0;
};

}  // namespace gpool::emu::exec
