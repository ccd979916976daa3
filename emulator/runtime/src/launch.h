// A kernel launch split into its two halves, so that stream launches, graph
// kernel nodes and stream capture share one path: kernel_prepare() checks the
// function and dimensions and packs the arguments at call time;
// kernel_task() turns a prepared launch into a stream Task (each graph launch
// makes a new one from the same prepared launch).
//
// Thread safety: stateless; callable from any thread.
// Errors: CUresults of cuLaunchKernel (INVALID_HANDLE, INVALID_VALUE, ...).
#pragma once

#include "context.h"
#include "stream.h"

#include "gpool/emu/exec/program.h"

#include <memory>
#include <utility>
#include <vector>

namespace gpool::emu::rt {

struct LaunchDims {
  exec::Dim3 grid, block;
  unsigned shared = 0;
};

// A checked launch with its packed parameter buffer (immutable, shared by
// every Task made from it).
struct KernelLaunch {
  CUfunction func = nullptr;  // the handle given (CUfunction or CUkernel); looked up again per task
  Context* ctx = nullptr;
  LaunchDims dims;
  bool cooperative = false;
  std::shared_ptr<const std::vector<unsigned char>> args;
};

// Errors: those of cuLaunchKernel; INVALID_PTX when the kernel cannot be lowered (plain here:
// launch_kernel makes it sticky, a graph node added with it is not launched yet).
CUresult kernel_prepare(CUfunction hf, Context* ctx, const LaunchDims& L, void** params, void** extra,
                        bool cooperative, KernelLaunch* out);

// Makes `k` cooperative or not (CU_LAUNCH_ATTRIBUTE_COOPERATIVE set on a graph kernel node).
// Errors: COOPERATIVE_LAUNCH_TOO_LARGE when k's grid cannot be resident at once;
// INVALID_HANDLE when its function is gone.
CUresult kernel_set_cooperative(KernelLaunch* k, bool cooperative);

// (offset, size) of each parameter of `hf`; empty for an unknown handle.
std::vector<std::pair<uint32_t, uint32_t>> kernel_param_layout(CUfunction hf);

// Errors: INVALID_HANDLE when the function's module was unloaded since;
// OUT_OF_MEMORY when the device heap cannot be placed; INVALID_PTX, also left as the context's
// sticky error, when the emulator cannot lower the kernel (refusal.h: this is a launch).
CUresult kernel_task(const KernelLaunch& k, Task* out);

}  // namespace gpool::emu::rt
