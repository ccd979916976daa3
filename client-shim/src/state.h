// Client-side state of the shim: handle ids, functions with their parameter layouts, the
// device allocations this process made (for unified-address copies and pointer attributes),
// page-locked host allocations, and the one context (the primary context of device 0).
//
// Handles given to the application are client-chosen ids (no round trip to create): the top
// 16 bits say the kind, so a stream id can never be mistaken for an event id locally; the
// server checks every id against the session's own tables anyway.
//
// Ownership: process-wide, never destroyed. Thread safety: every function locks internally.
#pragma once

#include <cuda.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "session.h"

namespace gpool::shim {

// Kind tags in the top 16 bits of a client id.
enum class IdKind : uint16_t {
  kStream = 0x5354, kEvent = 0x4556, kModule = 0x4d4f, kLibrary = 0x4c49, kKernel = 0x4b45,
  kFunction = 0x4655,
};

uint64_t new_id(IdKind kind);
bool id_is(uint64_t id, IdKind kind);

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
  uint32_t max_threads = 0;       // per block (launch checks, synchronous like the driver's)
  uint32_t max_dynamic_smem = 0;  // bytes; raised by cuFuncSetAttribute
};

// The function with this id (either kind), or nullopt.
std::optional<FunctionInfo> find_function(uint64_t id);
void add_function(FunctionInfo f);
// The id already made for (owner, name), or 0.
uint64_t function_by_name(uint64_t owner, const std::string& name);
void drop_functions_of(uint64_t owner);

// Device ranges this process knows (allocations and module globals).
void add_device_range(CUdeviceptr p, size_t bytes, bool allocation);
bool remove_allocation(CUdeviceptr p);
// The known range containing p, or false.
bool find_device_range(CUdeviceptr p, CUdeviceptr* base, size_t* bytes);

// Page-locked host allocations and registrations (kept locally: nothing to pin remotely).
void add_host_range(void* p, size_t bytes, unsigned flags);
bool remove_host_range(void* p);
bool find_host_range(const void* p, void** base, size_t* bytes, unsigned* flags);

// The one context: the primary context of device 0.
CUcontext primary_context();
// Returns CUDA_ERROR_NOT_INITIALIZED unless cuInit succeeded.
CUresult check_ready();

}  // namespace gpool::shim
