// Graphs and stream capture: a capture with a fork and a join through an event, the captured
// graph's shape, replays of the instantiated graph in stream order, and the invalidation of a
// capture by a synchronous use of the capturing stream. Through the pool the capture happens on
// the server and the graph is launched with one async call (docs/architecture.md).
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

}  // namespace
}  // namespace diff
