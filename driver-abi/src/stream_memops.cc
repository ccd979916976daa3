// gpool::abi::check_stream_memops: the kinds, flags and counts of stream memory operations,
// one answer for the emulator and the client shim (stream_memops.h).
#include "gpool/driver_abi/stream_memops.h"

#include <cstring>

namespace gpool::abi {
namespace {

constexpr unsigned kWaitKinds = 0x3;  // GEQ, EQ, AND, NOR

CUresult check_one(const CUstreamBatchMemOpParams& p, MemOpApi api,
                   const std::function<CUresult(CUdeviceptr, unsigned)>& check_address) {
  // The kind as the integer the caller stored: loading an unknown value as the enum is undefined.
  unsigned kind = 0;
  std::memcpy(&kind, &p.operation, sizeof kind);
  switch (kind) {
    case CU_STREAM_MEM_OP_WAIT_VALUE_32:
    case CU_STREAM_MEM_OP_WAIT_VALUE_64:
      if (p.waitValue.flags & ~(kWaitKinds | CU_STREAM_WAIT_VALUE_FLUSH)) return CUDA_ERROR_INVALID_VALUE;
      return check_address(p.waitValue.address, memop_width(kind));
    case CU_STREAM_MEM_OP_WRITE_VALUE_32:
    case CU_STREAM_MEM_OP_WRITE_VALUE_64: {
      const unsigned allowed = api == MemOpApi::V1 ? CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER : 0;
      if (p.writeValue.flags & ~allowed) return CUDA_ERROR_INVALID_VALUE;
      return check_address(p.writeValue.address, memop_width(kind));
    }
    case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES:
      return p.flushRemoteWrites.flags == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
    case CU_STREAM_MEM_OP_BARRIER:
      if (api == MemOpApi::V1) return CUDA_ERROR_INVALID_VALUE;
      return p.memoryBarrier.flags == CU_STREAM_MEMORY_BARRIER_TYPE_SYS ||
                     p.memoryBarrier.flags == CU_STREAM_MEMORY_BARRIER_TYPE_GPU
                 ? CUDA_SUCCESS
                 : CUDA_ERROR_INVALID_VALUE;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

}  // namespace

unsigned memop_width(unsigned kind) {
  return kind == CU_STREAM_MEM_OP_WAIT_VALUE_64 || kind == CU_STREAM_MEM_OP_WRITE_VALUE_64 ? 8 : 4;
}

CUstreamBatchMemOpParams single_memop(CUstreamBatchMemOpType kind, CUdeviceptr addr, uint64_t value,
                                      unsigned flags) {
  CUstreamBatchMemOpParams p{};
  p.operation = kind;
  const uint64_t v = memop_width(kind) == 4 ? static_cast<uint32_t>(value) : value;
  if (kind == CU_STREAM_MEM_OP_WAIT_VALUE_32 || kind == CU_STREAM_MEM_OP_WAIT_VALUE_64) {
    p.waitValue.address = addr;
    p.waitValue.value64 = v;
    p.waitValue.flags = flags;
  } else {
    p.writeValue.address = addr;
    p.writeValue.value64 = v;
    p.writeValue.flags = flags;
  }
  return p;
}

CUresult check_stream_memops(const CUstreamBatchMemOpParams* ops, unsigned count, MemOpApi api,
                             const std::function<CUresult(CUdeviceptr, unsigned)>& check_address) {
  if (count == 0 || count > kMaxMemOps || ops == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < count; ++i) {
    if (CUresult r = check_one(ops[i], api, check_address); r != CUDA_SUCCESS) return r;
  }
  return CUDA_SUCCESS;
}

}  // namespace gpool::abi
