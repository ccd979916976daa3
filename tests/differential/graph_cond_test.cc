// Conditional graph nodes and the generic node API: a WHILE loop counted down on the device
// (cudaGraphSetConditional from a kernel), its handle's default restoring the loop on every
// launch; IF/ELSE and SWITCH choosing bodies; conditional parameters the driver refuses; and
// cuGraphAddNode / cuGraphNodeSetParams / cuGraphExecNodeSetParams for kernel, memset and empty
// nodes. Through the pool the handle and the bodies are made on the server (calls 395-397) and
// the other kinds travel as their typed calls (docs/protocol.md).
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using GraphCondTest = DiffTest;

CUgraphNodeParams kernel_params(CUfunction f, void** args) {
  CUgraphNodeParams p{};
  p.type = CU_GRAPH_NODE_TYPE_KERNEL;
  p.kernel.func = f;
  p.kernel.gridDimX = p.kernel.gridDimY = p.kernel.gridDimZ = 1;
  p.kernel.blockDimX = 32;
  p.kernel.blockDimY = p.kernel.blockDimZ = 1;
  p.kernel.kernelParams = args;
  return p;
}

CUgraphNodeParams memset_params(CUdeviceptr dst, unsigned value, size_t count, CUcontext ctx) {
  CUgraphNodeParams p{};
  p.type = CU_GRAPH_NODE_TYPE_MEMSET;
  p.memset.dst = dst;
  p.memset.value = value;
  p.memset.elementSize = 4;
  p.memset.width = count;
  p.memset.height = 1;
  p.memset.ctx = ctx;
  return p;
}

CUgraphNodeParams cond_params(CUgraphConditionalHandle h, CUgraphConditionalNodeType type, unsigned size) {
  CUgraphNodeParams p{};
  p.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
  p.conditional.handle = h;
  p.conditional.type = type;
  p.conditional.size = size;
  return p;
}

unsigned read_u32(CUdeviceptr p) {
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, p, 4));
  return v;
}

TEST_F(GraphCondTest, WhileCountsDownOnTheDeviceAndRestartsEveryLaunch) {
  CUmodule mod = load_ptx("graph_cond.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction count_down = function(mod, "count_down");
  ASSERT_NE(nullptr, count_down);
  CUdeviceptr mem = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&mem, 16));
  const CUdeviceptr counter = mem, iterations = mem + 4;
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  CUgraphConditionalHandle loop = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphConditionalHandleCreate(&loop, g, ctx_, 1, CU_GRAPH_COND_ASSIGN_DEFAULT));
  CUgraphNodeParams wp = cond_params(loop, CU_GRAPH_COND_TYPE_WHILE, 1);
  CUgraphNode wnode = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&wnode, g, nullptr, nullptr, 0, &wp));
  ASSERT_NE(nullptr, wp.conditional.phGraph_out);
  CUgraph body = wp.conditional.phGraph_out[0];
  void* args[] = {&loop, const_cast<CUdeviceptr*>(&counter), const_cast<CUdeviceptr*>(&iterations)};
  CUgraphNodeParams kp = kernel_params(count_down, args);
  CUgraphNode knode = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&knode, body, nullptr, nullptr, 0, &kp));
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(wnode, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_CONDITIONAL, type);
  size_t n = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(body, nullptr, &n));
  EXPECT_SAME_VALUE(1, n);

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  for (unsigned start : {4u, 2u, 7u}) {
    ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(counter, start, 1));
    ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(iterations, 0, 1));
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(nullptr));
    EXPECT_SAME_VALUE(start, read_u32(iterations)) << "iterations from " << start;
    EXPECT_SAME_VALUE(0, read_u32(counter));
  }
  // A conditional node's parameters cannot change in an executable graph (cuGraphExecUpdate's
  // rules; the driver documents no error code for it, so only the refusal is compared).
  EXPECT_SAME_VALUE(true, api().cuGraphExecNodeSetParams(exec, wnode, &wp) != CUDA_SUCCESS);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(mem));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(GraphCondTest, IfElseAndSwitchChooseTheirBodies) {
  CUmodule mod = load_ptx("graph_cond.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction set_cond = function(mod, "set_cond");
  ASSERT_NE(nullptr, set_cond);
  CUdeviceptr mem = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&mem, 16));
  const CUdeviceptr value = mem, out = mem + 4;
  for (CUgraphConditionalNodeType kind : {CU_GRAPH_COND_TYPE_IF, CU_GRAPH_COND_TYPE_SWITCH}) {
    CUgraph g = nullptr;
    ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
    CUgraphConditionalHandle h = 0;
    ASSERT_CU(CUDA_SUCCESS, api().cuGraphConditionalHandleCreate(&h, g, ctx_, 0, 0));
    void* args[] = {&h, const_cast<CUdeviceptr*>(&value)};
    CUgraphNodeParams kp = kernel_params(set_cond, args);
    CUgraphNode set = nullptr;
    ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&set, g, nullptr, nullptr, 0, &kp));
    const unsigned size = kind == CU_GRAPH_COND_TYPE_IF ? 2 : 3;
    CUgraphNodeParams cp = cond_params(h, kind, size);
    CUgraphNode cnode = nullptr;
    ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&cnode, g, &set, nullptr, 1, &cp));
    ASSERT_NE(nullptr, cp.conditional.phGraph_out);
    std::vector<CUgraph> bodies(cp.conditional.phGraph_out, cp.conditional.phGraph_out + size);
    for (unsigned i = 0; i < size; ++i) {
      CUgraphNodeParams mp = memset_params(out, 10 + i, 1, ctx_);
      CUgraphNode m = nullptr;
      ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&m, bodies[i], nullptr, nullptr, 0, &mp));
    }
    CUgraphExec exec = nullptr;
    ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
    for (unsigned v : {0u, 1u, 2u, 5u}) {
      ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(value, v, 1));
      ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(out, 99, 1));
      EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
      EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(nullptr));
      unsigned want = 99;
      if (kind == CU_GRAPH_COND_TYPE_IF) {
        want = v != 0 ? 10 : 11;  // body 0 when non-zero, the else body (1) when zero
      } else if (v < size) {
        want = 10 + v;
      }
      EXPECT_SAME_VALUE(want, read_u32(out)) << "kind " << kind << ", value " << v;
    }
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(mem));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(GraphCondTest, ConditionalParametersAreChecked) {
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  CUgraphConditionalHandle h = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphConditionalHandleCreate(&h, g, ctx_, 0, 0));
  CUgraphNode node = nullptr;
  CUgraphNodeParams p = cond_params(h, CU_GRAPH_COND_TYPE_WHILE, 2);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddNode(&node, g, nullptr, nullptr, 0, &p)) << "WHILE has one body";
  p = cond_params(h, CU_GRAPH_COND_TYPE_IF, 3);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddNode(&node, g, nullptr, nullptr, 0, &p)) << "IF has one or two";
  p = cond_params(h, CU_GRAPH_COND_TYPE_SWITCH, 0);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddNode(&node, g, nullptr, nullptr, 0, &p));
  p = cond_params(h, CU_GRAPH_COND_TYPE_IF, 1);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&node, g, nullptr, nullptr, 0, &p));
  // The handle also serves nodes inside the bodies (a nested conditional).
  CUgraph body = p.conditional.phGraph_out[0];
  CUgraphNodeParams nested = cond_params(h, CU_GRAPH_COND_TYPE_SWITCH, 4);
  CUgraphNode inner = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&inner, body, nullptr, nullptr, 0, &nested));
  size_t n = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(body, nullptr, &n));
  EXPECT_SAME_VALUE(1, n);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
}

