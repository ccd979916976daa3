// Memory-pool attributes as the wire carries them (calls.toml MemPoolSetAttribute /
// MemPoolGetAttribute): the value is one 64-bit argument, which the driver reads as an int for
// some attributes and as a cuuint64_t for the others. Shared by the client shim and the server so
// both sides agree on which attribute is which; anything else is CUDA_ERROR_INVALID_VALUE there.
// Thread safety: pure functions.
#pragma once

#include <cuda.h>

namespace gpool::remote {

// The attributes whose value is an int (0 or 1).
inline bool pool_attribute_is_int(CUmemPool_attribute a) {
  return a == CU_MEMPOOL_ATTR_REUSE_FOLLOW_EVENT_DEPENDENCIES ||
         a == CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC ||
         a == CU_MEMPOOL_ATTR_REUSE_ALLOW_INTERNAL_DEPENDENCIES;
}

// The attributes whose value is a cuuint64_t (bytes).
inline bool pool_attribute_is_u64(CUmemPool_attribute a) {
  return a == CU_MEMPOOL_ATTR_RELEASE_THRESHOLD || a == CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT ||
         a == CU_MEMPOOL_ATTR_RESERVED_MEM_HIGH || a == CU_MEMPOOL_ATTR_USED_MEM_CURRENT ||
         a == CU_MEMPOOL_ATTR_USED_MEM_HIGH;
}

}  // namespace gpool::remote
