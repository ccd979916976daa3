// Conditional graph nodes on the emulator (graph_cond.h) without device-side sets: the handle's
// default choosing a body at every launch, the node kinds bodies may hold, cuGraphExecUpdate's
// rules for conditional nodes, a capture into a body keeping its graph alive, clones and DOT text.
// Device-side cudaGraphSetConditional: examples/graph_conditional.cu and the differential suite.
#include "test_util.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

namespace {

class GraphCondTest : public RuntimeTest {
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
  // Adds add_k(buf, 1) (adds 5 to buf[0]) to `g`.
  void add_kernel(CUgraph g) {
    unsigned n = 1;
    void* args[] = {&buf_, &n};
    CUDA_KERNEL_NODE_PARAMS p{};
    p.func = add_;
    p.gridDimX = p.gridDimY = p.gridDimZ = 1;
    p.blockDimX = p.blockDimY = p.blockDimZ = 1;
    p.kernelParams = args;
    CUgraphNode node = nullptr;
    ASSERT_CU(cuGraphAddKernelNode(&node, g, nullptr, 0, &p));
  }
  // A conditional node of `g`; returns its bodies in *bodies.
  CUresult add_cond(CUgraph g, CUgraphConditionalHandle h, CUgraphConditionalNodeType type, unsigned size,
                    CUgraphNode* node, CUgraph** bodies) {
    CUgraphNodeParams p{};
    p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
    p.conditional.handle = h;
    p.conditional.type = type;
    p.conditional.size = size;
    const CUresult r = cuGraphAddNode(node, g, nullptr, nullptr, 0, &p);
    *bodies = p.conditional.phGraph_out;
    return r;
  }
  // Runs `e` once from buf[0] = 0 and returns buf[0].
  unsigned run(CUgraphExec e) {
    EXPECT_CU(cuMemsetD32(buf_, 0, 1));
    EXPECT_CU(cuGraphLaunch(e, s_));
    EXPECT_CU(cuStreamSynchronize(s_));
    unsigned v = 0;
    EXPECT_CU(cuMemcpyDtoH(&v, buf_, 4));
    return v;
  }
  CUmodule mod_ = nullptr;
  CUfunction add_ = nullptr;
  CUdeviceptr buf_ = 0;
  CUstream s_ = nullptr;
};

TEST_F(GraphCondTest, DefaultValueChoosesTheBodyAtEveryLaunch) {
  for (unsigned def : {0u, 1u, 2u}) {
    CUgraph g = nullptr;
    ASSERT_CU(cuGraphCreate(&g, 0));
    CUgraphConditionalHandle h = 0;
    ASSERT_CU(cuGraphConditionalHandleCreate(&h, g, ctx_, def, CU_GRAPH_COND_ASSIGN_DEFAULT));
    CUgraphNode node = nullptr;
    CUgraph* bodies = nullptr;
    ASSERT_CU(add_cond(g, h, CU_GRAPH_COND_TYPE_SWITCH, 2, &node, &bodies));
    ASSERT_NE(bodies, nullptr);
    add_kernel(bodies[0]);  // +5
    add_kernel(bodies[1]);  // +10 in total
    add_kernel(bodies[1]);
    CUgraphExec e = nullptr;
    ASSERT_CU(cuGraphInstantiate(&e, g, 0));
    const unsigned want = def == 0 ? 5 : def == 1 ? 10 : 0;
    EXPECT_EQ(run(e), want) << "default " << def;
    EXPECT_EQ(run(e), want) << "default " << def << ", second launch";
    EXPECT_CU(cuGraphExecDestroy(e));
    EXPECT_CU(cuGraphDestroy(g));
  }
}

TEST_F(GraphCondTest, BodiesHoldOnlyTheAllowedKinds) {
  CUgraph g = nullptr;
  ASSERT_CU(cuGraphCreate(&g, 0));
  CUgraphConditionalHandle h = 0;
  ASSERT_CU(cuGraphConditionalHandleCreate(&h, g, ctx_, 1, 0));
  CUgraphNode node = nullptr;
  CUgraph* bodies = nullptr;
  ASSERT_CU(add_cond(g, h, CU_GRAPH_COND_TYPE_IF, 1, &node, &bodies));
  CUDA_HOST_NODE_PARAMS hp{};
  hp.fn = [](void*) {};
  CUgraphNode host = nullptr;
  ASSERT_CU(cuGraphAddHostNode(&host, bodies[0], nullptr, 0, &hp));
  CUgraphExec e = nullptr;
  CUDA_GRAPH_INSTANTIATE_PARAMS ip{};
  EXPECT_EQ(cuGraphInstantiateWithParams(&e, g, &ip), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(ip.result_out, CUDA_GRAPH_INSTANTIATE_NODE_OPERATION_NOT_SUPPORTED);
  EXPECT_EQ(ip.hErrNode_out, host);
  EXPECT_EQ(cuGraphDestroy(bodies[0]), CUDA_ERROR_INVALID_VALUE) << "a body belongs to its node";
  EXPECT_CU(cuGraphDestroy(g));
}

TEST_F(GraphCondTest, ExecUpdateKeepsKindAndBodyCount) {
  auto make = [&](CUgraphConditionalNodeType type, unsigned size, int kernels, CUgraph* out) {
    ASSERT_CU(cuGraphCreate(out, 0));
    CUgraphConditionalHandle h = 0;
    ASSERT_CU(cuGraphConditionalHandleCreate(&h, *out, ctx_, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
    CUgraphNode node = nullptr;
    CUgraph* bodies = nullptr;
    ASSERT_CU(add_cond(*out, h, type, size, &node, &bodies));
    for (int i = 0; i < kernels; ++i) add_kernel(bodies[0]);
  };
  CUgraph g = nullptr, same = nullptr, bigger = nullptr, other_kind = nullptr, other_body = nullptr;
  make(CU_GRAPH_COND_TYPE_IF, 1, 1, &g);
  make(CU_GRAPH_COND_TYPE_IF, 1, 1, &same);
  make(CU_GRAPH_COND_TYPE_IF, 2, 1, &bigger);
  make(CU_GRAPH_COND_TYPE_WHILE, 1, 1, &other_kind);
  make(CU_GRAPH_COND_TYPE_IF, 1, 2, &other_body);
  CUgraphExec e = nullptr;
  ASSERT_CU(cuGraphInstantiate(&e, g, 0));
  EXPECT_EQ(run(e), 5u);
  CUgraphExecUpdateResultInfo info{};
  EXPECT_EQ(cuGraphExecUpdate(e, bigger, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
  EXPECT_EQ(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED);
  EXPECT_EQ(cuGraphExecUpdate(e, other_kind, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
  EXPECT_EQ(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_PARAMETERS_CHANGED);
  EXPECT_EQ(cuGraphExecUpdate(e, other_body, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
  EXPECT_EQ(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_TOPOLOGY_CHANGED);
  ASSERT_CU(cuGraphExecUpdate(e, same, &info));
  // The updated exec uses `same`'s handle, which outlives `g`.
  EXPECT_CU(cuGraphDestroy(g));
  EXPECT_EQ(run(e), 5u);
  EXPECT_CU(cuGraphExecDestroy(e));
  for (CUgraph x : {same, bigger, other_kind, other_body}) EXPECT_CU(cuGraphDestroy(x));
}

TEST_F(GraphCondTest, CaptureIntoABodyKeepsItsGraphAlive) {
  CUgraph g = nullptr;
  ASSERT_CU(cuGraphCreate(&g, 0));
  CUgraphConditionalHandle h = 0;
  ASSERT_CU(cuGraphConditionalHandleCreate(&h, g, ctx_, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
  CUgraphNode node = nullptr;
  CUgraph* bodies = nullptr;
  ASSERT_CU(add_cond(g, h, CU_GRAPH_COND_TYPE_IF, 1, &node, &bodies));
  CUgraph body = bodies[0];
  ASSERT_CU(cuStreamBeginCaptureToGraph(s_, body, nullptr, nullptr, 0, CU_STREAM_CAPTURE_MODE_GLOBAL));
  unsigned n = 1;
  void* args[] = {&buf_, &n};
  ASSERT_CU(cuLaunchKernel(add_, 1, 1, 1, 1, 1, 1, 0, s_, args, nullptr));
  EXPECT_EQ(cuGraphDestroy(g), CUDA_ERROR_ILLEGAL_STATE);
  EXPECT_EQ(cuGraphDestroyNode(node), CUDA_ERROR_ILLEGAL_STATE);
  CUgraph captured = nullptr;
  ASSERT_CU(cuStreamEndCapture(s_, &captured));
  EXPECT_EQ(captured, body);
  // A clone shares the handle and runs the captured body.
  CUgraph clone = nullptr;
  ASSERT_CU(cuGraphClone(&clone, g));
  CUgraphExec e = nullptr;
  ASSERT_CU(cuGraphInstantiate(&e, clone, 0));
  EXPECT_EQ(run(e), 5u);
  // DOT text draws the body as a cluster.
  char path[] = "/tmp/gpool_graph_cond_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_CU(cuGraphDebugDotPrint(g, path, 0));
  std::ifstream in(path);
  const std::string dot((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::remove(path);
  EXPECT_NE(dot.find("conditional 0 (if"), std::string::npos) << dot;
  EXPECT_NE(dot.find("body 0"), std::string::npos) << dot;
  EXPECT_CU(cuGraphExecDestroy(e));
  EXPECT_CU(cuGraphDestroy(clone));
  EXPECT_CU(cuGraphDestroyNode(node));
  EXPECT_CU(cuGraphDestroy(g));
}

TEST_F(GraphCondTest, HandleArgumentsAreChecked) {
  CUgraph g = nullptr;
  ASSERT_CU(cuGraphCreate(&g, 0));
  CUgraphConditionalHandle h = 0;
  EXPECT_EQ(cuGraphConditionalHandleCreate(nullptr, g, ctx_, 0, 0), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGraphConditionalHandleCreate(&h, g, ctx_, 0, 2), CUDA_ERROR_INVALID_VALUE) << "unknown flag";
  EXPECT_EQ(cuGraphConditionalHandleCreate(&h, nullptr, ctx_, 0, 0), CUDA_ERROR_INVALID_VALUE);
  CUgraphNode node = nullptr;
  CUgraph* bodies = nullptr;
  EXPECT_EQ(add_cond(g, 12345, CU_GRAPH_COND_TYPE_IF, 1, &node, &bodies), CUDA_ERROR_INVALID_VALUE);
  // A handle made on another graph (not one enclosing the node's) is refused.
  CUgraph other = nullptr;
  ASSERT_CU(cuGraphCreate(&other, 0));
  CUgraphConditionalHandle foreign = 0;
  ASSERT_CU(cuGraphConditionalHandleCreate(&foreign, other, ctx_, 0, 0));
  EXPECT_EQ(add_cond(g, foreign, CU_GRAPH_COND_TYPE_IF, 1, &node, &bodies), CUDA_ERROR_INVALID_VALUE);
  // A conditional node's parameters are fixed (the emulator's answer: CUDA_ERROR_INVALID_VALUE).
  ASSERT_CU(cuGraphConditionalHandleCreate(&h, g, ctx_, 0, 0));
  ASSERT_CU(add_cond(g, h, CU_GRAPH_COND_TYPE_IF, 1, &node, &bodies));
  CUgraphNodeParams p{};
  p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
  p.conditional.handle = h;
  p.conditional.size = 1;
  EXPECT_EQ(cuGraphNodeSetParams(node, &p), CUDA_ERROR_INVALID_VALUE);
  CUgraphExec e = nullptr;
  ASSERT_CU(cuGraphInstantiate(&e, g, 0));
  EXPECT_EQ(cuGraphExecNodeSetParams(e, node, &p), CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(cuGraphExecDestroy(e));
  EXPECT_CU(cuGraphDestroy(other));
  EXPECT_CU(cuGraphDestroy(g));
}

}  // namespace
