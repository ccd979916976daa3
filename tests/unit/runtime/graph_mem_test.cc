// Graph memory nodes on the emulator (graph_mem.h): where the memory is valid, the footprint
// (used vs reserved, trim), a launch that does not fit, the generic cuGraphAddNode path, and the
// calls a graph with memory nodes refuses.
#include "test_util.h"

#include <vector>

namespace {

class GraphMemTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    ASSERT_CU(cuStreamCreate(&s_, CU_STREAM_NON_BLOCKING));
    ASSERT_CU(cuGraphCreate(&g_, 0));
  }
  void TearDown() override {
    if (e_ != nullptr) cuGraphExecDestroy(e_);
    cuGraphDestroy(g_);
    cuStreamDestroy(s_);
    cuDeviceGraphMemTrim(0);
    RuntimeTest::TearDown();
  }
  CUDA_MEM_ALLOC_NODE_PARAMS params(size_t bytes) {
    CUDA_MEM_ALLOC_NODE_PARAMS p{};
    p.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
    p.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
    p.poolProps.location.id = 0;
    p.bytesize = bytes;
    return p;
  }
  cuuint64_t attr(CUgraphMem_attribute a) {
    cuuint64_t v = 0;
    EXPECT_CU(cuDeviceGetGraphMemAttribute(0, a, &v));
    return v;
  }
  CUstream s_ = nullptr;
  CUgraph g_ = nullptr;
  CUgraphExec e_ = nullptr;
};

TEST_F(GraphMemTest, MemoryIsValidOnlyWhileAllocated) {
  auto p = params(4096);
  CUgraphNode alloc = nullptr;
  ASSERT_CU(cuGraphAddMemAllocNode(&alloc, g_, nullptr, 0, &p));
  unsigned word = 0;
  EXPECT_EQ(cuMemcpyDtoH(&word, p.dptr, 4), CUDA_ERROR_INVALID_VALUE);  // reserved, not allocated
  ASSERT_CU(cuGraphInstantiate(&e_, g_, 0));
  ASSERT_CU(cuGraphLaunch(e_, s_));
  ASSERT_CU(cuStreamSynchronize(s_));
  EXPECT_CU(cuMemsetD32(p.dptr, 0xabcd, 1024));
  EXPECT_CU(cuMemcpyDtoH(&word, p.dptr + 4092, 4));
  EXPECT_EQ(word, 0xabcdu);
  CUdeviceptr base = 0;
  size_t size = 0;
  EXPECT_CU(cuMemGetAddressRange(&base, &size, p.dptr + 10));
  EXPECT_EQ(base, p.dptr);
  EXPECT_EQ(size, 4096u);
  EXPECT_CU(cuMemFreeAsync(p.dptr, s_));
  EXPECT_EQ(cuMemFreeAsync(p.dptr, s_), CUDA_ERROR_INVALID_VALUE);  // freed already
  ASSERT_CU(cuStreamSynchronize(s_));
  EXPECT_EQ(cuMemcpyDtoH(&word, p.dptr, 4), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cuGraphLaunch(e_, s_));  // the same address again
  ASSERT_CU(cuStreamSynchronize(s_));
  EXPECT_CU(cuMemcpyDtoH(&word, p.dptr, 4));
  EXPECT_CU(cuMemFree(p.dptr));
}