TEST_F(GraphCondTest, GenericNodeApiAddSetAndExecSet) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 64;
  CUdeviceptr a = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n * 4));
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  CUgraphNodeParams mp = memset_params(a, 5, n, ctx_);
  CUgraphNode mset = nullptr, empty = nullptr, kern = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&mset, g, nullptr, nullptr, 0, &mp));
  CUgraphNodeParams ep{};
  ep.type = CU_GRAPH_NODE_TYPE_EMPTY;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&empty, g, &mset, nullptr, 1, &ep));
  unsigned count = n;
  void* args[] = {&a, &count};
  CUgraphNodeParams kp = kernel_params(add_one, args);
  kp.kernel.blockDimX = n;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&kern, g, &empty, nullptr, 1, &kp));
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(kern, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_KERNEL, type);
  // Node setters: the memset's value, then a wrong kind for the node.
  mp.memset.value = 20;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeSetParams(mset, &mp));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphNodeSetParams(kern, &mp)) << "memset parameters on a kernel node";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeSetParams(empty, &ep));

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  std::vector<unsigned> host(n);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), a, n * 4));
  EXPECT_SAME_VALUE(21, host[0]);
  EXPECT_SAME_VALUE(21, host[n - 1]);

  // Exec setters: the memset's value and the kernel's element count (half the buffer).
  mp.memset.value = 100;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecNodeSetParams(exec, mset, &mp));
  unsigned half = n / 2;
  void* args2[] = {&a, &half};
  CUgraphNodeParams kp2 = kernel_params(add_one, args2);
  kp2.kernel.blockDimX = n;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecNodeSetParams(exec, kern, &kp2));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphExecNodeSetParams(exec, mset, &kp2)) << "kernel on a memset";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), a, n * 4));
  EXPECT_SAME_VALUE(101, host[0]);
  EXPECT_SAME_VALUE(100, host[n - 1]);
  // The graph itself still has the node-level parameters.
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), a, n * 4));
  EXPECT_SAME_VALUE(21, host[n - 1]);

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

}  // namespace
}  // namespace diff
