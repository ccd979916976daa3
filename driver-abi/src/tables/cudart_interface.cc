// CUDART_INTERFACE 6bd5fb6c5bf4e74a8987d93912fd9df9: 13 entries, slot 0 = 104 (facts 2.1).
//   1  CUresult (CUmodule*, const void* fatbinc_wrapper)           -> cuModuleLoadData
//   2  CUresult (CUcontext*, CUdevice)  primary context, not retained -> backend hook
//   6  CUresult (CUmodule*, const void* wrapper, void*, void*, unsigned) -> cuModuleLoadData
//   7  void (size_t)                                                 no-op
//   8  CUresult (const void* fatbin, CUmodule*, void*, void*, unsigned) -> cuModuleLoadFatBinary
//   12 CUresult (void)  "load compilers"                             returns 0
//   others: stub returning 0.
#include "gpool/driver_abi/backend.h"
#include "tables.h"

namespace gpool::abi::tables {
namespace {

CUresult load_wrapper(CUmodule* out, const void* wrapper) {
  if (out == nullptr || wrapper == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return gpool_impl_cuModuleLoadData(out, wrapper);
}

CUresult primary_context(CUcontext* out, CUdevice dev) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return gpool_backend_primary_context(dev, out);
}

CUresult load_wrapper_ex(CUmodule* out, const void* wrapper, void* a3, void* a4, unsigned a5) {
  if (a3 != nullptr || a4 != nullptr || a5 != 0) {
    return unimplemented("CUDART_INTERFACE[6] with non-null extra arguments");
  }
  return load_wrapper(out, wrapper);
}

void no_op(size_t) {}

CUresult load_fatbin(const void* fatbin, CUmodule* out, void* a3, void* a4, unsigned a5) {
  if (a3 != nullptr || a4 != nullptr || a5 != 0) {
    return unimplemented("CUDART_INTERFACE[8] with non-null extra arguments");
  }
  if (out == nullptr || fatbin == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return gpool_impl_cuModuleLoadFatBinary(out, fatbin);
}

CUresult load_compilers() { return CUDA_SUCCESS; }

template <typename F>
const void* fn(F* f) {
  return reinterpret_cast<const void*>(f);
}

const void* const kTable[13] = {
    reinterpret_cast<const void*>(uintptr_t{13 * sizeof(void*)}),
    fn(load_wrapper),
    fn(primary_context),
    fn(stub_return_zero),
    fn(stub_return_zero),
    fn(stub_return_zero),
    fn(load_wrapper_ex),
    fn(no_op),
    fn(load_fatbin),
    fn(stub_return_zero),
    fn(stub_return_zero),
    fn(stub_return_zero),
    fn(load_compilers),
};

}  // namespace

const void* cudart_interface() { return kTable; }

}  // namespace gpool::abi::tables
