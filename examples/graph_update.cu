// graph_update: a CUDA graph built node by node (memset, kernels, a child graph, an empty join
// node, a device-to-device copy, edges added and removed), launched, then changed and
// relaunched two ways: cudaGraphExecKernelNodeSetParams, and cudaGraphExecUpdate from a second
// graph of the same shape with other parameters. Every launch is checked against a CPU
// reference; a topology change must make cudaGraphExecUpdate fail. Uses only what also works
// through a gpool pool (no host nodes, no copies of host memory inside the graph), so it runs
// directly and through the pool unchanged (examples/graph_explicit.cu covers the rest).
//
// Build: nvcc -o graph_update graph_update.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./graph_update
#include "check.h"

#include <cmath>
#include <vector>

__global__ void axpb(float* x, float a, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * x[i] + b;
}

__global__ void add_scaled(float* y, const float* x, float s, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] += s * x[i];
}

struct Step {
  float a, b;  // axpb on x
  float c, d;  // axpb on x inside the child graph
  float s;     // y += s * x
};

// memset x = 0 (as float bits: 0.0f), y = 0; x = a*x+b; child { x = c*x+d }; y += s*x; z = y.
static std::vector<float> reference(int n, const Step& p, int launches) {
  std::vector<float> y(n, 0.0f);
  for (int l = 0; l < launches; ++l) {
    for (int i = 0; i < n; ++i) {
      float x = 0.0f;
      x = p.a * x + p.b;
      x = p.c * x + p.d;
      y[i] += p.s * x;  // y is not reset by the graph: it accumulates over launches
    }
  }
  return y;
}

struct Built {
  cudaGraph_t graph, child;
  cudaGraphNode_t first_axpb, add_node, copy_node;
};

// Kernel argument storage must live only until the node is added: nodes copy it.
static Built build(float* x, float* y, float* z, int n, const Step& p, int blocks, int threads) {
  Built b{};
  CHECK(cudaGraphCreate(&b.child, 0));
  float c = p.c, d = p.d;
  void* child_args[] = {&x, &c, &d, &n};
  cudaKernelNodeParams kp{};
  kp.func = reinterpret_cast<void*>(axpb);
  kp.gridDim = dim3(blocks);
  kp.blockDim = dim3(threads);
  kp.kernelParams = child_args;
  cudaGraphNode_t child_axpb;
  CHECK(cudaGraphAddKernelNode(&child_axpb, b.child, nullptr, 0, &kp));

  CHECK(cudaGraphCreate(&b.graph, 0));
  cudaMemsetParams mp{};
  mp.dst = x;
  mp.value = 0;
  mp.elementSize = 4;
  mp.width = n;
  mp.height = 1;
  cudaGraphNode_t memset_node, child_node, empty_node;
  CHECK(cudaGraphAddMemsetNode(&memset_node, b.graph, nullptr, 0, &mp));
  float a = p.a, bb = p.b;
  void* first_args[] = {&x, &a, &bb, &n};
  kp.kernelParams = first_args;
  CHECK(cudaGraphAddKernelNode(&b.first_axpb, b.graph, nullptr, 0, &kp));
  CHECK(cudaGraphAddDependencies(b.graph, &memset_node, &b.first_axpb, nullptr, 1));
  CHECK(cudaGraphAddChildGraphNode(&child_node, b.graph, &b.first_axpb, 1, b.child));
  CHECK(cudaGraphAddEmptyNode(&empty_node, b.graph, &child_node, 1));
  float s = p.s;
  void* add_args[] = {&y, &x, &s, &n};
  cudaKernelNodeParams ap{};
  ap.func = reinterpret_cast<void*>(add_scaled);
  ap.gridDim = dim3(blocks);
  ap.blockDim = dim3(threads);
  ap.kernelParams = add_args;
  CHECK(cudaGraphAddKernelNode(&b.add_node, b.graph, &empty_node, 1, &ap));
  CHECK(cudaGraphAddMemcpyNode1D(&b.copy_node, b.graph, &b.add_node, 1, z, y, n * sizeof(float),
                                 cudaMemcpyDeviceToDevice));
  // An edge added by mistake and removed again.
  CHECK(cudaGraphAddDependencies(b.graph, &memset_node, &b.copy_node, nullptr, 1));
  CHECK(cudaGraphRemoveDependencies(b.graph, &memset_node, &b.copy_node, nullptr, 1));
  return b;
}

