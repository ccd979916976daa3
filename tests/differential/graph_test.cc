// Graphs and stream capture: a capture with a fork and a join through an event, the captured
// graph's shape, replays of the instantiated graph in stream order, and the invalidation of a
// capture by a synchronous use of the capturing stream. Through the pool the capture happens on
// the server and the graph is launched with one async call (docs/architecture.md).
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using GraphTest = DiffTest;

TEST_F(GraphTest, CaptureForkJoinAndReplay) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 300;
  CUdeviceptr a = 0, b = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&b, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(a, 10, n));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(b, 20, n));
  CUstream s1 = nullptr, s2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING));
  CUevent fork = nullptr, join = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&fork, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&join, CU_EVENT_DISABLE_TIMING));
  unsigned count = n;
  void* pa[] = {&a, &count};
  void* pb[] = {&b, &count};

  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s1, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamIsCapturing(s1, &status));
  EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_STATUS_ACTIVE, status);
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 3, 1, 1, 128, 1, 1, 0, s1, pa, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventRecord(fork, s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamWaitEvent(s2, fork, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamIsCapturing(s2, &status));
  EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_STATUS_ACTIVE, status) << "s2 joined the capture";
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 3, 1, 1, 128, 1, 1, 0, s2, pb, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 3, 1, 1, 128, 1, 1, 0, s1, pa, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventRecord(join, s2));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamWaitEvent(s1, join, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoDAsync(b, a, 4, s1));  // b[0] = a[0] after both
  size_t deps = 0;
  cuuint64_t id = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamGetCaptureInfo(s1, &status, &id, nullptr, nullptr, nullptr, &deps));
  EXPECT_SAME_VALUE(1, deps);
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s1, &graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamIsCapturing(s2, &status));
  EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_STATUS_NONE, status);

  size_t nodes = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_SAME_VALUE(4, nodes);
  std::vector<CUgraphNode> list(nodes);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, list.data(), &nodes));
  int kernels = 0, copies = 0;
  for (CUgraphNode node : list) {
    CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(node, &type));
    kernels += type == CU_GRAPH_NODE_TYPE_KERNEL;
    copies += type == CU_GRAPH_NODE_TYPE_MEMCPY;
    if (type == CU_GRAPH_NODE_TYPE_KERNEL && kernels == 1) {
      // A captured launch's parameters, as the launch gave them.
      CUDA_KERNEL_NODE_PARAMS kp{};
      EXPECT_CU(CUDA_SUCCESS, api().cuGraphKernelNodeGetParams(node, &kp));
      EXPECT_SAME_VALUE(true, kp.func == add_one);
      EXPECT_SAME_VALUE(3, kp.gridDimX);
      EXPECT_SAME_VALUE(128, kp.blockDimX);
      EXPECT_SAME_VALUE(1, kp.blockDimY);
      EXPECT_SAME_VALUE(0, kp.sharedMemBytes);
      EXPECT_SAME_VALUE(true, kp.kernelParams != nullptr);
      if (kp.kernelParams != nullptr) {
        EXPECT_SAME_VALUE(n, *static_cast<unsigned*>(kp.kernelParams[1]));
        const CUdeviceptr ptr = *static_cast<CUdeviceptr*>(kp.kernelParams[0]);
        EXPECT_SAME_VALUE(true, ptr == a || ptr == b);
      }
    }
  }
  EXPECT_SAME_VALUE(3, kernels);
  EXPECT_SAME_VALUE(1, copies);

  std::vector<unsigned> host(n);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), a, n * 4));
  EXPECT_SAME_VALUE(10, host[5]) << "captured work ran during the capture";

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(a, 100, 1, s1));  // between two launches
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), a, n * 4));
  EXPECT_SAME_VALUE(102, host[0]);
  EXPECT_SAME_VALUE(14, host[n - 1]);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), b, n * 4));
  EXPECT_SAME_VALUE(102, host[0]) << "the copy after the join";
  EXPECT_SAME_VALUE(22, host[n - 1]);

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(fork));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(join));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s2));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(b));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(GraphTest, SynchronousUseInvalidatesTheCapture) {
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 64));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(p, 1, 16, s));
  EXPECT_CU(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, api().cuStreamQuery(s));
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamIsCapturing(s, &status));
  EXPECT_SAME_VALUE(CU_STREAM_CAPTURE_STATUS_INVALIDATED, status);
  CUgraph graph = nullptr;
  EXPECT_CU(CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, api().cuStreamEndCapture(s, &graph));
  EXPECT_CU(CUDA_ERROR_ILLEGAL_STATE, api().cuStreamEndCapture(s, &graph)) << "no capture left";
  EXPECT_CU(CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED,
            api().cuStreamBeginCapture(CU_STREAM_LEGACY, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

// A graph built node by node, then queried, cloned, edited and run: node neighbours, memset
// parameters of the graph's node and of the exec's, a clone that keeps the old parameters and
// loses a destroyed node, exec flags and a disabled node. Through the pool every id is the
// server's and every query a round trip (worker_graph_query.cc).
TEST_F(GraphTest, NodeQueriesCloneAndNodeSetters) {
  constexpr unsigned n = 64;
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(p, 0, n));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  auto memset_params = [&](unsigned first, unsigned value) {
    CUDA_MEMSET_NODE_PARAMS m{};
    m.dst = p + first * 4;
    m.value = value;
    m.elementSize = 4;
    m.width = 16;
    m.height = 1;
    return m;
  };
  const CUDA_MEMSET_NODE_PARAMS first = memset_params(0, 1), second = memset_params(16, 2);
  CUgraphNode m1 = nullptr, empty = nullptr, m2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemsetNode(&m1, graph, nullptr, 0, &first, nullptr));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddEmptyNode(&empty, graph, &m1, 1));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemsetNode(&m2, graph, &empty, 1, &second, nullptr));

  size_t count = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetDependencies(empty, nullptr, nullptr, &count));
  EXPECT_SAME_VALUE(1, count);
  CUgraphNode listed[2] = {nullptr, nullptr};
  count = 2;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetDependencies(empty, listed, nullptr, &count));
  EXPECT_SAME_VALUE(1, count);
  EXPECT_SAME_VALUE(true, listed[0] == m1);
  EXPECT_SAME_VALUE(true, listed[1] == nullptr);
  count = 2;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetDependentNodes(empty, listed, nullptr, &count));
  EXPECT_SAME_VALUE(1, count);
  EXPECT_SAME_VALUE(true, listed[0] == m2);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetDependencies(m1, nullptr, nullptr, &count));
  EXPECT_SAME_VALUE(0, count);

  CUDA_MEMSET_NODE_PARAMS got{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemsetNodeGetParams(m2, &got));
  EXPECT_SAME_VALUE(true, got.dst == p + 64);
  EXPECT_SAME_VALUE(2, got.value);
  EXPECT_SAME_VALUE(4, got.elementSize);
  EXPECT_SAME_VALUE(16, got.width);
  EXPECT_SAME_VALUE(1, got.height);

  // The clone keeps the parameters it had when cloned; destroying a node of it leaves the
  // original alone.
  CUgraph clone = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphClone(&clone, graph));
  CUgraphNode c1 = nullptr, c_empty = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeFindInClone(&c1, m1, clone));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeFindInClone(&c_empty, empty, clone));
  EXPECT_SAME_VALUE(true, c1 != nullptr && c1 != m1);
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(c1, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_MEMSET, type);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroyNode(c_empty));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphNodeGetType(c_empty, &type)) << "a destroyed node";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(clone, nullptr, &count));
  EXPECT_SAME_VALUE(2, count);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &count));
  EXPECT_SAME_VALUE(3, count);
  CUgraphNode c1_found = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphNodeFindInClone(&c1_found, m1, graph)) << "not a clone";

  // The DOT text: through the pool the server makes it and the shim writes the file here.
  const std::string dot = ::testing::TempDir() + "gpool_graph_" + std::to_string(::getpid()) + ".dot";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDebugDotPrint(graph, dot.c_str(), 0));
  std::ifstream in(dot);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(dot.c_str());
  EXPECT_SAME_VALUE(true, text.rfind("digraph", 0) == 0) << text;
  EXPECT_SAME_VALUE(true, text.find("->") != std::string::npos) << "the edges are in the text";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphDebugDotPrint(graph, nullptr, 0));

  const CUDA_MEMSET_NODE_PARAMS third = memset_params(16, 3);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemsetNodeSetParams(m2, &third));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemsetNodeGetParams(m2, &got));
  EXPECT_SAME_VALUE(3, got.value);

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  cuuint64_t flags = 99;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecGetFlags(exec, &flags));
  EXPECT_SAME_VALUE(0, flags);
  unsigned enabled = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetEnabled(exec, m1, &enabled));
  EXPECT_SAME_VALUE(1, enabled);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeSetEnabled(exec, m1, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetEnabled(exec, m1, &enabled));
  EXPECT_SAME_VALUE(0, enabled);
  const CUDA_MEMSET_NODE_PARAMS seventh = memset_params(16, 7);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecMemsetNodeSetParams(exec, m2, &seventh, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemsetNodeGetParams(m2, &got));
  EXPECT_SAME_VALUE(3, got.value) << "the exec's setter leaves the graph's node alone";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  std::vector<unsigned> host(n);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), p, n * 4));
  EXPECT_SAME_VALUE(0, host[0]) << "the disabled node did not run";
  EXPECT_SAME_VALUE(7, host[16]);
  EXPECT_SAME_VALUE(0, host[32]);

  CUgraphExec clone_exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&clone_exec, clone, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(clone_exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), p, n * 4));
  EXPECT_SAME_VALUE(1, host[15]);
  EXPECT_SAME_VALUE(2, host[31]) << "the clone kept the value it was cloned with";

  // Copy and child-graph nodes: the graph's copy parameters before instantiation, then the
  // exec's copy source and child graph.
  CUdeviceptr q = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&q, 32));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(q, 9, 8));
  CUgraph child_a = nullptr, child_b = nullptr, outer = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&child_a, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&child_b, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&outer, 0));
  CUDA_MEMSET_NODE_PARAMS five{}, six{};
  five.dst = six.dst = q + 16;
  five.elementSize = six.elementSize = 4;
  five.width = six.width = 4;
  five.height = six.height = 1;
  five.value = 5;
  six.value = 6;
  CUgraphNode ma = nullptr, mb = nullptr, cp = nullptr, child_node = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemsetNode(&ma, child_a, nullptr, 0, &five, nullptr));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemsetNode(&mb, child_b, nullptr, 0, &six, nullptr));
  CUDA_MEMCPY3D copy{};
  copy.srcMemoryType = copy.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  copy.srcDevice = p + 64;
  copy.dstDevice = q;
  copy.WidthInBytes = 16;
  copy.Height = copy.Depth = 1;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&cp, outer, nullptr, 0, &copy, nullptr));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddChildGraphNode(&child_node, outer, &cp, 1, child_a));
  copy.srcDevice = p;  // host[0..15] is 1
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemcpyNodeSetParams(cp, &copy));
  CUgraphExec outer_exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&outer_exec, outer, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecChildGraphNodeSetParams(outer_exec, child_node, child_b));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(outer_exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  unsigned small[8] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(small, q, 32));
  EXPECT_SAME_VALUE(1, small[0]) << "the graph's new copy source";
  EXPECT_SAME_VALUE(6, small[4]) << "the exec's new child graph";
  copy.srcDevice = p + 128;  // host[32..35] is 0
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecMemcpyNodeSetParams(outer_exec, cp, &copy, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(outer_exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(small, q, 32));
  EXPECT_SAME_VALUE(0, small[3]) << "the exec's new copy source";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(outer_exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(outer));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(child_a));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(child_b));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(q));

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(clone_exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(clone));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
}

}  // namespace
}  // namespace diff
