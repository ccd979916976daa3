// cuGetProcAddress / cuGetProcAddress_v2: resolution of (name, version, flags) to an exported
// entry point, exactly as section 4.2 of cuda-driver-facts.md describes:
//
//   plain(N, ver) = the plain variant of N with the greatest introduction version <= ver
//   flags & PER_THREAD_DEFAULT_STREAM and N has per-thread variants with some V' <= ver:
//       answer = the per-thread variant with the greatest such V' (= plain(N, V') + its suffix,
//                precomputed by the generator)
//   otherwise (flags 0 = DEFAULT and 1 = LEGACY_STREAM alike): answer = plain(N, ver)
//   no variant <= ver: not found, status VERSION_NOT_SUFFICIENT (N known) or SYMBOL_NOT_FOUND
//
// Not found always sets *pfn = NULL and returns CUDA_ERROR_NOT_FOUND. A version above the
// driver's own (cuDriverGetVersion) and unknown flag bits are CUDA_ERROR_INVALID_VALUE.
#include <algorithm>
#include <cstring>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/proc_address.h"
#include "exports_registry.h"
#include "proc_table.h"

extern "C" CUresult gpool_unimpl_cuDriverGetVersion(int* driverVersion);

namespace gpool::abi {
namespace {

constexpr cuuint64_t kKnownFlags = CU_GET_PROC_ADDRESS_LEGACY_STREAM |
                                   CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;

int driver_version() {
  if (!implemented(reinterpret_cast<const void*>(&gpool_impl_cuDriverGetVersion),
                   reinterpret_cast<const void*>(&gpool_unimpl_cuDriverGetVersion))) {
    return CUDA_VERSION;
  }
  int v = 0;
  if (gpool_impl_cuDriverGetVersion(&v) != CUDA_SUCCESS || v <= 0) return CUDA_VERSION;
  return v;
}

}  // namespace

ProcLookup resolve_proc_address(const char* name, int version, cuuint64_t flags) {
  ProcLookup r{nullptr, nullptr, CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND};
  if (name == nullptr || *name == '\0') return r;
  const ProcTableRow* begin = kProcTable;
  const ProcTableRow* end = kProcTable + kProcTableSize;
  auto lo = std::lower_bound(begin, end, name, [](const ProcTableRow& row, const char* n) {
    return std::strcmp(row.base, n) < 0;
  });
  auto hi = lo;
  while (hi != end && std::strcmp(hi->base, name) == 0) ++hi;
  if (lo == hi) return r;  // unknown name

  const bool per_thread = (flags & CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM) != 0;
  const ProcTableRow* best_plain = nullptr;
  const ProcTableRow* best_pt = nullptr;
  for (auto it = lo; it != hi; ++it) {  // rows are sorted by version
    if (it->version > version) continue;
    if (it->per_thread == PerThread::kNo) {
      best_plain = it;
    } else {
      best_pt = it;
    }
  }
  const ProcTableRow* chosen = (per_thread && best_pt != nullptr) ? best_pt : best_plain;
  if (chosen == nullptr) {
    r.status = CU_GET_PROC_ADDRESS_VERSION_NOT_SUFFICIENT;
    return r;
  }
  if (chosen->address == nullptr) return r;  // a variant this driver does not export
  r.address = chosen->address;
  r.symbol = chosen->symbol;
  r.status = CU_GET_PROC_ADDRESS_SUCCESS;
  return r;
}

namespace {

CUresult get_proc_address(const char* symbol, void** pfn, int version, cuuint64_t flags,
                          CUdriverProcAddressQueryResult* status) {
  if (status != nullptr) *status = CU_GET_PROC_ADDRESS_SYMBOL_NOT_FOUND;
  if (pfn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  if (symbol == nullptr || (flags & ~kKnownFlags) != 0) return CUDA_ERROR_INVALID_VALUE;
  if (version > driver_version()) {
    gpool::log::logger("abi").debug(
        "cuGetProcAddress: {} asked at version {}, above this driver's version", symbol, version);
    return CUDA_ERROR_INVALID_VALUE;
  }
  ProcLookup r = resolve_proc_address(symbol, version, flags);
  if (status != nullptr) *status = r.status;
  if (r.address == nullptr) {
    gpool::log::logger("abi").debug("cuGetProcAddress: {}@{} flags {} not found", symbol,
                                    version, flags);
    return CUDA_ERROR_NOT_FOUND;
  }
  *pfn = r.address;
  return CUDA_SUCCESS;
}

}  // namespace
}  // namespace gpool::abi

extern "C" __attribute__((visibility("default"))) CUresult cuGetProcAddress_v2(
    const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags,
    CUdriverProcAddressQueryResult* symbolStatus) {
  return gpool::abi::get_proc_address(symbol, pfn, cudaVersion, flags, symbolStatus);
}

extern "C" __attribute__((visibility("default"))) CUresult cuGetProcAddress(
    const char* symbol, void** pfn, int cudaVersion, cuuint64_t flags) {
  return gpool::abi::get_proc_address(symbol, pfn, cudaVersion, flags, nullptr);
}