static void check(float* z, const std::vector<float>& want, const char* what) {
  std::vector<float> got(want.size());
  CHECK(cudaMemcpy(got.data(), z, got.size() * sizeof(float), cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::fabs(got[i] - want[i]) > 1e-3f * (1.0f + std::fabs(want[i])))
      example_fail("%s: z[%zu] = %f, expected %f", what, i, got[i], want[i]);
  }
}

int main() {
  const int n = 1500, threads = 128, blocks = (n + threads - 1) / threads;
  float *x, *y, *z;
  CHECK(cudaMalloc(&x, n * sizeof(float)));
  CHECK(cudaMalloc(&y, n * sizeof(float)));
  CHECK(cudaMalloc(&z, n * sizeof(float)));
  CHECK(cudaMemset(y, 0, n * sizeof(float)));
  cudaStream_t stream;
  CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));

  Step p{2.0f, 3.0f, -0.5f, 1.0f, 0.25f};
  Built g = build(x, y, z, n, p, blocks, threads);
  size_t count = 0;
  CHECK(cudaGraphGetNodes(g.graph, nullptr, &count));
  if (count != 6) example_fail("graph has %zu nodes, expected 6", count);
  CHECK(cudaGraphGetEdges(g.graph, nullptr, nullptr, nullptr, &count));
  if (count != 5) example_fail("graph has %zu edges, expected 5", count);

  cudaGraphExec_t exec;
  CHECK(cudaGraphInstantiate(&exec, g.graph, 0));
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  std::vector<float> want = reference(n, p, 2);
  check(z, want, "two launches");

  // 1. cudaGraphExecKernelNodeSetParams on the first axpb: a = -1, b = 4.
  Step q = p;
  q.a = -1.0f;
  q.b = 4.0f;
  float a = q.a, b = q.b;
  int nn = n;
  void* args[] = {&x, &a, &b, &nn};
  cudaKernelNodeParams kp{};
  kp.func = reinterpret_cast<void*>(axpb);
  kp.gridDim = dim3(blocks);
  kp.blockDim = dim3(threads);
  kp.kernelParams = args;
  CHECK(cudaGraphExecKernelNodeSetParams(exec, g.first_axpb, &kp));
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  std::vector<float> step = reference(n, q, 1);
  for (int i = 0; i < n; ++i) want[i] += step[i];
  check(z, want, "after cudaGraphExecKernelNodeSetParams");

  // 2. cudaGraphExecUpdate from a second graph of the same shape: other c, d and s.
  Step r{1.5f, -2.0f, 3.0f, 0.5f, -1.0f};
  Built g2 = build(x, y, z, n, r, blocks, threads);
  cudaGraphExecUpdateResultInfo info{};
  CHECK(cudaGraphExecUpdate(exec, g2.graph, &info));
  if (info.result != cudaGraphExecUpdateSuccess) example_fail("update result %d", info.result);
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  step = reference(n, r, 2);
  for (int i = 0; i < n; ++i) want[i] += step[i];
  check(z, want, "after cudaGraphExecUpdate");

  // A graph of another shape is refused, and the exec keeps running what it had.
  cudaGraphNode_t extra;
  CHECK(cudaGraphAddEmptyNode(&extra, g2.graph, nullptr, 0));
  EXPECT_ERR(cudaGraphExecUpdate(exec, g2.graph, &info), cudaErrorGraphExecUpdateFailure);
  if (info.result != cudaGraphExecUpdateErrorTopologyChanged) example_fail("update result %d", info.result);
  cudaGetLastError();
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  step = reference(n, r, 1);
  for (int i = 0; i < n; ++i) want[i] += step[i];
  check(z, want, "after the refused update");

  // Kernel node parameters of the graph itself, then a fresh instantiation.
  CHECK(cudaGraphKernelNodeSetParams(g.first_axpb, &kp));  // a = -1, b = 4 as in step 1
  cudaGraphExec_t exec2;
  CHECK(cudaGraphInstantiate(&exec2, g.graph, 0));
  CHECK(cudaGraphLaunch(exec2, stream));
  CHECK(cudaStreamSynchronize(stream));
  step = reference(n, q, 1);
  for (int i = 0; i < n; ++i) want[i] += step[i];
  check(z, want, "a new exec of the edited graph");

  CHECK(cudaGraphExecDestroy(exec2));
  CHECK(cudaGraphExecDestroy(exec));
  for (Built* bt : {&g, &g2}) {
    CHECK(cudaGraphDestroy(bt->graph));
    CHECK(cudaGraphDestroy(bt->child));
  }
  CHECK(cudaStreamDestroy(stream));
  CHECK(cudaFree(x));
  CHECK(cudaFree(y));
  CHECK(cudaFree(z));
  return example_pass();
}
