// Kernel node attributes and user objects on the emulator (graph_attr.cc, user_object.h): what
// the differential suite cannot check on every backend. A cooperative attribute on a grid that
// cannot be resident is refused; cuLaunchCooperativeKernel captured gives a cooperative node;
// USE_NODE_PRIORITY makes a priority change an ATTRIBUTES_CHANGED update failure; a destructor
// runs on a thread of the emulator, not the releasing caller's; a graph launched into a capture
// hands its exec's references to the captured child graph.
#include "test_util.h"

#include <atomic>
#include <chrono>
#include <thread>

namespace {

class GraphAttrTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    ASSERT_CU(cuModuleLoadData(&mod_, kTestPtx));
    ASSERT_CU(cuModuleGetFunction(&add_, mod_, "add_k"));
    ASSERT_CU(cuMemAlloc(&buf_, 4));
    ASSERT_CU(cuStreamCreate(&s_, CU_STREAM_NON_BLOCKING));
  }
  void TearDown() override {
    cuStreamDestroy(s_);
    cuMemFree(buf_);
    cuModuleUnload(mod_);
    RuntimeTest::TearDown();
  }
  CUgraphNode add_kernel(CUgraph g, unsigned grid) {
    void* args[] = {&buf_, &n_};
    CUDA_KERNEL_NODE_PARAMS p{};
    p.func = add_;
    p.gridDimX = grid;
    p.gridDimY = p.gridDimZ = 1;
    p.blockDimX = p.blockDimY = p.blockDimZ = 1;
    p.kernelParams = args;
    CUgraphNode node = nullptr;
    EXPECT_CU(cuGraphAddKernelNode(&node, g, nullptr, 0, &p));
    return node;
  }
  CUmodule mod_ = nullptr;
  CUfunction add_ = nullptr;
  CUdeviceptr buf_ = 0;
  CUstream s_ = nullptr;
  unsigned n_ = 1;
};

TEST_F(GraphAttrTest, CooperativeOnAGridTooLargeIsRefused) {
  CUgraph g = nullptr;
  ASSERT_CU(cuGraphCreate(&g, 0));
  CUgraphNode big = add_kernel(g, 1u << 30);
  CUlaunchAttributeValue v{};
  v.cooperative = 1;
  EXPECT_EQ(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE,
            cuGraphKernelNodeSetAttribute(big, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, &v));
  CUlaunchAttributeValue out{};
  ASSERT_CU(cuGraphKernelNodeGetAttribute(big, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, &out));
  EXPECT_EQ(0, out.cooperative) << "a refused set leaves the node as it was";
  // A cooperative node whose new parameters no longer fit is refused too, and keeps its old ones.
  CUgraphNode small = add_kernel(g, 1);
  ASSERT_CU(cuGraphKernelNodeSetAttribute(small, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, &v));
  CUDA_KERNEL_NODE_PARAMS p{};
  ASSERT_CU(cuGraphKernelNodeGetParams(small, &p));
  p.gridDimX = 1u << 30;
  EXPECT_EQ(CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE, cuGraphKernelNodeSetParams(small, &p));
  ASSERT_CU(cuGraphKernelNodeGetParams(small, &p));
  EXPECT_EQ(1u, p.gridDimX);
  // Device-updatable nodes are not emulated.
  CUlaunchAttributeValue du{};
  du.deviceUpdatableKernelNode.deviceUpdatable = 1;
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED,
            cuGraphKernelNodeSetAttribute(small, CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE, &du));
  EXPECT_CU(cuGraphDestroy(g));
}

TEST_F(GraphAttrTest, CapturedCooperativeLaunchAndNodePriorityUpdates) {
  void* args[] = {&buf_, &n_};
  ASSERT_CU(cuStreamBeginCapture(s_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(cuLaunchCooperativeKernel(add_, 1, 1, 1, 1, 1, 1, 0, s_, args));
  CUgraph g = nullptr;
  ASSERT_CU(cuStreamEndCapture(s_, &g));
  CUgraphNode k = nullptr;
  size_t count = 1;
  ASSERT_CU(cuGraphGetNodes(g, &k, &count));
  CUlaunchAttributeValue v{};
  ASSERT_CU(cuGraphKernelNodeGetAttribute(k, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, &v));
  EXPECT_EQ(1, v.cooperative);

  CUgraphExec e = nullptr;
  ASSERT_CU(cuGraphInstantiateWithFlags(&e, g, CUDA_GRAPH_INSTANTIATE_FLAG_USE_NODE_PRIORITY));
  CUgraph other = nullptr;
  ASSERT_CU(cuGraphClone(&other, g));
  CUgraphNode ok = nullptr;
  ASSERT_CU(cuGraphNodeFindInClone(&ok, k, other));
  v = {};
  v.priority = -1;
  ASSERT_CU(cuGraphKernelNodeSetAttribute(ok, CU_LAUNCH_ATTRIBUTE_PRIORITY, &v));
  CUgraphExecUpdateResultInfo info{};
  EXPECT_EQ(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, cuGraphExecUpdate(e, other, &info));
  EXPECT_EQ(CU_GRAPH_EXEC_UPDATE_ERROR_ATTRIBUTES_CHANGED, info.result);
  EXPECT_EQ(ok, info.errorNode);
  EXPECT_CU(cuGraphExecDestroy(e));
  EXPECT_CU(cuGraphDestroy(other));
  EXPECT_CU(cuGraphDestroy(g));
}

struct Seen {
  std::atomic<int> calls{0};
  std::atomic<bool> on_caller{false};
  std::thread::id caller;
};

void note(void* p) {
  auto* s = static_cast<Seen*>(p);
  if (std::this_thread::get_id() == s->caller) s->on_caller = true;
  s->calls.fetch_add(1);
}

int wait_calls(const Seen& s, int want) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (s.calls.load() < want && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return s.calls.load();
}

TEST_F(GraphAttrTest, DestructorRunsOnAnEmulatorThread) {
  static Seen seen;
  seen.caller = std::this_thread::get_id();
  CUuserObject o = nullptr;
  ASSERT_CU(cuUserObjectCreate(&o, &seen, note, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  ASSERT_CU(cuUserObjectRelease(o, 1));
  EXPECT_EQ(1, wait_calls(seen, 1));
  EXPECT_FALSE(seen.on_caller.load());
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuUserObjectRetain(o, 1)) << "a dead handle";
}

TEST_F(GraphAttrTest, ExecLaunchedIntoACaptureHandsItsReferencesToTheChild) {
  static Seen seen;
  seen.caller = std::this_thread::get_id();
  CUuserObject o = nullptr;
  ASSERT_CU(cuUserObjectCreate(&o, &seen, note, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  CUgraph g = nullptr;
  ASSERT_CU(cuGraphCreate(&g, 0));
  add_kernel(g, 1);
  ASSERT_CU(cuGraphRetainUserObject(g, o, 1, CU_GRAPH_USER_OBJECT_MOVE));
  CUgraphExec e = nullptr;
  ASSERT_CU(cuGraphInstantiateWithFlags(&e, g, 0));
  ASSERT_CU(cuGraphDestroy(g));
  ASSERT_CU(cuStreamBeginCapture(s_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(cuGraphLaunch(e, s_));
  CUgraph captured = nullptr;
  ASSERT_CU(cuStreamEndCapture(s_, &captured));
  ASSERT_CU(cuGraphExecDestroy(e));
  EXPECT_EQ(0, seen.calls.load()) << "the captured child graph holds a copy";
  ASSERT_CU(cuGraphDestroy(captured));
  EXPECT_EQ(1, wait_calls(seen, 1));
}

}  // namespace
