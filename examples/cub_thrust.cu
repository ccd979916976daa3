// cub_thrust: sorting and scanning with Thrust and CUB, the libraries inside much CUDA C++ (and
// PyTorch). Their kernels use inline PTX (shfl.sync.up.b32 with a predicate output, bmsk,
// WARP_SZ, prmt, ...) that nvcc passes through unchanged. Small sizes: the emulator interprets.
//   thrust::sort (radix sort of keys), thrust::sort_by_key, thrust::inclusive_scan,
//   cub::DeviceRadixSort::SortPairs, cub::DeviceScan::ExclusiveSum, cub::DeviceReduce::Sum
//
// Build: nvcc -o cub_thrust cub_thrust.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./cub_thrust
#include "check.h"

#include <cub/cub.cuh>
#include <thrust/device_vector.h>
#include <thrust/host_vector.h>
#include <thrust/scan.h>
#include <thrust/sort.h>

#include <algorithm>
#include <numeric>
#include <vector>

int main() {
  const int n = 3000;
  std::vector<int> keys(n);
  std::vector<unsigned> vals(n);
  ExampleRng rng(99);
  for (int i = 0; i < n; ++i) {
    keys[i] = rng.range(-50000, 50000);
    vals[i] = static_cast<unsigned>(i);
  }

  // Thrust: sort, sort_by_key, inclusive_scan.
  {
    thrust::device_vector<int> d(keys.begin(), keys.end());
    thrust::sort(d.begin(), d.end());
    thrust::host_vector<int> got = d;
    std::vector<int> want = keys;
    std::sort(want.begin(), want.end());
    for (int i = 0; i < n; ++i)
      if (got[i] != want[i]) example_fail("thrust::sort: element %d is %d, expected %d", i, got[i], want[i]);

    thrust::device_vector<int> k(keys.begin(), keys.end());
    thrust::device_vector<unsigned> v(vals.begin(), vals.end());
    thrust::sort_by_key(k.begin(), k.end(), v.begin());
    thrust::host_vector<unsigned> perm = v;
    for (int i = 0; i < n; ++i)
      if (keys[perm[i]] != want[i]) example_fail("thrust::sort_by_key: value %d carries key %d, expected %d", i, keys[perm[i]], want[i]);

    thrust::device_vector<int> s(keys.begin(), keys.end());
    thrust::inclusive_scan(s.begin(), s.end(), s.begin());
    thrust::host_vector<int> scanned = s;
    long long acc = 0;
    for (int i = 0; i < n; ++i) {
      acc += keys[i];
      if (scanned[i] != static_cast<int>(acc)) example_fail("thrust::inclusive_scan: element %d is %d, expected %lld", i, scanned[i], acc);
    }
  }

  // CUB device-wide primitives with explicit temporary storage.
  {
    int *d_keys_in, *d_keys_out;
    unsigned *d_vals_in, *d_vals_out;
    CHECK(cudaMalloc(&d_keys_in, n * sizeof(int)));
    CHECK(cudaMalloc(&d_keys_out, n * sizeof(int)));
    CHECK(cudaMalloc(&d_vals_in, n * sizeof(unsigned)));
    CHECK(cudaMalloc(&d_vals_out, n * sizeof(unsigned)));
    CHECK(cudaMemcpy(d_keys_in, keys.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    CHECK(cudaMemcpy(d_vals_in, vals.data(), n * sizeof(unsigned), cudaMemcpyHostToDevice));
    size_t temp_bytes = 0;
    CHECK(cub::DeviceRadixSort::SortPairs(nullptr, temp_bytes, d_keys_in, d_keys_out, d_vals_in, d_vals_out, n));
    void* temp = nullptr;
    CHECK(cudaMalloc(&temp, temp_bytes));
    CHECK(cub::DeviceRadixSort::SortPairs(temp, temp_bytes, d_keys_in, d_keys_out, d_vals_in, d_vals_out, n));
    CHECK(cudaDeviceSynchronize());
    std::vector<int> sorted(n);
    std::vector<unsigned> perm(n);
    CHECK(cudaMemcpy(sorted.data(), d_keys_out, n * sizeof(int), cudaMemcpyDeviceToHost));
    CHECK(cudaMemcpy(perm.data(), d_vals_out, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
    std::vector<int> want = keys;
    std::stable_sort(want.begin(), want.end());
    for (int i = 0; i < n; ++i) {
      if (sorted[i] != want[i]) example_fail("cub::DeviceRadixSort: key %d is %d, expected %d", i, sorted[i], want[i]);
      if (keys[perm[i]] != sorted[i]) example_fail("cub::DeviceRadixSort: value %d does not follow its key", i);
      if (i > 0 && sorted[i] == sorted[i - 1] && perm[i] < perm[i - 1]) example_fail("cub::DeviceRadixSort is not stable at %d", i);
    }
    CHECK(cudaFree(temp));

    temp_bytes = 0;
    CHECK(cub::DeviceScan::ExclusiveSum(nullptr, temp_bytes, d_vals_in, d_vals_out, n));
    CHECK(cudaMalloc(&temp, temp_bytes));
    CHECK(cub::DeviceScan::ExclusiveSum(temp, temp_bytes, d_vals_in, d_vals_out, n));
    CHECK(cudaDeviceSynchronize());
    std::vector<unsigned> scan(n);
    CHECK(cudaMemcpy(scan.data(), d_vals_out, n * sizeof(unsigned), cudaMemcpyDeviceToHost));
    unsigned acc = 0;
    for (int i = 0; i < n; ++i) {
      if (scan[i] != acc) example_fail("cub::DeviceScan::ExclusiveSum: element %d is %u, expected %u", i, scan[i], acc);
      acc += vals[i];
    }
    CHECK(cudaFree(temp));

    int* d_sum;
    CHECK(cudaMalloc(&d_sum, sizeof(int)));
    temp_bytes = 0;
    CHECK(cub::DeviceReduce::Sum(nullptr, temp_bytes, d_keys_in, d_sum, n));
    CHECK(cudaMalloc(&temp, temp_bytes));
    CHECK(cub::DeviceReduce::Sum(temp, temp_bytes, d_keys_in, d_sum, n));
    int sum = 0;
    CHECK(cudaMemcpy(&sum, d_sum, sizeof(int), cudaMemcpyDeviceToHost));
    const long long want_sum = std::accumulate(keys.begin(), keys.end(), 0LL);
    if (sum != static_cast<int>(want_sum)) example_fail("cub::DeviceReduce::Sum = %d, expected %lld", sum, want_sum);
    CHECK(cudaFree(temp));
    CHECK(cudaFree(d_sum));
    CHECK(cudaFree(d_keys_in));
    CHECK(cudaFree(d_keys_out));
    CHECK(cudaFree(d_vals_in));
    CHECK(cudaFree(d_vals_out));
  }
  return example_pass();
}