TEST_F(GraphMemTest, FootprintUsedReservedAndTrim) {
  EXPECT_CU(cuDeviceGraphMemTrim(0));
  cuuint64_t zero = 0;
  EXPECT_CU(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &zero));
  const cuuint64_t reserved0 = attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT);
  auto p = params(1 << 20);
  CUgraphNode alloc = nullptr, fr = nullptr;
  ASSERT_CU(cuGraphAddMemAllocNode(&alloc, g_, nullptr, 0, &p));
  ASSERT_CU(cuGraphAddMemFreeNode(&fr, g_, &alloc, 1, p.dptr));
  size_t free0 = 0, free1 = 0, total = 0;
  ASSERT_CU(cuMemGetInfo(&free0, &total));
  ASSERT_CU(cuGraphInstantiate(&e_, g_, 0));
  for (int i = 0; i < 3; ++i) ASSERT_CU(cuGraphLaunch(e_, s_));
  ASSERT_CU(cuStreamSynchronize(s_));
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 0u);
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_USED_MEM_HIGH), cuuint64_t{1} << 20);
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT), reserved0 + (1 << 20));  // kept after the free
  ASSERT_CU(cuMemGetInfo(&free1, &total));
  EXPECT_EQ(free0 - free1, size_t{1} << 20);  // still held by the graph allocator
  EXPECT_CU(cuDeviceGraphMemTrim(0));
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT), 0u);
  ASSERT_CU(cuMemGetInfo(&free1, &total));
  EXPECT_EQ(free1, free0);
  EXPECT_CU(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH, &zero));
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_RESERVED_MEM_HIGH), 0u);
  EXPECT_EQ(cuDeviceSetGraphMemAttribute(0, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &zero), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuDeviceGetGraphMemAttribute(99, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &zero), CUDA_ERROR_INVALID_DEVICE);
}

TEST_F(GraphMemTest, LaunchThatDoesNotFitAllocatesNothing) {
  size_t free_bytes = 0, total = 0;
  ASSERT_CU(cuMemGetInfo(&free_bytes, &total));
  auto p = params(total / 4 * 3);  // two of them do not fit
  CUgraphNode a = nullptr, b = nullptr;
  ASSERT_CU(cuGraphAddMemAllocNode(&a, g_, nullptr, 0, &p));
  const CUdeviceptr first = p.dptr;
  ASSERT_CU(cuGraphAddMemAllocNode(&b, g_, &a, 1, &p));
  auto huge = params(total + 4096);
  CUgraphNode c = nullptr;
  EXPECT_EQ(cuGraphAddMemAllocNode(&c, g_, nullptr, 0, &huge), CUDA_ERROR_OUT_OF_MEMORY);
  ASSERT_CU(cuGraphInstantiate(&e_, g_, 0));
  EXPECT_EQ(cuGraphLaunch(e_, s_), CUDA_ERROR_OUT_OF_MEMORY);
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 0u);
  unsigned word = 0;
  EXPECT_EQ(cuMemcpyDtoH(&word, first, 4), CUDA_ERROR_INVALID_VALUE);
  size_t after = 0;
  ASSERT_CU(cuMemGetInfo(&after, &total));
  EXPECT_EQ(after, free_bytes);
}

