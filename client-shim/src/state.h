// Client-side state of the shim: handle ids, functions with their parameter layouts, the
// device allocations this process made (for unified-address copies and pointer attributes),
// page-locked host allocations. Contexts are in contexts.h, the servers and devices in pool.h.
//
// Handles given to the application are client-chosen ids (no round trip to create; layout in
// ids.h): new_id() makes one owned by the session of the calling thread's current device.
//
// Device ranges are kept per session (two servers may hand out the same address): they are
// recorded for, and looked up first in, the session of the calling thread's current device;
// find_device_range() then looks in the other sessions, so a device pointer of another server
// is never taken for host memory (the call then fails on the routed server, which does not own
// the range).
//
// Ownership: process-wide, never destroyed. Thread safety: every function locks internally.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "contexts.h"
#include "ids.h"
#include "pool.h"
#include "session.h"

namespace gpool::shim {

uint64_t new_id(IdKind kind);

// The session's stream id for a CUstream (NULL -> 0 or 2 for per-thread default stream mode,
// CU_STREAM_LEGACY -> 1, CU_STREAM_PER_THREAD -> 2, otherwise the handle value).
uint64_t stream_id(CUstream s);
inline HandleRef stream_ref(CUstream s) { return HandleRef(stream_id(s), remote::HandleKind_Stream); }

struct FunctionInfo {
  uint64_t id = 0;
  uint64_t owner = 0;  // module or library id
  bool kernel = false; // from a library (CUkernel) rather than a module (CUfunction)
  std::string name;
  std::vector<uint32_t> offsets, sizes;
  uint32_t param_bytes = 0;
  uint32_t max_threads = 0;       // per block (launch checks, synchronous like the driver's); 0: the
                                  // server could not describe the function (launch.cc sends its launch)
  uint32_t max_dynamic_smem = 0;  // bytes; raised by cuFuncSetAttribute
};

// Packs a launch's parameters (kernelParams or the `extra` buffer) at the function's offsets
// (launch.cc; also graph kernel nodes, graph.cc). INVALID_VALUE for missing parameters.
CUresult pack_kernel_params(const FunctionInfo& f, void** params, void** extra, std::vector<std::byte>& buf);

// The function with this id (either kind), or nullopt.
std::optional<FunctionInfo> find_function(uint64_t id);
void add_function(FunctionInfo f);
// The id already made for (owner, name), or 0.
uint64_t function_by_name(uint64_t owner, const std::string& name);
void drop_functions_of(uint64_t owner);
// After cuLibraryUnload: drops the functions looked up through the library's module
// (cuLibraryGetModule, module_alias.cc). Any thread.
void drop_library_module(uint64_t library);

// Device ranges this process knows (allocations and module globals).
void add_device_range(CUdeviceptr p, size_t bytes, bool allocation);
bool remove_allocation(CUdeviceptr p);
// The same for an explicit session (virtual memory: vmm.cc): a non-freeable range, and the
// removal of every range that starts inside [p, p + bytes).
void add_device_range_of(uint32_t session, CUdeviceptr p, size_t bytes);
void remove_device_ranges(uint32_t session, CUdeviceptr p, size_t bytes);
// Forgets the range of `session` that starts at p, if any (a device reset freed it).
void remove_range_at(uint32_t session, CUdeviceptr p);
// The known range containing p, or false.
bool find_device_range(CUdeviceptr p, CUdeviceptr* base, size_t* bytes);
// The index of the session whose known ranges contain p (the routed session first), or -1.
int device_range_session(CUdeviceptr p);

// Page-locked host allocations and registrations (kept locally: nothing to pin remotely).
void add_host_range(void* p, size_t bytes, unsigned flags);
bool remove_host_range(void* p);
bool find_host_range(const void* p, void** base, size_t* bytes, unsigned* flags);
// Whether [p, p + bytes) overlaps a recorded host range.
bool overlaps_host_range(const void* p, size_t bytes);

// Returns CUDA_ERROR_NOT_INITIALIZED unless cuInit succeeded.
CUresult check_ready();

// Whether `graph` is an id cuGraphChildGraphNodeGetGraph returned (owned by its node, not
// destroyable alone; graph_capture.cc). Any thread.
bool graph_owned_by_node(CUgraph graph);

// Tests only: forgets functions, device and host ranges.
void reset_state_for_testing();

}  // namespace gpool::shim
