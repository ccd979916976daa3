// cdp_multi: several device-side launches per block (CUDA 12 CDP2):
//   1. thread 0 of each of 6 blocks launches 4 children one after another into the block's
//      default stream; child k computes x = 3x + k over the block's segment, so the result is
//      only right if the children ran in launch order, each after the previous one;
//   2. 8 threads of each block each launch a child into a stream of their own (created and
//      destroyed on the device), ordered after an event recorded on another stream; each child
//      uses dynamic shared memory and writes its own slot;
//   3. a tail launch per block sums the block's segment after all of the grid's other work;
//   4. errors come back to the launching thread: an oversized block is
//      cudaErrorInvalidConfiguration, and with cudaLimitDevRuntimePendingLaunchCount set to 16,
//      a block launching 40 children gets at least 16 launches and cudaErrorLaunchPendingCountExceeded
//      for the others (on the emulator exactly 16 and 24: children start after their parent grid);
//   5. device-side cudaMemcpyAsync and cudaMemsetAsync in the block's default stream run in
//      order with its launches: a copy of the segment made after the 4 steps holds their result,
//      and a memset before the steps is overwritten by them;
//   6. device-side cudaMalloc/cudaFree, as cuda-samples' cdpBezierTessellation uses them: each
//      thread allocates a buffer whose size depends on its index and launches a child to fill it;
//      a second kernel reads the buffers back and frees them.
//
// Build: nvcc -rdc=true -o cdp_multi cdp_multi.cu -lcudadevrt
// Run:   LD_LIBRARY_PATH=build/emulator ./cdp_multi
#include "check.h"

#include <cstring>
#include <vector>

constexpr int kBlocks = 6;
constexpr int kSeg = 96;
constexpr int kSteps = 4;
constexpr int kStreams = 8;

__global__ void step(int* seg, int k) {
  for (int i = threadIdx.x; i < kSeg; i += blockDim.x) seg[i] = 3 * seg[i] + k;
}

__global__ void fill_slot(int* slot, int value) {
  extern __shared__ int scratch[];
  scratch[threadIdx.x] = value + threadIdx.x;
  __syncthreads();
  if (threadIdx.x == 0) {
    int sum = 0;
    for (int i = 0; i < blockDim.x; ++i) sum += scratch[i];
    *slot = sum;
  }
}

__global__ void sum_segment(const int* seg, long long* out) {
  if (threadIdx.x == 0) {
    long long s = 0;
    for (int i = 0; i < kSeg; ++i) s += seg[i];
    *out = s;
  }
}

__global__ void parent(int* data, int* slots, long long* sums, int* errors, int* copies, int* marks) {
  int* seg = data + blockIdx.x * kSeg;
  if (threadIdx.x == 0) {
    // 0x01010101 in every int of the block's marks; the second copy below overwrites the first half.
    if (cudaMemsetAsync(marks + blockIdx.x * kSeg, 1, kSeg * sizeof(int), 0) != cudaSuccess) atomicAdd(errors, 1);
    for (int k = 0; k < kSteps; ++k) step<<<1, 32>>>(seg, k);
    if (cudaMemcpyAsync(copies + blockIdx.x * kSeg, seg, kSeg * sizeof(int), cudaMemcpyDeviceToDevice, 0) !=
        cudaSuccess)
      atomicAdd(errors, 1);
    if (cudaMemcpyAsync(marks + blockIdx.x * kSeg, copies + blockIdx.x * kSeg, kSeg / 2 * sizeof(int),
                        cudaMemcpyDefault, 0) != cudaSuccess)
      atomicAdd(errors, 1);
    sum_segment<<<1, 32, 0, cudaStreamTailLaunch>>>(seg, sums + blockIdx.x);
    if (cudaGetLastError() != cudaSuccess) atomicAdd(errors, 1);
  }
  if (threadIdx.x < kStreams) {
    cudaStream_t s, other;
    cudaEvent_t e;
    bool ok = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking) == cudaSuccess &&
              cudaStreamCreateWithFlags(&other, cudaStreamNonBlocking) == cudaSuccess &&
              cudaEventCreateWithFlags(&e, cudaEventDisableTiming) == cudaSuccess;
    ok = ok && cudaEventRecord(e, other) == cudaSuccess && cudaStreamWaitEvent(s, e, 0) == cudaSuccess;
    int t = 16 + threadIdx.x;
    fill_slot<<<1, t, t * sizeof(int), s>>>(slots + blockIdx.x * kStreams + threadIdx.x, 100 * blockIdx.x);
    ok = ok && cudaGetLastError() == cudaSuccess;
    ok = ok && cudaEventDestroy(e) == cudaSuccess && cudaStreamDestroy(s) == cudaSuccess &&
         cudaStreamDestroy(other) == cudaSuccess;
    if (!ok) atomicAdd(errors, 1);
  }
  if (threadIdx.x == 40) {
    step<<<1, 2048>>>(seg, 0);  // more threads than a block may have
    if (cudaPeekAtLastError() != cudaErrorInvalidConfiguration) atomicAdd(errors, 100);
    if (cudaGetLastError() != cudaErrorInvalidConfiguration || cudaGetLastError() != cudaSuccess)
      atomicAdd(errors, 100);
  }
}

