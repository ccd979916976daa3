// The attribute list of a cuLaunchKernelEx configuration, answered the same way by every gpool
// driver library that runs launches itself (the emulator, and the client shim, which must give
// the emulator's answers so a library behaves alike directly and through the pool: differential
// suite, LibraryKernelTest).
//
// Thread safety: pure function of its argument; any thread may call it.
#pragma once

#include <cuda.h>

namespace gpool::abi {

// Checks `config` (non-null, numAttrs entries at attrs) and returns:
// - CUDA_SUCCESS, with *cooperative set from CU_LAUNCH_ATTRIBUTE_COOPERATIVE (false without it),
//   when every attribute is one gpool honours: IGNORE, COOPERATIVE, a cluster dimension of 1x1x1
//   that divides the grid, and the scheduling hints with no effect on a launch's results (access
//   policy, synchronisation policy, cluster scheduling preference, programmatic stream
//   serialisation, priority, memory sync domain (map), preferred cluster dimension, shared memory
//   carveout, NVLink-centric scheduling): the launch then runs in stream order without them,
//   which the driver also honours;
// - CUDA_ERROR_INVALID_VALUE for a null attribute list with numAttrs > 0, a cluster dimension
//   with a zero or one that does not divide the grid, or an attribute id gpool does not know;
// - CUDA_ERROR_NOT_SUPPORTED (logged once through unimplemented()) for real clusters, a
//   programmatic event or a launch completion event.
CUresult check_launch_attributes(const CUlaunchConfig& config, bool* cooperative);

}  // namespace gpool::abi
