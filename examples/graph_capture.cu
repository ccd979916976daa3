// graph_capture: a CUDA graph built by stream capture, with a fork and a join across two streams
// (event record + wait), a device-to-host copy and a host function, replayed many times and
// checked against a CPU reference after every replay. Also checks the capture rules a program
// can observe: capture status and info while capturing, a synchronous call on a capturing stream
// refused and invalidating the capture, and ordering against work outside the graph.
//
// Through a gpool pool the same graph runs: the host function and the device-to-host copy are
// served by the client when their nodes run (docs/architecture.md, "Graphs through the pool").
//
// Build: nvcc -o graph_capture graph_capture.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./graph_capture
#include "check.h"

#include <cmath>
#include <cstdlib>
#include <vector>

__global__ void scale_add(float* x, float a, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * x[i] + b;
}

__global__ void combine(float* y, const float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = y[i] + 0.5f * x[i];
}

__global__ void square_into(float* out, const float* x, const float* y, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = x[i] * x[i] - y[i];
}

struct Counter {
  int calls = 0;
};

static void CUDART_CB count_call(void* p) { static_cast<Counter*>(p)->calls++; }

// One replay of the graph on the CPU: the same arithmetic in the same order.
static void reference_step(std::vector<float>& x, std::vector<float>& y, std::vector<float>& out) {
  const int n = static_cast<int>(x.size());
  for (int i = 0; i < n; ++i) x[i] = 1.5f * x[i] + 1.0f;    // s1: scale_add
  for (int i = 0; i < n; ++i) y[i] = y[i] + 0.5f * x[i];    // s2 after the fork: combine (reads the copy of x)
  for (int i = 0; i < n; ++i) x[i] = 0.25f * x[i] - 2.0f;   // s1, concurrently with combine
  for (int i = 0; i < n; ++i) out[i] = x[i] * x[i] - y[i];  // s1 after the join
}