__global__ void noop() {}

__global__ void count_pending(int* ok, int* refused, int* other) {
  for (int i = 0; i < 40; ++i) {
    noop<<<1, 1, 0, cudaStreamFireAndForget>>>();
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) atomicAdd(ok, 1);
    else if (e == cudaErrorLaunchPendingCountExceeded) atomicAdd(refused, 1);
    else atomicAdd(other, 1);
  }
}

struct Line {
  float* values;
  int count;
};

__global__ void fill_line(float* values, int count, int line) {
  for (int i = threadIdx.x; i < count; i += blockDim.x) values[i] = line + 0.5f * i;
}

__global__ void tessellate(Line* lines, int n, int* errors) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  lines[i].count = 4 + 3 * i;
  if (cudaMalloc(reinterpret_cast<void**>(&lines[i].values), lines[i].count * sizeof(float)) != cudaSuccess) {
    atomicAdd(errors, 1);
    return;
  }
  fill_line<<<(lines[i].count + 31) / 32, 32>>>(lines[i].values, lines[i].count, i);
  if (cudaGetLastError() != cudaSuccess) atomicAdd(errors, 1);
}

__global__ void sum_lines(Line* lines, int n, float* sums, int* errors) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n) return;
  float s = 0;
  for (int k = 0; k < lines[i].count; ++k) s += lines[i].values[k];
  sums[i] = s;
  if (cudaFree(lines[i].values) != cudaSuccess) atomicAdd(errors, 1);
}

