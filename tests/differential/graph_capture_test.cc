// Capture into an existing graph, capture dependency updates, the graph a child-graph node owns
// and a copy node's parameters. Through the pool every graph and node handle is an id the
// server checks against the session's tables (server/src/worker_graph_capture.cc).
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using GraphCaptureTest = DiffTest;

std::vector<CUgraphNode> deps_of(CUgraphNode node) {
  size_t n = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetDependencies(node, nullptr, nullptr, &n));
  std::vector<CUgraphNode> out(n);
  if (n > 0) {
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetDependencies(node, out.data(), nullptr, &n));
  }
  return out;
}

TEST_F(GraphCaptureTest, CaptureIntoAGraphWithUpdatedDependencies) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 64;
  CUdeviceptr a = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(a, 5, n));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  unsigned count = n;
  void* params[] = {&a, &count};

  CUgraph graph = nullptr, other = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&other, 0));
  CUgraphNode root = nullptr, foreign = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddEmptyNode(&root, graph, nullptr, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddEmptyNode(&foreign, other, nullptr, 0));

  // A node of another graph, and an id no graph has, cannot be the capture's dependencies.
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuStreamBeginCaptureToGraph(s, graph, &foreign, nullptr, 1, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUgraphNode forged = reinterpret_cast<CUgraphNode>(0x474e00000000beefull);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuStreamBeginCaptureToGraph(s, graph, &forged, nullptr, 1, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamIsCapturing(s, &status));
  EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_STATUS_NONE, status);

  ASSERT_CU(CUDA_SUCCESS,
            api().cuStreamBeginCaptureToGraph(s, graph, &root, nullptr, 1, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamIsCapturing(s, &status));
  EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_STATUS_ACTIVE, status);
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, s, params, nullptr));
  // The next node depends on the root again, not on the first kernel: two siblings.
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamUpdateCaptureDependencies(s, &root, nullptr, 1, 7))
      << "flags";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuStreamUpdateCaptureDependencies(s, &foreign, nullptr, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES));
  EXPECT_CU(CUDA_SUCCESS,
            api().cuStreamUpdateCaptureDependencies(s, &root, nullptr, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, s, params, nullptr));
  CUgraph captured = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &captured));
  EXPECT_SAME_VALUE(true, captured == graph) << "the capture went into the given graph";

  size_t nodes = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_SAME_VALUE(3, nodes);
  std::vector<CUgraphNode> list(nodes);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, list.data(), &nodes));
  int kernels_after_root = 0;
  for (CUgraphNode node : list) {
    CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(node, &type));
    if (type != CU_GRAPH_NODE_TYPE_KERNEL) continue;
    const std::vector<CUgraphNode> d = deps_of(node);
    kernels_after_root += d.size() == 1 && d[0] == root;
  }
  EXPECT_SAME_VALUE(2, kernels_after_root);

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  std::vector<unsigned> host(n);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), a, n * 4));
  EXPECT_SAME_VALUE(7, host[0]);
  EXPECT_SAME_VALUE(7, host[n - 1]);
  // Outside a capture there are no dependencies to update.
  EXPECT_CU(CUDA_ERROR_ILLEGAL_STATE,
            api().cuStreamUpdateCaptureDependencies(s, &root, nullptr, 1, CU_STREAM_ADD_CAPTURE_DEPENDENCIES));

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(other));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(GraphCaptureTest, ChildGraphAndCopyNodeParameters) {
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, 256));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&b, 256));
  CUgraph child = nullptr, parent = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&child, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&parent, 0));
  CUDA_MEMSET_NODE_PARAMS ms{};
  ms.dst = a;
  ms.value = 0x01020304;
  ms.elementSize = 4;
  ms.width = 64;
  ms.height = 1;
  CUgraphNode set = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemsetNode(&set, child, nullptr, 0, &ms, primary_context()));
  CUgraphNode child_node = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddChildGraphNode(&child_node, parent, nullptr, 0, child));
  CUDA_MEMCPY3D cp{};
  cp.srcMemoryType = cp.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  cp.srcDevice = a;
  cp.dstDevice = b;
  cp.WidthInBytes = 128;
  cp.Height = cp.Depth = 1;
  CUgraphNode copy = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&copy, parent, &child_node, 1, &cp, primary_context()));

  // The copy node's parameters, as given.
  CUDA_MEMCPY3D got{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemcpyNodeGetParams(copy, &got));
  EXPECT_SAME_VALUE(CU_MEMORYTYPE_DEVICE, got.srcMemoryType);
  EXPECT_SAME_VALUE(CU_MEMORYTYPE_DEVICE, got.dstMemoryType);
  EXPECT_SAME_VALUE(true, got.srcDevice == a);
  EXPECT_SAME_VALUE(true, got.dstDevice == b);
  EXPECT_SAME_VALUE(128, got.WidthInBytes);
  EXPECT_SAME_VALUE(1, got.Height);
  EXPECT_SAME_VALUE(1, got.Depth);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphMemcpyNodeGetParams(child_node, &got)) << "not a copy node";

  // The child node's graph: a graph of its own (a copy of `child`), with one memset node.
  CUgraph owned = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphChildGraphNodeGetGraph(copy, &owned)) << "not a child node";
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphChildGraphNodeGetGraph(child_node, &owned));
  CUgraph again = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphChildGraphNodeGetGraph(child_node, &again));
  EXPECT_SAME_VALUE(true, owned == again);
  EXPECT_SAME_VALUE(true, owned != child) << "the node holds a copy of the graph it was given";
  size_t nodes = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(owned, nullptr, &nodes));
  EXPECT_SAME_VALUE(1, nodes);
  CUgraphNode inner = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(owned, &inner, &nodes));
  CUDA_MEMSET_NODE_PARAMS inner_ms{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemsetNodeGetParams(inner, &inner_ms));
  EXPECT_SAME_VALUE(0x01020304, inner_ms.value);

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, parent, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  unsigned host[64] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host, b, sizeof host));
  EXPECT_SAME_VALUE(0x01020304, host[0]);
  EXPECT_SAME_VALUE(0x01020304, host[31]);

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(parent));  // takes the owned graph with it
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(child));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(b));
}

// A node-owned graph belongs to its node: destroying it alone is refused, and it goes with the
// node. NVIDIA's driver does not check this (undefined behaviour there), nor forged ids.
TEST_F(GraphCaptureTest, OwnedHandlesAreNotDestroyedAlone) {
  if (backend() == "real") GTEST_SKIP() << "destroying a node-owned graph is undefined behaviour in NVIDIA's driver";
  CUgraph child = nullptr, parent = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&child, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&parent, 0));
  CUgraphNode empty = nullptr, node = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddEmptyNode(&empty, child, nullptr, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddChildGraphNode(&node, parent, nullptr, 0, child));
  CUgraph owned = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphChildGraphNodeGetGraph(node, &owned));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphDestroy(owned));
  size_t nodes = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(owned, nullptr, &nodes)) << "still there";
  EXPECT_SAME_VALUE(1, nodes);
  CUgraphNode forged = reinterpret_cast<CUgraphNode>(0x474e00000000f00dull);
  CUDA_MEMCPY3D params{};
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphChildGraphNodeGetGraph(forged, &owned));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphMemcpyNodeGetParams(forged, &params));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroyNode(node));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphGetNodes(owned, nullptr, &nodes)) << "gone with its node";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphDestroy(owned)) << "and not destroyable";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(parent));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(child));
}

}  // namespace
}  // namespace diff
