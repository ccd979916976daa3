// graph_explicit: a CUDA graph built node by node (memset, kernels, a child graph, an empty join
// node, a host node, a device-to-host copy), queried (nodes, roots, edges, types, parameters),
// cloned, instantiated, launched, then changed in place three ways and relaunched:
// cudaGraphExecKernelNodeSetParams, cudaGraphExecUpdate from an edited graph, and disabling a
// node (cudaGraphNodeSetEnabled). Every launch is checked against a CPU reference. A topology change must make
// cudaGraphExecUpdate fail with cudaGraphExecUpdateErrorTopologyChanged.
//
// Build: nvcc -o graph_explicit graph_explicit.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./graph_explicit
#include "check.h"

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

__global__ void axpb(float* x, float a, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * x[i] + b;
}

__global__ void add_index(float* x, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] += static_cast<float>(i % 7);
}

static void CUDART_CB bump(void* p) { ++*static_cast<int*>(p); }

struct Params {
  float a1, b1;  // first axpb
  float a2, b2;  // axpb inside the child graph
  bool first_enabled = true;  // the first axpb node (cudaGraphNodeSetEnabled)
};

// The graph on the CPU: memset to 0, axpb(a1,b1), child { axpb(a2,b2) , add_index }.
static std::vector<float> reference(int n, const Params& p) {
  std::vector<float> x(n, 0.0f);
  for (int i = 0; i < n; ++i) {
    if (p.first_enabled) x[i] = p.a1 * x[i] + p.b1;
    x[i] = p.a2 * x[i] + p.b2;
    x[i] += static_cast<float>(i % 7);
  }
  return x;
}

static void check(const float* got, const std::vector<float>& want, const char* what) {
  for (size_t i = 0; i < want.size(); ++i) {
    if (std::fabs(got[i] - want[i]) > 1e-4f * (1.0f + std::fabs(want[i])))
      example_fail("%s: x[%zu] = %f, expected %f", what, i, got[i], want[i]);
  }
}

