// Managed memory attached to streams (cudaStreamAttachMemAsync), as cuda-samples
// UnifiedMemoryPerf uses it on a device without concurrent managed access: each stream works
// on its own buffers, attached to that stream alone, so the host may fill one stream's buffer
// while a kernel of another stream runs; a result attached back to the host is read once its
// stream is synchronised. Checks every value on the host and prints PASS.
#include <cstdio>

#include "check.h"

__global__ void square_plus(const int* in, int* out, int n, int add) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = in[i] * in[i] + add;
}

int main() {
  int managed_ok = 0;
  CHECK(cudaDeviceGetAttribute(&managed_ok, cudaDevAttrManagedMemory, 0));
  if (!managed_ok) example_fail("the device reports no managed memory support");

  constexpr int kStreams = 2, n = 3000;
  cudaStream_t streams[kStreams];
  int* in[kStreams];
  int* out[kStreams];
  for (int s = 0; s < kStreams; ++s) {
    CHECK(cudaStreamCreateWithFlags(&streams[s], cudaStreamNonBlocking));
    // Allocated host-attached: no kernel may use them until they are attached to a stream.
    CHECK(cudaMallocManaged(&in[s], n * sizeof(int), cudaMemAttachHost));
    CHECK(cudaMallocManaged(&out[s], n * sizeof(int), cudaMemAttachHost));
    CHECK(cudaStreamAttachMemAsync(streams[s], in[s], 0, cudaMemAttachSingle));
    CHECK(cudaStreamAttachMemAsync(streams[s], out[s], 0, cudaMemAttachSingle));
  }
  for (int s = 0; s < kStreams; ++s) CHECK(cudaStreamSynchronize(streams[s]));

  for (int round = 0; round < 3; ++round) {
    // Stream 0's input, then its kernel; stream 1's input is filled while that kernel may run.
    for (int i = 0; i < n; ++i) in[0][i] = i + round;
    square_plus<<<(n + 255) / 256, 256, 0, streams[0]>>>(in[0], out[0], n, round);
    CHECK(cudaGetLastError());
    for (int i = 0; i < n; ++i) in[1][i] = 2 * i - round;
    square_plus<<<(n + 255) / 256, 256, 0, streams[1]>>>(in[1], out[1], n, -round);
    CHECK(cudaGetLastError());
    for (int s = 0; s < kStreams; ++s) {
      CHECK(cudaStreamSynchronize(streams[s]));
      for (int i = 0; i < n; ++i) {
        const int x = s == 0 ? i + round : 2 * i - round;
        const int want = x * x + (s == 0 ? round : -round);
        if (out[s][i] != want) example_fail("round %d stream %d out[%d] = %d, expected %d", round, s, i, out[s][i], want);
      }
    }
  }

  // A result attached back to the host stays the host's while the other stream works.
  CHECK(cudaStreamAttachMemAsync(streams[0], out[0], 0, cudaMemAttachHost));
  CHECK(cudaStreamSynchronize(streams[0]));
  square_plus<<<(n + 255) / 256, 256, 0, streams[1]>>>(in[1], out[1], n, 0);
  CHECK(cudaGetLastError());
  long long sum = 0;
  for (int i = 0; i < n; ++i) sum += out[0][i];
  CHECK(cudaStreamSynchronize(streams[1]));
  long long want = 0;
  for (int i = 0; i < n; ++i) want += static_cast<long long>(i + 2) * (i + 2) + 2;
  if (sum != want) example_fail("host-attached result sums to %lld, expected %lld", sum, want);
  if (out[1][5] != 64) example_fail("out[1][5] = %d, expected 64", out[1][5]);  // (2 * 5 - 2)^2

  // What the driver refuses: a single-stream attachment to the NULL stream, and no flag.
  if (cudaStreamAttachMemAsync(nullptr, in[0], 0, cudaMemAttachSingle) != cudaErrorInvalidValue) {
    example_fail("attaching to the NULL stream alone was not refused");
  }
  if (cudaStreamAttachMemAsync(streams[0], in[0], 0, 0) != cudaErrorInvalidValue) {
    example_fail("an attachment without a flag was not refused");
  }

  for (int s = 0; s < kStreams; ++s) {
    CHECK(cudaFree(in[s]));
    CHECK(cudaFree(out[s]));
    CHECK(cudaStreamDestroy(streams[s]));
  }
  std::printf("PASS\n");
  return 0;
}
