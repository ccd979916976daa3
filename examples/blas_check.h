// Shared by the cuBLAS example programs: CHECK_BLAS stops with "FAIL: ..." on the first cuBLAS
// status other than success, and Dev<T> is a device copy of a host vector (freed by its
// destructor; get() copies it back). Header-only, included as "blas_check.h" like check.h.
#pragma once

#include <cublas_v2.h>

#include <vector>

#include "check.h"

#define CHECK_BLAS(call)                                                                    \
  do {                                                                                      \
    cublasStatus_t blas_status_ = (call);                                                   \
    if (blas_status_ != CUBLAS_STATUS_SUCCESS)                                              \
      example_fail("%s returned %s at %s:%d", #call, cublasGetStatusName(blas_status_),     \
                   __FILE__, __LINE__);                                                     \
  } while (0)

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(const std::vector<T>& h) : n(h.size()) {
    CHECK(cudaMalloc(&p, n * sizeof(T)));
    CHECK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> get() const {
    std::vector<T> h(n);
    CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
};
