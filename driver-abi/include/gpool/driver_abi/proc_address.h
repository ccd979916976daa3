// The cuGetProcAddress resolution rule as a pure function (section 4.2 of
// cuda-driver-facts.md), for driver-abi's cuGetProcAddress/_v2 and for tests and tools.
//
// Thread safety: pure; call from any thread.
#pragma once

#include <cuda.h>

namespace gpool::abi {

struct ProcLookup {
  void* address;        // the exported entry point; null when not found
  const char* symbol;   // its name, e.g. "cuMemcpyHtoD_v2_ptds"; null when not found
  CUdriverProcAddressQueryResult status;  // SUCCESS, VERSION_NOT_SUFFICIENT or SYMBOL_NOT_FOUND
};

// Resolves `name` as cudart asks for it (base name, e.g. "cuMemAlloc") at ABI `version` with
// cuGetProcAddress `flags`. Does not check the driver version or unknown flag bits; the entry
// points do. An empty or null name is SYMBOL_NOT_FOUND.
ProcLookup resolve_proc_address(const char* name, int version, cuuint64_t flags);

}  // namespace gpool::abi
