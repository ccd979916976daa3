// graph_host_copies: graph copy nodes with a host side, in the forms a program uses:
//   1. a child graph of a 1 MiB host-to-device node, a kernel and a 1 MiB device-to-host node
//      (cudaGraphAddMemcpyNode1D), inside a parent graph;
//   2. a captured cudaMemcpy2DAsync from a pitched host buffer into pitched device memory, a
//      kernel, and a captured cudaMemcpy3DAsync back into a differently pitched host buffer;
//   3. new parameters: cudaGraphExecMemcpyNodeSetParams1D pointing the exec's input node at
//      another host buffer.
// Each graph is launched several times with the host input changed in between (a copy node
// reads and writes host memory when it runs, not when it is made), and every output is checked
// against a CPU reference, bytes outside the 2D box included.
//
// Build: nvcc -o graph_host_copies graph_host_copies.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./graph_host_copies
#include "check.h"

#include <vector>

__global__ void scale_add(float* x, float a, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * x[i] + b;
}

__global__ void add_row(float* x, size_t pitch_floats, int width, int rows) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  const int r = blockIdx.y;
  if (c < width && r < rows) x[r * pitch_floats + c] += static_cast<float>(r);
}

static void child_graph_1mib() {
  const int n = 1 << 18;  // 1 MiB of floats
  std::vector<float> in(n), in2(n), out(n, -1.0f);
  float* d = nullptr;
  CHECK(cudaMalloc(&d, n * sizeof(float)));
  cudaGraph_t child = nullptr, parent = nullptr;
  CHECK(cudaGraphCreate(&child, 0));
  CHECK(cudaGraphCreate(&parent, 0));
  cudaGraphNode_t up = nullptr, k = nullptr, down = nullptr, node = nullptr;
  CHECK(cudaGraphAddMemcpyNode1D(&up, child, nullptr, 0, d, in.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  float a = 2.0f, b = 0.5f;
  int count = n;
  void* args[] = {&d, &a, &b, &count};
  cudaKernelNodeParams kp{};
  kp.func = reinterpret_cast<void*>(scale_add);
  kp.gridDim = dim3((n + 255) / 256);
  kp.blockDim = dim3(256);
  kp.kernelParams = args;
  CHECK(cudaGraphAddKernelNode(&k, child, &up, 1, &kp));
  CHECK(cudaGraphAddMemcpyNode1D(&down, child, &k, 1, out.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
  CHECK(cudaGraphAddChildGraphNode(&node, parent, nullptr, 0, child));
  cudaGraphExec_t exec = nullptr;
  CHECK(cudaGraphInstantiate(&exec, parent, 0));
  cudaStream_t s = nullptr;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  auto check = [&](const std::vector<float>& from, int launch, const char* what) {
    for (int i = 0; i < n; ++i) {
      const float want = 2.0f * from[i] + 0.5f;
      if (out[i] != want) example_fail("%s, launch %d: out[%d] = %g, expected %g", what, launch, i, out[i], want);
    }
  };
  for (int launch = 0; launch < 3; ++launch) {
    for (int i = 0; i < n; ++i) in[i] = static_cast<float>((i * 7 + launch * 13) % 1000);
    CHECK(cudaGraphLaunch(exec, s));
    CHECK(cudaStreamSynchronize(s));
    check(in, launch, "child graph");
  }
  // The program's child graph shows its three nodes (through the pool: no marker nodes).
  cudaGraph_t inner = nullptr;
  CHECK(cudaGraphChildGraphNodeGetGraph(node, &inner));
  size_t nodes = 0;
  CHECK(cudaGraphGetNodes(inner, nullptr, &nodes));
  if (nodes != 3) example_fail("the child graph holds %zu nodes, expected 3", nodes);
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(parent));
  // A graph of the child's nodes at the top level, for cudaGraphExecMemcpyNodeSetParams1D.
  cudaGraphExec_t flat = nullptr;
  CHECK(cudaGraphInstantiate(&flat, child, 0));
  CHECK(cudaGraphExecMemcpyNodeSetParams1D(flat, up, d, in2.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  for (int launch = 0; launch < 2; ++launch) {
    for (int i = 0; i < n; ++i) in2[i] = static_cast<float>((i * 3 + launch * 5) % 777);
    CHECK(cudaGraphLaunch(flat, s));
    CHECK(cudaStreamSynchronize(s));
    check(in2, launch, "new exec parameters");
  }
  CHECK(cudaGraphExecDestroy(flat));
  CHECK(cudaGraphDestroy(child));
  CHECK(cudaStreamDestroy(s));
  CHECK(cudaFree(d));
}

static void captured_2d() {
  const int w = 100, rows = 30;                 // floats x rows of the box
  const size_t hp = 128, op = 112;              // host pitches in floats
  std::vector<float> in(hp * (rows + 2)), out(op * rows + 8, -7.0f);
  float* d = nullptr;
  size_t dpitch = 0;
  CHECK(cudaMallocPitch(reinterpret_cast<void**>(&d), &dpitch, w * sizeof(float), rows));
  cudaStream_t s = nullptr;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  // The box starts at row 2, column 4 of the host buffer.
  CHECK(cudaMemcpy2DAsync(d, dpitch, in.data() + 2 * hp + 4, hp * sizeof(float), w * sizeof(float), rows,
                          cudaMemcpyHostToDevice, s));
  add_row<<<dim3((w + 63) / 64, rows), 64, 0, s>>>(d, dpitch / sizeof(float), w, rows);
  cudaMemcpy3DParms back{};
  back.srcPtr = make_cudaPitchedPtr(d, dpitch, w * sizeof(float), rows);
  back.dstPtr = make_cudaPitchedPtr(out.data(), op * sizeof(float), w * sizeof(float), rows);
  back.extent = make_cudaExtent(w * sizeof(float), rows, 1);
  back.kind = cudaMemcpyDeviceToHost;
  CHECK(cudaMemcpy3DAsync(&back, s));
  cudaGraph_t graph = nullptr;
  CHECK(cudaStreamEndCapture(s, &graph));
  cudaGraphExec_t exec = nullptr;
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  for (int launch = 0; launch < 3; ++launch) {
    for (size_t i = 0; i < in.size(); ++i) in[i] = static_cast<float>((i * 11 + launch * 17) % 512);
    CHECK(cudaGraphLaunch(exec, s));
    CHECK(cudaStreamSynchronize(s));
    for (size_t i = 0; i < out.size(); ++i) {
      const size_t r = i / op, c = i % op;
      const float want = (r < static_cast<size_t>(rows) && c < static_cast<size_t>(w))
                             ? in[(r + 2) * hp + 4 + c] + static_cast<float>(r)
                             : -7.0f;  // outside the box: untouched
      if (out[i] != want) example_fail("2D graph, launch %d: out[%zu] = %g, expected %g", launch, i, out[i], want);
    }
  }
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(graph));
  CHECK(cudaStreamDestroy(s));
  CHECK(cudaFree(d));
}

int main() {
  child_graph_1mib();
  captured_2d();
  return example_pass();
}
