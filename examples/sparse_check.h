// Shared by the cuSPARSE example programs: CHECK_SPARSE stops with "FAIL: ..." on the first
// cuSPARSE status other than success, data_type<T>/type_name<T> name float and double, and
// DeviceCsr<T> is a device copy of a host CSR matrix with its cuSPARSE descriptor (freed by its
// destructor). Header-only, included as "sparse_check.h" like check.h.
#pragma once

#include <cusparse.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "check.h"

#define CHECK_SPARSE(call)                                                                  \
  do {                                                                                      \
    cusparseStatus_t sparse_status_ = (call);                                               \
    if (sparse_status_ != CUSPARSE_STATUS_SUCCESS)                                          \
      example_fail("%s returned %s (%d) at %s:%d", #call,                                   \
                   cusparseGetErrorName(sparse_status_), static_cast<int>(sparse_status_),  \
                   __FILE__, __LINE__);                                                     \
  } while (0)

template <typename T> cudaDataType data_type();
template <> inline cudaDataType data_type<float>() { return CUDA_R_32F; }
template <> inline cudaDataType data_type<double>() { return CUDA_R_64F; }
template <typename T> const char* type_name();
template <> inline const char* type_name<float>() { return "float"; }
template <> inline const char* type_name<double>() { return "double"; }

// A rows x cols CSR matrix on the device: `offsets` and `columns` are zero-based on the host and
// `base` (0 or 1) is added to every index on the way; `host_values` keeps the values uploaded.
// The descriptor must report the size it was given. An empty matrix still gets one-element
// buffers (cudaMalloc of 0 bytes may give a null pointer, which cuSPARSE refuses).
template <typename T>
struct DeviceCsr {
  int* offsets = nullptr;
  int* columns = nullptr;
  T* values = nullptr;
  cusparseSpMatDescr_t descr = nullptr;
  std::vector<T> host_values;

  DeviceCsr(int rows, int cols, const std::vector<int>& host_offsets, const std::vector<int>& host_columns,
            std::vector<T> vals, int base = 0)
      : host_values(std::move(vals)) {
    std::vector<int> off(host_offsets), col(host_columns);
    for (auto& v : off) v += base;
    for (auto& v : col) v += base;
    const int nnz = static_cast<int>(col.size());
    CHECK(cudaMalloc(&offsets, off.size() * sizeof(int)));
    CHECK(cudaMalloc(&columns, std::max<size_t>(col.size(), 1) * sizeof(int)));
    CHECK(cudaMalloc(&values, std::max<size_t>(host_values.size(), 1) * sizeof(T)));
    CHECK(cudaMemcpy(offsets, off.data(), off.size() * sizeof(int), cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(columns, col.data(), col.size() * sizeof(int), cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(values, host_values.data(), host_values.size() * sizeof(T), cudaMemcpyHostToDevice));
    CHECK_SPARSE(cusparseCreateCsr(&descr, rows, cols, nnz, offsets, columns, values, CUSPARSE_INDEX_32I,
                                   CUSPARSE_INDEX_32I, base ? CUSPARSE_INDEX_BASE_ONE : CUSPARSE_INDEX_BASE_ZERO,
                                   data_type<T>()));
    int64_t r = 0, c = 0, z = 0;
    CHECK_SPARSE(cusparseSpMatGetSize(descr, &r, &c, &z));
    if (r != rows || c != cols || z != nnz)
      example_fail("cusparseSpMatGetSize: %lld x %lld, nnz %lld", (long long)r, (long long)c, (long long)z);
  }
  ~DeviceCsr() {
    cusparseDestroySpMat(descr);
    cudaFree(offsets);
    cudaFree(columns);
    cudaFree(values);
  }
  DeviceCsr(const DeviceCsr&) = delete;
  DeviceCsr& operator=(const DeviceCsr&) = delete;
};