int main() {
  const int n = 3000;
  const int threads = 128, blocks = (n + threads - 1) / threads;
  ExampleRng rng(42);
  std::vector<float> hx(n), hy(n);
  for (int i = 0; i < n; ++i) {
    hx[i] = rng.uniform(-1.0f, 1.0f);
    hy[i] = rng.uniform(-1.0f, 1.0f);
  }
  float *x = nullptr, *y = nullptr, *out = nullptr, *xcopy = nullptr, *host_out = nullptr;
  CHECK(cudaMalloc(&x, n * sizeof(float)));
  CHECK(cudaMalloc(&y, n * sizeof(float)));
  CHECK(cudaMalloc(&xcopy, n * sizeof(float)));
  CHECK(cudaMalloc(&out, n * sizeof(float)));
  CHECK(cudaMallocHost(&host_out, n * sizeof(float)));
  CHECK(cudaMemcpy(x, hx.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(y, hy.data(), n * sizeof(float), cudaMemcpyHostToDevice));

  cudaStream_t s1, s2;
  CHECK(cudaStreamCreateWithFlags(&s1, cudaStreamNonBlocking));
  CHECK(cudaStreamCreateWithFlags(&s2, cudaStreamNonBlocking));
  cudaEvent_t fork, join;
  CHECK(cudaEventCreateWithFlags(&fork, cudaEventDisableTiming));
  CHECK(cudaEventCreateWithFlags(&join, cudaEventDisableTiming));
  Counter counter;

  // --- A capture that is invalidated by a synchronous call on the capturing stream.
  CHECK(cudaStreamBeginCapture(s1, cudaStreamCaptureModeGlobal));
  scale_add<<<blocks, threads, 0, s1>>>(x, 1.5f, 1.0f, n);
  EXPECT_ERR(cudaStreamSynchronize(s1), cudaErrorStreamCaptureUnsupported);
  cudaStreamCaptureStatus status = cudaStreamCaptureStatusNone;
  CHECK(cudaStreamIsCapturing(s1, &status));
  if (status != cudaStreamCaptureStatusInvalidated) example_fail("capture status %d, expected invalidated", status);
  cudaGraph_t bad = nullptr;
  EXPECT_ERR(cudaStreamEndCapture(s1, &bad), cudaErrorStreamCaptureInvalidated);
  if (bad != nullptr) example_fail("an invalidated capture returned a graph");
  cudaGetLastError();

  // --- The real capture: fork s2 off s1, join it back.
  CHECK(cudaStreamBeginCapture(s1, cudaStreamCaptureModeGlobal));
  CHECK(cudaStreamIsCapturing(s1, &status));
  if (status != cudaStreamCaptureStatusActive) example_fail("s1 is not capturing");
  CHECK(cudaStreamIsCapturing(s2, &status));
  if (status != cudaStreamCaptureStatusNone) example_fail("s2 captures before the fork");
  scale_add<<<blocks, threads, 0, s1>>>(x, 1.5f, 1.0f, n);
  CHECK(cudaMemcpyAsync(xcopy, x, n * sizeof(float), cudaMemcpyDeviceToDevice, s1));
  CHECK(cudaEventRecord(fork, s1));
  CHECK(cudaStreamWaitEvent(s2, fork, 0));
  CHECK(cudaStreamIsCapturing(s2, &status));
  if (status != cudaStreamCaptureStatusActive) example_fail("s2 did not join the capture");
  combine<<<blocks, threads, 0, s2>>>(y, xcopy, n);
  scale_add<<<blocks, threads, 0, s1>>>(x, 0.25f, -2.0f, n);
  CHECK(cudaEventRecord(join, s2));
  CHECK(cudaStreamWaitEvent(s1, join, 0));
  square_into<<<blocks, threads, 0, s1>>>(out, x, y, n);
  CHECK(cudaMemcpyAsync(host_out, out, n * sizeof(float), cudaMemcpyDeviceToHost, s1));
  CHECK(cudaLaunchHostFunc(s1, count_call, &counter));
  unsigned long long capture_id = 0;
  size_t ndeps = 0;
  cudaGraph_t capturing_graph = nullptr;
  const cudaGraphNode_t* deps = nullptr;
  CHECK(cudaStreamGetCaptureInfo(s1, &status, &capture_id, &capturing_graph, &deps, nullptr, &ndeps));
  if (status != cudaStreamCaptureStatusActive || capture_id == 0 || capturing_graph == nullptr || ndeps != 1)
    example_fail("capture info: status %d id %llu deps %zu", status, capture_id, ndeps);
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(s1, &graph));
  CHECK(cudaStreamIsCapturing(s2, &status));
  if (status != cudaStreamCaptureStatusNone) example_fail("s2 still captures after the end");
  if (counter.calls != 0) example_fail("captured work ran during the capture");

  size_t nodes = 0, edges = 0;
  CHECK(cudaGraphGetNodes(graph, nullptr, &nodes));
  CHECK(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &edges));
  // 4 kernels, 2 copies, 1 host node; edges: chain on s1 (5) + fork (1) + combine->square (1).
  // Through the pool: no device-to-host copy.
  const size_t expected = 7;
  if (nodes != expected) example_fail("captured graph has %zu nodes, expected %zu", nodes, expected);
  if (edges != expected) example_fail("captured graph has %zu edges, expected %zu", edges, expected);
  std::vector<cudaGraphNode_t> all(nodes);
  CHECK(cudaGraphGetNodes(graph, all.data(), &nodes));
  int kernels = 0;
  for (cudaGraphNode_t node : all) {
    cudaGraphNodeType type;
    CHECK(cudaGraphNodeGetType(node, &type));
    kernels += type == cudaGraphNodeTypeKernel;
  }
  if (kernels != 4) example_fail("captured graph has %d kernel nodes, expected 4", kernels);

  cudaGraphExec_t exec = nullptr;
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  std::vector<float> rx = hx, ry = hy, rout(n);
  const int replays = 8;
  for (int r = 0; r < replays; ++r) {
    CHECK(cudaGraphLaunch(exec, s1));
    CHECK(cudaStreamSynchronize(s1));
    reference_step(rx, ry, rout);
    for (int i = 0; i < n; ++i) {
      const float tol = 1e-3f * (1.0f + std::fabs(rout[i]));
      if (std::fabs(host_out[i] - rout[i]) > tol)
        example_fail("replay %d: out[%d] = %f, expected %f", r, i, host_out[i], rout[i]);
    }
  }
  if (counter.calls != replays) example_fail("host node ran %d times", counter.calls);

  // Ordering against other work on the launch stream: a memset before the launch and a kernel
  // after it on the same (legacy) stream, without synchronizing in between.
  CHECK(cudaMemsetAsync(x, 0, n * sizeof(float), 0));
  CHECK(cudaMemsetAsync(y, 0, n * sizeof(float), 0));
  CHECK(cudaGraphLaunch(exec, 0));
  scale_add<<<blocks, threads, 0, 0>>>(out, 2.0f, 0.0f, n);
  CHECK(cudaDeviceSynchronize());
  std::vector<float> got(n);
  CHECK(cudaMemcpy(got.data(), out, n * sizeof(float), cudaMemcpyDeviceToHost));
  // From x = y = 0: x = 1, y = 0.5, x = -1.75, out = 3.0625 - 0.5 = 2.5625, then doubled.
  for (int i = 0; i < n; ++i) {
    if (std::fabs(got[i] - 5.125f) > 1e-4f) example_fail("ordered launch: out[%d] = %f, expected 5.125", i, got[i]);
  }

  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(graph));
  CHECK(cudaEventDestroy(fork));
  CHECK(cudaEventDestroy(join));
  CHECK(cudaStreamDestroy(s1));
  CHECK(cudaStreamDestroy(s2));
  CHECK(cudaFreeHost(host_out));
  CHECK(cudaFree(x));
  CHECK(cudaFree(y));
  CHECK(cudaFree(xcopy));
  CHECK(cudaFree(out));
  return example_pass();
}
