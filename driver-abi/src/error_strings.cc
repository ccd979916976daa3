// cuGetErrorName / cuGetErrorString for every CUresult of cuda.h (generated error_table.inc).
// The descriptions are the first sentence of cuda.h's documentation of each value.
// Unknown values: *pStr = NULL and CUDA_ERROR_INVALID_VALUE, as the driver documents.
#include "gpool/driver_abi/backend.h"

namespace {

struct ErrorText {
  CUresult value;
  const char* name;
  const char* description;
};

constexpr ErrorText kErrors[] = {
#define GPOOL_CU_ERROR(value, name, description) {static_cast<CUresult>(value), #name, description},
#include "error_table.inc"
#undef GPOOL_CU_ERROR
};

const ErrorText* find(CUresult error) {
  for (const ErrorText& e : kErrors) {
    if (e.value == error) return &e;
  }
  return nullptr;
}

}  // namespace

extern "C" __attribute__((visibility("default"))) CUresult cuGetErrorName(CUresult error,
                                                                          const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* e = find(error);
  *pStr = e != nullptr ? e->name : nullptr;
  return e != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" __attribute__((visibility("default"))) CUresult cuGetErrorString(CUresult error,
                                                                            const char** pStr) {
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* e = find(error);
  *pStr = e != nullptr ? e->description : nullptr;
  return e != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