TEST_F(GraphMemTest, GenericAddNodeAndRefusedChanges) {
  CUgraphNodeParams np{};
  np.type = CU_GRAPH_NODE_TYPE_MEM_ALLOC;
  np.alloc.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  np.alloc.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  np.alloc.bytesize = 256;
  CUgraphNode alloc = nullptr, fr = nullptr;
  ASSERT_CU(cuGraphAddNode(&alloc, g_, nullptr, nullptr, 0, &np));
  EXPECT_NE(np.alloc.dptr, 0u);
  CUDA_MEM_ALLOC_NODE_PARAMS got{};
  EXPECT_CU(cuGraphMemAllocNodeGetParams(alloc, &got));
  EXPECT_EQ(got.dptr, np.alloc.dptr);
  EXPECT_EQ(got.bytesize, 256u);
  CUgraphNodeParams fp{};
  fp.type = CU_GRAPH_NODE_TYPE_MEM_FREE;
  fp.free.dptr = np.alloc.dptr;
  ASSERT_CU(cuGraphAddNode(&fr, g_, &alloc, nullptr, 1, &fp));
  CUdeviceptr freed = 0;
  EXPECT_CU(cuGraphMemFreeNodeGetParams(fr, &freed));
  EXPECT_EQ(freed, np.alloc.dptr);
  EXPECT_EQ(cuGraphMemFreeNodeGetParams(alloc, &freed), CUDA_ERROR_INVALID_VALUE);  // not a free node
  EXPECT_EQ(cuGraphNodeSetParams(alloc, &np), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(cuGraphRemoveDependencies(g_, &alloc, &fr, nullptr, 1), CUDA_ERROR_INVALID_VALUE);
  CUgraph parent = nullptr;
  ASSERT_CU(cuGraphCreate(&parent, 0));
  CUgraphNode child = nullptr;
  EXPECT_EQ(cuGraphAddChildGraphNode(&child, parent, nullptr, 0, g_), CUDA_ERROR_INVALID_VALUE);
  // An exec can only be updated from a graph whose memory nodes are its own.
  ASSERT_CU(cuGraphInstantiate(&e_, g_, 0));
  CUgraph other = nullptr;
  ASSERT_CU(cuGraphCreate(&other, 0));
  CUgraphNode oa = nullptr, of = nullptr;
  auto p = params(256);
  ASSERT_CU(cuGraphAddMemAllocNode(&oa, other, nullptr, 0, &p));
  ASSERT_CU(cuGraphAddMemFreeNode(&of, other, &oa, 1, p.dptr));
  CUgraphExecUpdateResultInfo info{};
  EXPECT_EQ(cuGraphExecUpdate(e_, other, &info), CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE);
  EXPECT_EQ(info.result, CU_GRAPH_EXEC_UPDATE_ERROR_NOT_SUPPORTED);
  EXPECT_CU(cuGraphExecUpdate(e_, g_, &info));
  // Launched into a capture, it would become a child graph: refused.
  ASSERT_CU(cuStreamBeginCapture(s_, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_EQ(cuGraphLaunch(e_, s_), CUDA_ERROR_INVALID_VALUE);
  CUgraph captured = nullptr;
  ASSERT_CU(cuStreamEndCapture(s_, &captured));
  cuGraphDestroy(captured);
  cuGraphDestroy(other);
  cuGraphDestroy(parent);
}

TEST_F(GraphMemTest, AllocationOutlivesItsGraphAndExec) {
  auto p = params(512);
  CUgraphNode alloc = nullptr;
  ASSERT_CU(cuGraphAddMemAllocNode(&alloc, g_, nullptr, 0, &p));
  ASSERT_CU(cuGraphInstantiateWithFlags(&e_, g_, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
  ASSERT_CU(cuGraphLaunch(e_, s_));
  ASSERT_CU(cuGraphLaunch(e_, s_));  // frees the first launch's allocation first
  ASSERT_CU(cuStreamSynchronize(s_));
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 512u);
  ASSERT_CU(cuGraphExecDestroy(e_));
  e_ = nullptr;
  ASSERT_CU(cuGraphDestroy(g_));
  ASSERT_CU(cuGraphCreate(&g_, 0));  // for TearDown
  EXPECT_CU(cuMemsetD8(p.dptr, 1, 512));  // still allocated
  EXPECT_CU(cuMemFree(p.dptr));
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 0u);
}

TEST_F(GraphMemTest, DestroyingTheLaunchingContextFreesIt) {
  auto p = params(1024);
  CUgraphNode alloc = nullptr;
  ASSERT_CU(cuGraphAddMemAllocNode(&alloc, g_, nullptr, 0, &p));
  ASSERT_CU(cuGraphInstantiate(&e_, g_, 0));
  CUcontext other = nullptr;
  ASSERT_CU(cuCtxCreate(&other, nullptr, 0, 0));
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(cuGraphLaunch(e_, s));
  ASSERT_CU(cuStreamSynchronize(s));
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 1024u);
  ASSERT_CU(cuCtxDestroy(other));
  ASSERT_CU(cuCtxSetCurrent(ctx_));
  EXPECT_EQ(attr(CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT), 0u);
  unsigned word = 0;
  EXPECT_EQ(cuMemcpyDtoH(&word, p.dptr, 4), CUDA_ERROR_INVALID_VALUE);
  ASSERT_CU(cuGraphLaunch(e_, s_));  // not live any more: the exec may launch again
  ASSERT_CU(cuStreamSynchronize(s_));
  EXPECT_CU(cuMemFree(p.dptr));
}

}  // namespace
