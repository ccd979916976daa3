// Stream capture rules and graph structure on the emulator (capture.h, graph.h): what is
// recorded, the errors of the invalidation rules, fork/join bookkeeping, capture modes, and
// the ordering of a graph launch against other work on its stream.
#include "test_util.h"

#include <thread>
#include <vector>

namespace {

class GraphTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    ASSERT_CU(cuModuleLoadData(&mod_, kTestPtx));
    ASSERT_CU(cuModuleGetFunction(&add_, mod_, "add_k"));
    ASSERT_CU(cuMemAlloc(&buf_, kN * 4));
    ASSERT_CU(cuMemsetD32(buf_, 0, kN));
    ASSERT_CU(cuStreamCreate(&s1_, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(cuStreamCreate(&s2_, CU_STREAM_NON_BLOCKING));
  }
  void TearDown() override {
    cuStreamDestroy(s1_);
    cuStreamDestroy(s2_);
    cuMemFree(buf_);
    cuModuleUnload(mod_);
    RuntimeTest::TearDown();
  }
  CUresult launch(CUstream s) {
    unsigned n = kN;
    void* args[] = {&buf_, &n};
    return cuLaunchKernel(add_, 1, 1, 1, kN, 1, 1, 0, s, args, nullptr);
  }
  unsigned value0() {
    unsigned v = 0;
    EXPECT_CU(cuMemcpyDtoH(&v, buf_, 4));
    return v;
  }
  size_t node_count(CUgraph g) {
    size_t n = 0;
    EXPECT_CU(cuGraphGetNodes(g, nullptr, &n));
    return n;
  }
  static constexpr unsigned kN = 64;
  CUmodule mod_ = nullptr;
  CUfunction add_ = nullptr;
  CUdeviceptr buf_ = 0;
  CUstream s1_ = nullptr, s2_ = nullptr;
};

TEST_F(GraphTest, CapturedWorkDoesNotRunUntilLaunched) {
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(launch(s1_));
  ASSERT_CU(launch(s1_));
  CUgraph g = nullptr;
  ASSERT_CU(cuStreamEndCapture(s1_, &g));
  EXPECT_EQ(value0(), 0u);
  EXPECT_EQ(node_count(g), 2u);
  CUgraphExec e = nullptr;
  ASSERT_CU(cuGraphInstantiate(&e, g, 0));
  ASSERT_CU(cuGraphLaunch(e, s1_));
  ASSERT_CU(cuGraphLaunch(e, s1_));
  ASSERT_CU(cuStreamSynchronize(s1_));
  EXPECT_EQ(value0(), 20u);  // 2 launches x 2 nodes x addend 5
  EXPECT_CU(cuGraphExecDestroy(e));
  EXPECT_CU(cuGraphDestroy(g));
}

TEST_F(GraphTest, BeginCaptureErrors) {
  EXPECT_EQ(cuStreamBeginCapture(CU_STREAM_LEGACY, CU_STREAM_CAPTURE_MODE_GLOBAL), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_RELAXED));
  EXPECT_EQ(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_RELAXED), CUDA_ERROR_ILLEGAL_STATE);
  CUgraph g = nullptr;
  EXPECT_EQ(cuStreamEndCapture(s2_, &g), CUDA_ERROR_ILLEGAL_STATE);  // not capturing
  ASSERT_CU(cuStreamEndCapture(s1_, &g));
  EXPECT_EQ(node_count(g), 0u);
  EXPECT_CU(cuGraphDestroy(g));
}

