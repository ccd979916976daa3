// host_func: host code that runs in stream order. Demonstrates cudaLaunchHostFunc and
// cudaStreamAddCallback between kernels and async copies on one stream: each host function must
// see the results of everything enqueued before it and nothing enqueued after it.
//
// Build: nvcc -o host_func host_func.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./host_func
#include "check.h"

#include <atomic>

__global__ void add_to_all(int* x, int value, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += value;
}

struct Observation {
  const int* pinned = nullptr;  // the host copy the function inspects
  int n = 0;
  int expected = 0;        // value every element must have when the function runs
  std::atomic<int>* order = nullptr;
  int seen_at = -1;        // position in the run order
  bool values_ok = false;
  cudaError_t status = cudaErrorUnknown;  // for the callback form
};

static bool all_equal(const int* x, int n, int v) {
  for (int i = 0; i < n; ++i)
    if (x[i] != v) return false;
  return true;
}

static void CUDART_CB host_function(void* data) {
  auto* obs = static_cast<Observation*>(data);
  obs->seen_at = obs->order->fetch_add(1);
  obs->values_ok = all_equal(obs->pinned, obs->n, obs->expected);
}

static void CUDART_CB stream_callback(cudaStream_t, cudaError_t status, void* data) {
  auto* obs = static_cast<Observation*>(data);
  obs->seen_at = obs->order->fetch_add(1);
  obs->status = status;
  obs->values_ok = all_equal(obs->pinned, obs->n, obs->expected);
}

int main() {
  const int n = 4096;
  int *d_x = nullptr, *h_first = nullptr, *h_second = nullptr;
  CHECK(cudaMalloc(&d_x, n * sizeof(int)));
  CHECK(cudaMallocHost(&h_first, n * sizeof(int)));
  CHECK(cudaMallocHost(&h_second, n * sizeof(int)));
  CHECK(cudaMemset(d_x, 0, n * sizeof(int)));

  cudaStream_t stream;
  CHECK(cudaStreamCreate(&stream));
  std::atomic<int> order{0};
  Observation first, second;
  first.pinned = h_first;
  first.n = n;
  first.expected = 5;
  first.order = &order;
  second.pinned = h_second;
  second.n = n;
  second.expected = 12;
  second.order = &order;

  add_to_all<<<(n + 255) / 256, 256, 0, stream>>>(d_x, 5, n);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpyAsync(h_first, d_x, n * sizeof(int), cudaMemcpyDeviceToHost, stream));
  CHECK(cudaLaunchHostFunc(stream, host_function, &first));
  add_to_all<<<(n + 255) / 256, 256, 0, stream>>>(d_x, 7, n);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpyAsync(h_second, d_x, n * sizeof(int), cudaMemcpyDeviceToHost, stream));
  CHECK(cudaStreamAddCallback(stream, stream_callback, &second, 0));
  CHECK(cudaStreamSynchronize(stream));

  if (first.seen_at != 0 || second.seen_at != 1)
    example_fail("host functions ran in order %d, %d; expected 0, 1", first.seen_at, second.seen_at);
  if (!first.values_ok) example_fail("cudaLaunchHostFunc ran before the first kernel's copy finished");
  if (!second.values_ok) example_fail("the stream callback ran before the second kernel's copy finished");
  if (second.status != cudaSuccess)
    example_fail("the stream callback got status %s", cudaGetErrorName(second.status));
  if (!all_equal(h_first, n, 5)) example_fail("the first copy was overwritten by later work");

  CHECK(cudaStreamDestroy(stream));
  CHECK(cudaFree(d_x));
  CHECK(cudaFreeHost(h_first));
  CHECK(cudaFreeHost(h_second));
  return example_pass();
}