int main() {
  const int n = kBlocks * kSeg;
  std::vector<int> h(n);
  for (int i = 0; i < n; ++i) h[i] = (i * 7) % 11 - 5;
  int *d, *d_slots, *d_errors, *d_copies, *d_marks;
  long long* d_sums;
  CHECK(cudaMalloc(&d, n * sizeof(int)));
  CHECK(cudaMalloc(&d_copies, n * sizeof(int)));
  CHECK(cudaMalloc(&d_marks, n * sizeof(int)));
  CHECK(cudaMalloc(&d_slots, kBlocks * kStreams * sizeof(int)));
  CHECK(cudaMalloc(&d_sums, kBlocks * sizeof(long long)));
  CHECK(cudaMalloc(&d_errors, sizeof(int)));
  CHECK(cudaMemset(d_errors, 0, sizeof(int)));
  CHECK(cudaMemcpy(d, h.data(), n * sizeof(int), cudaMemcpyHostToDevice));
  parent<<<kBlocks, 64>>>(d, d_slots, d_sums, d_errors, d_copies, d_marks);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());

  std::vector<int> out(n), slots(kBlocks * kStreams), copies(n), marks(n);
  std::vector<long long> sums(kBlocks);
  int errors = 0;
  CHECK(cudaMemcpy(out.data(), d, n * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(slots.data(), d_slots, slots.size() * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(sums.data(), d_sums, sums.size() * sizeof(long long), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(&errors, d_errors, sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(copies.data(), d_copies, n * sizeof(int), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(marks.data(), d_marks, n * sizeof(int), cudaMemcpyDeviceToHost));
  if (errors != 0) example_fail("device-side runtime calls failed (%d)", errors);
  for (int i = 0; i < n; ++i) {
    if (copies[i] != out[i]) example_fail("device-side copy element %d is %d, expected %d", i, copies[i], out[i]);
    int want = i % kSeg < kSeg / 2 ? out[i] : 0x01010101;
    if (marks[i] != want) example_fail("memset-then-copy element %d is %#x, expected %#x", i, marks[i], want);
  }
  for (int b = 0; b < kBlocks; ++b) {
    long long sum = 0;
    for (int i = 0; i < kSeg; ++i) {
      int x = h[b * kSeg + i];
      for (int k = 0; k < kSteps; ++k) x = 3 * x + k;
      if (out[b * kSeg + i] != x) example_fail("block %d element %d is %d, expected %d", b, i, out[b * kSeg + i], x);
      sum += x;
    }
    if (sums[b] != sum) example_fail("block %d: the tail launch summed %lld, expected %lld", b, sums[b], sum);
    for (int t = 0; t < kStreams; ++t) {
      int threads = 16 + t, want = 100 * b * threads + threads * (threads - 1) / 2;
      if (slots[b * kStreams + t] != want)
        example_fail("block %d stream child %d wrote %d, expected %d", b, t, slots[b * kStreams + t], want);
    }
  }

  CHECK(cudaDeviceSetLimit(cudaLimitDevRuntimePendingLaunchCount, 16));
  size_t limit = 0;
  CHECK(cudaDeviceGetLimit(&limit, cudaLimitDevRuntimePendingLaunchCount));
  if (limit != 16) example_fail("pending launch limit reads back as %zu", limit);
  int* d_counts;
  CHECK(cudaMalloc(&d_counts, 8 * sizeof(int)));
  CHECK(cudaMemset(d_counts, 0, 8 * sizeof(int)));
  count_pending<<<1, 1>>>(d_counts, d_counts + 1, d_counts + 2);
  CHECK(cudaDeviceSynchronize());
  int counts[3];
  CHECK(cudaMemcpy(counts, d_counts, sizeof counts, cudaMemcpyDeviceToHost));
  // Never fewer than the limit, and every refusal is the pending-count error. A GPU may start
  // children while the parent still runs and so accept more; the emulator starts them when the
  // parent grid has finished (docs/emulator.md), so there exactly 16 are accepted.
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  const bool emulator = std::strncmp(prop.name, "gpool emulated", 14) == 0;
  if (counts[0] + counts[1] != 40 || counts[2] != 0 || counts[0] < 16 || (emulator && counts[0] != 16))
    example_fail("40 launches over a limit of 16: %d accepted, %d refused as pending-count exceeded, %d other errors",
                 counts[0], counts[1], counts[2]);
  std::printf("pending-launch limit 16: %d accepted, %d refused\n", counts[0], counts[1]);
  CHECK(cudaFree(d_counts));

  CHECK(cudaDeviceSetLimit(cudaLimitDevRuntimePendingLaunchCount, 2048));
  const int nlines = 40;
  Line* d_lines;
  float* d_line_sums;
  CHECK(cudaMalloc(&d_lines, nlines * sizeof(Line)));
  CHECK(cudaMalloc(&d_line_sums, nlines * sizeof(float)));
  tessellate<<<2, 32>>>(d_lines, nlines, d_errors);  // 2 x 32 threads, the last 24 have no line
  sum_lines<<<1, 64>>>(d_lines, nlines, d_line_sums, d_errors);
  CHECK(cudaDeviceSynchronize());
  std::vector<float> line_sums(nlines);
  CHECK(cudaMemcpy(line_sums.data(), d_line_sums, nlines * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(&errors, d_errors, sizeof(int), cudaMemcpyDeviceToHost));
  if (errors != 0) example_fail("device-side cudaMalloc/cudaFree failed (%d)", errors);
  for (int i = 0; i < nlines; ++i) {
    int count = 4 + 3 * i;
    float want = 0;
    for (int k = 0; k < count; ++k) want += i + 0.5f * k;
    if (line_sums[i] != want) example_fail("line %d sums to %g, expected %g", i, line_sums[i], want);
  }
  CHECK(cudaFree(d_copies));
  CHECK(cudaFree(d_marks));
  CHECK(cudaFree(d_lines));
  CHECK(cudaFree(d_line_sums));
  CHECK(cudaFree(d));
  CHECK(cudaFree(d_slots));
  CHECK(cudaFree(d_sums));
  CHECK(cudaFree(d_errors));
  std::printf("PASS\n");
  return 0;
}