TEST_F(GraphTest, SynchronousUseInvalidates) {
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(launch(s1_));
  EXPECT_EQ(cuStreamQuery(s1_), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CUstreamCaptureStatus st;
  ASSERT_CU(cuStreamIsCapturing(s1_, &st));
  EXPECT_EQ(st, CU_STREAM_CAPTURE_STATUS_INVALIDATED);
  EXPECT_EQ(launch(s1_), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  CUgraph g = reinterpret_cast<CUgraph>(1);
  EXPECT_EQ(cuStreamEndCapture(s1_, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  EXPECT_EQ(g, nullptr);
  ASSERT_CU(cuStreamIsCapturing(s1_, &st));
  EXPECT_EQ(st, CU_STREAM_CAPTURE_STATUS_NONE);
  EXPECT_EQ(value0(), 0u);  // nothing captured ever ran
}

TEST_F(GraphTest, LegacyStreamNextToBlockingCaptureIsImplicit) {
  CUstream blocking = nullptr;
  ASSERT_CU(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
  ASSERT_CU(cuStreamBeginCapture(blocking, CU_STREAM_CAPTURE_MODE_RELAXED));
  CUstreamCaptureStatus st;
  EXPECT_EQ(cuStreamIsCapturing(CU_STREAM_LEGACY, &st), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  EXPECT_EQ(launch(CU_STREAM_LEGACY), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  CUgraph g = nullptr;
  EXPECT_EQ(cuStreamEndCapture(blocking, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  // A non-blocking stream's capture leaves the legacy stream alone.
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_RELAXED));
  EXPECT_CU(launch(CU_STREAM_LEGACY));
  ASSERT_CU(cuStreamEndCapture(s1_, &g));
  EXPECT_CU(cuGraphDestroy(g));
  EXPECT_CU(cuStreamDestroy(blocking));
}

TEST_F(GraphTest, UnsafeCallsFollowTheCaptureMode) {
  CUdeviceptr p = 0;
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_EQ(cuMemAlloc(&p, 16), CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  CUgraph g = nullptr;
  EXPECT_EQ(cuStreamEndCapture(s1_, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);

  // Relaxed capture: allocation is allowed.
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_RELAXED));
  EXPECT_CU(cuMemAlloc(&p, 16));
  EXPECT_CU(cuMemFree(p));
  ASSERT_CU(cuStreamEndCapture(s1_, &g));
  EXPECT_CU(cuGraphDestroy(g));

  // A global capture on another thread forbids it here, unless this thread is relaxed.
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUresult other = CUDA_SUCCESS, relaxed = CUDA_ERROR_UNKNOWN;
  std::thread t([&] {
    cuCtxSetCurrent(ctx_);
    CUdeviceptr q = 0;
    CUstreamCaptureMode m = CU_STREAM_CAPTURE_MODE_RELAXED;
    cuThreadExchangeStreamCaptureMode(&m);
    relaxed = cuMemAlloc(&q, 16);
    if (relaxed == CUDA_SUCCESS) cuMemFree(q);
    cuThreadExchangeStreamCaptureMode(&m);  // back to global
    other = cuMemAlloc(&q, 16);
  });
  t.join();
  EXPECT_CU(relaxed);
  EXPECT_EQ(other, CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED);
  EXPECT_EQ(cuStreamEndCapture(s1_, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
}

TEST_F(GraphTest, EndCaptureOnWrongThreadOrStream) {
  CUevent ev = nullptr;
  ASSERT_CU(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(launch(s1_));
  ASSERT_CU(cuEventRecord(ev, s1_));
  ASSERT_CU(cuStreamWaitEvent(s2_, ev, 0));  // s2 joins
  CUgraph g = nullptr;
  CUresult other_thread = CUDA_SUCCESS;
  std::thread t([&] {
    cuCtxSetCurrent(ctx_);
    CUgraph tg = nullptr;
    other_thread = cuStreamEndCapture(s1_, &tg);
  });
  t.join();
  EXPECT_EQ(other_thread, CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD);
  EXPECT_EQ(cuStreamEndCapture(s2_, &g), CUDA_ERROR_STREAM_CAPTURE_UNMATCHED);
  EXPECT_EQ(cuStreamEndCapture(s1_, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  EXPECT_CU(cuEventDestroy(ev));
}

TEST_F(GraphTest, ForkWithoutJoinIsUnjoined) {
  CUevent ev = nullptr;
  ASSERT_CU(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(cuEventRecord(ev, s1_));
  EXPECT_EQ(cuEventQuery(ev), CUDA_ERROR_CAPTURED_EVENT);
  ASSERT_CU(cuStreamWaitEvent(s2_, ev, 0));
  ASSERT_CU(launch(s2_));
  CUgraph g = nullptr;
  EXPECT_EQ(cuStreamEndCapture(s1_, &g), CUDA_ERROR_STREAM_CAPTURE_UNJOINED);
  CUstreamCaptureStatus st;
  ASSERT_CU(cuStreamIsCapturing(s2_, &st));
  EXPECT_EQ(st, CU_STREAM_CAPTURE_STATUS_NONE);
  EXPECT_CU(cuEventQuery(ev));  // no longer a pending capture record
  EXPECT_CU(cuEventDestroy(ev));
}

TEST_F(GraphTest, WaitOnOutsideEventIsIsolation) {
  CUevent ev = nullptr;
  ASSERT_CU(cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(cuEventRecord(ev, s2_));
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_EQ(cuStreamWaitEvent(s1_, ev, 0), CUDA_ERROR_STREAM_CAPTURE_ISOLATION);
  CUgraph g = nullptr;
  EXPECT_EQ(cuStreamEndCapture(s1_, &g), CUDA_ERROR_STREAM_CAPTURE_INVALIDATED);
  EXPECT_CU(cuEventDestroy(ev));
}

TEST_F(GraphTest, CaptureInfoAndUpdateDependencies) {
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(launch(s1_));
  CUstreamCaptureStatus st;
  cuuint64_t id = 0;
  CUgraph g = nullptr;
  const CUgraphNode* deps = nullptr;
  const CUgraphEdgeData* edges = nullptr;
  size_t n = 0;
  ASSERT_CU(cuStreamGetCaptureInfo(s1_, &st, &id, &g, &deps, &edges, &n));
  EXPECT_EQ(st, CU_STREAM_CAPTURE_STATUS_ACTIVE);
  EXPECT_NE(id, 0u);
  ASSERT_EQ(n, 1u);
  CUgraphNode first = deps[0];
  CUgraphNodeType type;
  ASSERT_CU(cuGraphNodeGetType(first, &type));
  EXPECT_EQ(type, CU_GRAPH_NODE_TYPE_KERNEL);
  // Add a node to the capture graph by hand and make the stream depend on it and on `first`.
  CUgraphNode empty = nullptr;
  ASSERT_CU(cuGraphAddEmptyNode(&empty, g, nullptr, 0));
  ASSERT_CU(cuStreamUpdateCaptureDependencies(s1_, &empty, nullptr, 1, CU_STREAM_ADD_CAPTURE_DEPENDENCIES));
  ASSERT_CU(cuStreamGetCaptureInfo(s1_, &st, nullptr, nullptr, nullptr, nullptr, &n));
  EXPECT_EQ(n, 2u);
  // The graph being captured into cannot be destroyed, nor its nodes, until the capture ends.
  EXPECT_EQ(cuGraphDestroy(g), CUDA_ERROR_ILLEGAL_STATE);
  EXPECT_EQ(cuGraphDestroyNode(empty), CUDA_ERROR_ILLEGAL_STATE);
  ASSERT_CU(launch(s1_));
  CUgraph out = nullptr;
  ASSERT_CU(cuStreamEndCapture(s1_, &out));
  EXPECT_EQ(out, g);
  size_t edge_count = 0;
  ASSERT_CU(cuGraphGetEdges(out, nullptr, nullptr, nullptr, &edge_count));
  EXPECT_EQ(edge_count, 2u);  // kernel -> kernel, empty -> kernel
  EXPECT_EQ(cuStreamUpdateCaptureDependencies(s1_, &empty, nullptr, 1, CU_STREAM_SET_CAPTURE_DEPENDENCIES),
            CUDA_ERROR_ILLEGAL_STATE);
  EXPECT_CU(cuGraphDestroy(out));
}

TEST_F(GraphTest, LaunchIsOrderedWithOtherStreamWork) {
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(launch(s1_));
  CUgraph g = nullptr;
  ASSERT_CU(cuStreamEndCapture(s1_, &g));
  CUgraphExec e = nullptr;
  ASSERT_CU(cuGraphInstantiate(&e, g, 0));
  // memset to 100, graph (+5), memset to 1, graph (+5): the last value is 6 only in order.
  ASSERT_CU(cuMemsetD32Async(buf_, 100, kN, s2_));
  ASSERT_CU(cuGraphLaunch(e, s2_));
  ASSERT_CU(cuMemsetD32Async(buf_, 1, kN, s2_));
  ASSERT_CU(cuGraphLaunch(e, s2_));
  ASSERT_CU(cuStreamSynchronize(s2_));
  std::vector<unsigned> host(kN);
  ASSERT_CU(cuMemcpyDtoH(host.data(), buf_, kN * 4));
  for (unsigned v : host) EXPECT_EQ(v, 6u);
  EXPECT_CU(cuGraphExecDestroy(e));
  EXPECT_CU(cuGraphDestroy(g));
}

TEST_F(GraphTest, GraphLaunchIntoCaptureBecomesChildNode) {
  ASSERT_CU(cuStreamBeginCapture(s1_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(launch(s1_));
  CUgraph inner = nullptr;
  ASSERT_CU(cuStreamEndCapture(s1_, &inner));
  CUgraphExec ie = nullptr;
  ASSERT_CU(cuGraphInstantiate(&ie, inner, 0));
  ASSERT_CU(cuStreamBeginCapture(s2_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(cuGraphLaunch(ie, s2_));
  ASSERT_CU(cuGraphLaunch(ie, s2_));
  CUgraph outer = nullptr;
  ASSERT_CU(cuStreamEndCapture(s2_, &outer));
  std::vector<CUgraphNode> nodes(2);
  size_t n = 2;
  ASSERT_CU(cuGraphGetNodes(outer, nodes.data(), &n));
  ASSERT_EQ(n, 2u);
  CUgraphNodeType type;
  ASSERT_CU(cuGraphNodeGetType(nodes[0], &type));
  EXPECT_EQ(type, CU_GRAPH_NODE_TYPE_GRAPH);
  CUgraphExec oe = nullptr;
  ASSERT_CU(cuGraphInstantiate(&oe, outer, 0));
  ASSERT_CU(cuGraphLaunch(oe, s1_));
  ASSERT_CU(cuStreamSynchronize(s1_));
  EXPECT_EQ(value0(), 10u);
  EXPECT_CU(cuGraphExecDestroy(oe));
  EXPECT_CU(cuGraphExecDestroy(ie));
  EXPECT_CU(cuGraphDestroy(outer));
  EXPECT_CU(cuGraphDestroy(inner));
}

TEST_F(GraphTest, ForgedHandlesAreRefused) {
  int junk = 0;
  auto forged_graph = reinterpret_cast<CUgraph>(&junk);
  auto forged_node = reinterpret_cast<CUgraphNode>(&junk);
  auto forged_exec = reinterpret_cast<CUgraphExec>(&junk);
  size_t n = 0;
  CUgraphNodeType type;
  CUgraphExec e = nullptr;
  EXPECT_EQ(cuGraphGetNodes(forged_graph, nullptr, &n), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGraphNodeGetType(forged_node, &type), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGraphInstantiate(&e, forged_graph, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGraphLaunch(forged_exec, s1_), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGraphDestroy(forged_graph), CUDA_ERROR_INVALID_VALUE);
  // A node of another graph cannot be a dependency.
  CUgraph a = nullptr, b = nullptr;
  ASSERT_CU(cuGraphCreate(&a, 0));
  ASSERT_CU(cuGraphCreate(&b, 0));
  CUgraphNode na = nullptr, nb = nullptr;
  ASSERT_CU(cuGraphAddEmptyNode(&na, a, nullptr, 0));
  EXPECT_EQ(cuGraphAddEmptyNode(&nb, b, &na, 1), CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(cuGraphDestroy(a));
  EXPECT_EQ(cuGraphNodeGetType(na, &type), CUDA_ERROR_INVALID_VALUE);  // died with its graph
  EXPECT_CU(cuGraphDestroy(b));
}

// A primary-context reset ends a capture in progress on its streams: afterwards the legacy
// stream is not "next to a capture" any more.
TEST(GraphReset, PrimaryContextResetEndsCaptures) {
  ASSERT_CU(cuInit(0));
  CUcontext ctx = nullptr;
  ASSERT_CU(cuDevicePrimaryCtxRetain(&ctx, 0));
  ASSERT_CU(cuCtxSetCurrent(ctx));
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, CU_STREAM_DEFAULT));
  ASSERT_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_RELAXED));
  CUstreamCaptureStatus st;
  EXPECT_EQ(cuStreamIsCapturing(CU_STREAM_LEGACY, &st), CUDA_ERROR_STREAM_CAPTURE_IMPLICIT);
  ASSERT_CU(cuDevicePrimaryCtxReset(0));
  ASSERT_CU(cuDevicePrimaryCtxRetain(&ctx, 0));
  ASSERT_CU(cuCtxSetCurrent(ctx));
  ASSERT_CU(cuStreamIsCapturing(CU_STREAM_LEGACY, &st));
  EXPECT_EQ(st, CU_STREAM_CAPTURE_STATUS_NONE);
  ASSERT_CU(cuCtxSynchronize());
  cuDevicePrimaryCtxRelease(0);
}

}  // namespace