int main() {
  const int n = 2500, threads = 256, blocks = (n + threads - 1) / threads;
  float* x = nullptr;
  float* host = nullptr;
  CHECK(cudaMalloc(&x, n * sizeof(float)));
  CHECK(cudaMallocHost(&host, n * sizeof(float)));
  cudaStream_t stream;
  CHECK(cudaStreamCreate(&stream));
  int host_calls = 0;
  Params p{2.0f, 3.0f, -0.5f, 1.25f};

  // Child graph: axpb(a2, b2) -> add_index.
  cudaGraph_t child;
  CHECK(cudaGraphCreate(&child, 0));
  float a2 = p.a2, b2 = p.b2;
  int nn = n;
  void* child_args[] = {&x, &a2, &b2, &nn};
  cudaKernelNodeParams kp{};
  kp.func = reinterpret_cast<void*>(axpb);
  kp.gridDim = dim3(blocks);
  kp.blockDim = dim3(threads);
  kp.kernelParams = child_args;
  cudaGraphNode_t child_axpb, child_index;
  CHECK(cudaGraphAddKernelNode(&child_axpb, child, nullptr, 0, &kp));
  void* index_args[] = {&x, &nn};
  cudaKernelNodeParams ip{};
  ip.func = reinterpret_cast<void*>(add_index);
  ip.gridDim = dim3(blocks);
  ip.blockDim = dim3(threads);
  ip.kernelParams = index_args;
  CHECK(cudaGraphAddKernelNode(&child_index, child, &child_axpb, 1, &ip));

  // Main graph: memset -> axpb(a1, b1) -> child -> empty -> { copy D2H -> host }.
  cudaGraph_t graph;
  CHECK(cudaGraphCreate(&graph, 0));
  cudaMemsetParams mp{};
  mp.dst = x;
  mp.value = 0;
  mp.elementSize = 4;
  mp.width = n;
  mp.height = 1;
  cudaGraphNode_t memset_node, axpb_node, child_node, empty_node, copy_node, host_node;
  CHECK(cudaGraphAddMemsetNode(&memset_node, graph, nullptr, 0, &mp));
  float a1 = p.a1, b1 = p.b1;
  void* main_args[] = {&x, &a1, &b1, &nn};
  kp.kernelParams = main_args;
  CHECK(cudaGraphAddKernelNode(&axpb_node, graph, &memset_node, 1, &kp));
  a1 = 1000.0f;  // the node copied the arguments when it was added
  CHECK(cudaGraphAddChildGraphNode(&child_node, graph, &axpb_node, 1, child));
  CHECK(cudaGraphAddEmptyNode(&empty_node, graph, &child_node, 1));
  CHECK(cudaGraphAddMemcpyNode1D(&copy_node, graph, &empty_node, 1, host, x, n * sizeof(float),
                                 cudaMemcpyDeviceToHost));
  cudaHostNodeParams hp{bump, &host_calls};
  CHECK(cudaGraphAddHostNode(&host_node, graph, &copy_node, 1, &hp));

  // Queries.
  size_t count = 0;
  CHECK(cudaGraphGetNodes(graph, nullptr, &count));
  if (count != 6) example_fail("graph has %zu nodes, expected 6", count);
  cudaGraphNode_t roots[4];
  count = 4;
  CHECK(cudaGraphGetRootNodes(graph, roots, &count));
  if (count != 1 || roots[0] != memset_node) example_fail("root nodes: %zu", count);
  count = 0;
  CHECK(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &count));
  if (count != 5) example_fail("graph has %zu edges, expected 5", count);
  cudaGraphNodeType type;
  CHECK(cudaGraphNodeGetType(child_node, &type));
  if (type != cudaGraphNodeTypeGraph) example_fail("child node has type %d", type);
  CHECK(cudaGraphNodeGetType(copy_node, &type));
  if (type != cudaGraphNodeTypeMemcpy) example_fail("copy node has type %d", type);
  cudaKernelNodeParams got{};
  CHECK(cudaGraphKernelNodeGetParams(axpb_node, &got));
  if (got.gridDim.x != static_cast<unsigned>(blocks) || got.blockDim.x != static_cast<unsigned>(threads) ||
      *static_cast<float*>(got.kernelParams[1]) != p.a1)
    example_fail("kernel node parameters read back wrong");
  cudaGraphNode_t deps[2];
  count = 2;
  CHECK(cudaGraphNodeGetDependencies(child_node, deps, nullptr, &count));
  if (count != 1 || deps[0] != axpb_node) example_fail("child node dependencies wrong");

  // A clone launches the same work.
  cudaGraph_t clone;
  CHECK(cudaGraphClone(&clone, graph));
  cudaGraphNode_t cloned_axpb;
  CHECK(cudaGraphNodeFindInClone(&cloned_axpb, axpb_node, clone));
  CHECK(cudaGraphNodeGetType(cloned_axpb, &type));
  if (type != cudaGraphNodeTypeKernel) example_fail("cloned node has type %d", type);

  cudaGraphExec_t exec;
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  CHECK(cudaGraphUpload(exec, stream));
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  check(host, reference(n, p), "first launch");

  // 1. Exec-level kernel parameters: only the exec changes, the graph keeps its own.
  p.a1 = -1.5f;
  p.b1 = 0.75f;
  a1 = p.a1;
  b1 = p.b1;
  CHECK(cudaGraphExecKernelNodeSetParams(exec, axpb_node, &kp));
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  check(host, reference(n, p), "after cudaGraphExecKernelNodeSetParams");

  // 2. cudaGraphExecUpdate from the clone, edited (same topology, new parameters).
  Params q{0.5f, -4.0f, p.a2, p.b2};
  a1 = q.a1;
  b1 = q.b1;
  CHECK(cudaGraphKernelNodeSetParams(cloned_axpb, &kp));
  cudaGraphExecUpdateResultInfo info{};
  CHECK(cudaGraphExecUpdate(exec, clone, &info));
  if (info.result != cudaGraphExecUpdateSuccess) example_fail("update result %d", info.result);
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  check(host, reference(n, q), "after cudaGraphExecUpdate");
  // The instantiated graph's own copy of the kernel node did not change.
  CHECK(cudaGraphKernelNodeGetParams(axpb_node, &got));
  if (*static_cast<float*>(got.kernelParams[1]) != 2.0f) example_fail("the graph's node changed with the exec");

  // 3. Disabling the first axpb node.
  CHECK(cudaGraphNodeSetEnabled(exec, axpb_node, 0));
  unsigned enabled = 1;
  CHECK(cudaGraphNodeGetEnabled(exec, axpb_node, &enabled));
  if (enabled != 0) example_fail("node still enabled");
  q.first_enabled = false;
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  check(host, reference(n, q), "with the first axpb disabled");

  // A topology change is refused and leaves the exec as it was.
  cudaGraphNode_t extra;
  CHECK(cudaGraphAddEmptyNode(&extra, clone, nullptr, 0));
  EXPECT_ERR(cudaGraphExecUpdate(exec, clone, &info), cudaErrorGraphExecUpdateFailure);
  if (info.result != cudaGraphExecUpdateErrorTopologyChanged) example_fail("update result %d", info.result);
  cudaGetLastError();
  CHECK(cudaGraphLaunch(exec, stream));
  CHECK(cudaStreamSynchronize(stream));
  check(host, reference(n, q), "after the refused update");
  if (host_calls != 5) example_fail("host node ran %d times, expected 5", host_calls);

  // Edges can be removed and added again; a cycle cannot be instantiated.
  CHECK(cudaGraphRemoveDependencies(graph, &memset_node, &axpb_node, nullptr, 1));
  count = 0;
  CHECK(cudaGraphGetEdges(graph, nullptr, nullptr, nullptr, &count));
  if (count != 4) example_fail("graph has %zu edges after removal, expected 4", count);
  CHECK(cudaGraphAddDependencies(graph, &memset_node, &axpb_node, nullptr, 1));
  CHECK(cudaGraphAddDependencies(graph, &host_node, &memset_node, nullptr, 1));
  cudaGraphExec_t cyclic = nullptr;
  if (cudaGraphInstantiate(&cyclic, graph, 0) == cudaSuccess) example_fail("a cyclic graph was instantiated");
  cudaGetLastError();

  // The dot file names the node kinds.
  const char* dot = "graph_explicit.dot";
  CHECK(cudaGraphDebugDotPrint(clone, dot, 0));
  FILE* f = std::fopen(dot, "r");
  if (f == nullptr) example_fail("no dot file written");
  std::string text;
  char buf[512];
  while (std::fgets(buf, sizeof buf, f) != nullptr) text += buf;
  std::fclose(f);
  std::remove(dot);
  if (text.find("digraph") == std::string::npos || text.find("kernel") == std::string::npos ||
      text.find("memset") == std::string::npos)
    example_fail("dot output lacks the node kinds");

  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(clone));
  CHECK(cudaGraphDestroy(graph));
  CHECK(cudaGraphDestroy(child));
  CHECK(cudaStreamDestroy(stream));
  CHECK(cudaFreeHost(host));
  CHECK(cudaFree(x));
  return example_pass();
}
