// streams_events: two streams whose work overlaps, ordered only where it must be. Demonstrates
// pinned host memory (cudaMallocHost and cudaHostAlloc), cudaMemcpyAsync in both directions,
// kernels on non-default streams, cudaEventRecord + cudaStreamWaitEvent for a cross-stream
// dependency, cudaEventSynchronize/cudaEventQuery/cudaStreamQuery and cudaEventElapsedTime.
//
// Stream s0 scales a by 2; stream s1 scales b by 3, then waits for s0's event before it adds the
// two. Without the wait the add could read a before it was scaled.
//
// Build: nvcc -o streams_events streams_events.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./streams_events
#include "check.h"

__global__ void scale(float* x, float factor, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    x[i] *= factor;
}

__global__ void add(const float* a, const float* b, float* c, int n) {
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x)
    c[i] = a[i] + b[i];
}

int main() {
  const int n = 1 << 18;
  const size_t bytes = n * sizeof(float);

  float *h_a = nullptr, *h_b = nullptr, *h_c = nullptr, *h_a_scaled = nullptr;
  CHECK(cudaMallocHost(&h_a, bytes));
  CHECK(cudaMallocHost(&h_a_scaled, bytes));
  CHECK(cudaHostAlloc(&h_b, bytes, cudaHostAllocDefault));
  CHECK(cudaHostAlloc(&h_c, bytes, cudaHostAllocPortable));
  for (int i = 0; i < n; ++i) {
    h_a[i] = static_cast<float>(i % 1000);
    h_b[i] = static_cast<float>((i * 7) % 1000);
    h_c[i] = -1.0f;
    h_a_scaled[i] = -1.0f;
  }

  float *d_a = nullptr, *d_b = nullptr, *d_c = nullptr;
  CHECK(cudaMalloc(&d_a, bytes));
  CHECK(cudaMalloc(&d_b, bytes));
  CHECK(cudaMalloc(&d_c, bytes));

  cudaStream_t s0, s1;
  CHECK(cudaStreamCreate(&s0));
  CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  cudaEvent_t start, a_ready, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreateWithFlags(&a_ready, cudaEventDisableTiming));
  CHECK(cudaEventCreate(&stop));

  CHECK(cudaEventRecord(start, s0));
  CHECK(cudaMemcpyAsync(d_a, h_a, bytes, cudaMemcpyHostToDevice, s0));
  scale<<<64, 256, 0, s0>>>(d_a, 2.0f, n);
  CHECK(cudaGetLastError());
  CHECK(cudaEventRecord(a_ready, s0));
  CHECK(cudaMemcpyAsync(h_a_scaled, d_a, bytes, cudaMemcpyDeviceToHost, s0));

  CHECK(cudaMemcpyAsync(d_b, h_b, bytes, cudaMemcpyHostToDevice, s1));
  scale<<<64, 256, 0, s1>>>(d_b, 3.0f, n);
  CHECK(cudaGetLastError());
  CHECK(cudaStreamWaitEvent(s1, a_ready, 0));
  add<<<64, 256, 0, s1>>>(d_a, d_b, d_c, n);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpyAsync(h_c, d_c, bytes, cudaMemcpyDeviceToHost, s1));
  CHECK(cudaEventRecord(stop, s1));

  CHECK(cudaEventSynchronize(stop));
  CHECK(cudaEventQuery(stop));
  CHECK(cudaStreamSynchronize(s0));
  CHECK(cudaStreamQuery(s0));
  CHECK(cudaStreamQuery(s1));

  float ms = -1.0f;
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  if (!(ms >= 0.0f)) example_fail("cudaEventElapsedTime gave %f ms, expected >= 0", ms);
  // a_ready was created without timing: asking for its elapsed time must fail.
  float unused = 0.0f;
  EXPECT_ERR(cudaEventElapsedTime(&unused, start, a_ready), cudaErrorInvalidResourceHandle);

  for (int i = 0; i < n; ++i) {
    const float a2 = static_cast<float>(i % 1000) * 2.0f;
    const float b3 = static_cast<float>((i * 7) % 1000) * 3.0f;
    if (h_a_scaled[i] != a2) example_fail("a[%d] after scaling = %g, expected %g", i, h_a_scaled[i], a2);
    if (h_c[i] != a2 + b3) example_fail("c[%d] = %g, expected %g", i, h_c[i], a2 + b3);
  }
  std::printf("two streams finished in %.3f ms\n", ms);

  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(a_ready));
  CHECK(cudaEventDestroy(stop));
  CHECK(cudaStreamDestroy(s0));
  CHECK(cudaStreamDestroy(s1));
  CHECK(cudaFree(d_a));
  CHECK(cudaFree(d_b));
  CHECK(cudaFree(d_c));
  CHECK(cudaFreeHost(h_a));
  CHECK(cudaFreeHost(h_a_scaled));
  CHECK(cudaFreeHost(h_b));
  CHECK(cudaFreeHost(h_c));
  return example_pass();
}
