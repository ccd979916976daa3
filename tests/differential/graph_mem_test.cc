// Graph memory nodes: an allocation node whose memory outlives the launch and is freed with
// cuMemFreeAsync and cuMemFree, a capture that turns cuMemAllocAsync/cuMemFreeAsync into
// allocation and free nodes, the rules the driver documents for graphs with memory nodes, and
// the device's graph-memory attributes and trim. Through the pool the memory is charged to the
// tenant's quota at each launch (docs/architecture.md, "Graphs through the pool").
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using GraphMemTest = DiffTest;

constexpr size_t kWords = 1000;
constexpr size_t kBytes = kWords * 4;

cuuint64_t graph_mem_attr(CUdevice dev, CUgraphMem_attribute attr) {
  cuuint64_t v = ~cuuint64_t{0};
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetGraphMemAttribute(dev, attr, &v));
  return v;
}

// A graph: allocation node -> memset node filling it with `value`. *dptr: the allocation.
CUgraph alloc_and_fill(CUdevice dev, unsigned value, CUdeviceptr* dptr, CUgraphNode* alloc_out = nullptr) {
  CUgraph g = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  CUDA_MEM_ALLOC_NODE_PARAMS ap{};
  ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  ap.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  ap.poolProps.location.id = dev;
  ap.bytesize = kBytes;
  CUgraphNode alloc = nullptr, fill = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphAddMemAllocNode(&alloc, g, nullptr, 0, &ap));
  *dptr = ap.dptr;
  CUDA_MEMSET_NODE_PARAMS mp{};
  mp.dst = ap.dptr;
  mp.value = value;
  mp.elementSize = 4;
  mp.width = kWords;
  mp.height = 1;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphAddMemsetNode(&fill, g, &alloc, 1, &mp, primary_context()));
  if (alloc_out != nullptr) *alloc_out = alloc;
  return g;
}

void expect_words(CUdeviceptr p, unsigned value) {
  std::vector<unsigned> host(kWords, 0);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), p, kBytes));
  EXPECT_SAME_VALUE(value, host[0]);
  EXPECT_SAME_VALUE(value, host[kWords - 1]);
}

TEST_F(GraphMemTest, AllocationOutlivesTheLaunchUntilFreed) {
  CUdeviceptr p = 0;
  CUgraphNode alloc = nullptr;
  CUgraph g = alloc_and_fill(dev_, 0x1234, &p, &alloc);
  ASSERT_NE(0u, p);
  CUDA_MEM_ALLOC_NODE_PARAMS got{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemAllocNodeGetParams(alloc, &got));
  EXPECT_SAME_VALUE(kBytes, got.bytesize);
  EXPECT_SAME_VALUE(true, got.dptr == p);
  EXPECT_SAME_VALUE(dev_, got.poolProps.location.id);
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(alloc, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_MEM_ALLOC, type);

  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  expect_words(p, 0x1234);  // valid after the launch: no free node
  EXPECT_SAME_VALUE(true, graph_mem_attr(dev_, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT) >= kBytes);
  EXPECT_SAME_VALUE(true, graph_mem_attr(dev_, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT) >= kBytes);

  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeAsync(p, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));  // allocates again, at the same address
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  expect_words(p, 0x1234);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_SAME_VALUE(true, api().cuMemFree(p) != CUDA_SUCCESS);  // not allocated any more
  EXPECT_SAME_VALUE(0, graph_mem_attr(dev_, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT));
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGraphMemTrim(dev_));
  EXPECT_SAME_VALUE(0, graph_mem_attr(dev_, CU_GRAPH_MEM_ATTR_RESERVED_MEM_CURRENT));
  cuuint64_t zero = 0, one = 1;
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceSetGraphMemAttribute(dev_, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &zero));
  EXPECT_SAME_VALUE(0, graph_mem_attr(dev_, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuDeviceSetGraphMemAttribute(dev_, CU_GRAPH_MEM_ATTR_USED_MEM_HIGH, &one));

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

TEST_F(GraphMemTest, CaptureMakesAllocationAndFreeNodes) {
  CUdeviceptr out = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&out, kBytes));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  CUdeviceptr tmp = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemAllocAsync(&tmp, kBytes, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(tmp, 77, kWords, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoDAsync(out, tmp, kBytes, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeAsync(tmp, s));
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &g));
  size_t n = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(g, nullptr, &n));
  EXPECT_SAME_VALUE(4, n);
  std::vector<CUgraphNode> nodes(n);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(g, nodes.data(), &n));
  int allocs = 0, frees = 0;
  for (CUgraphNode node : nodes) {
    CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(node, &t));
    if (t == CU_GRAPH_NODE_TYPE_MEM_FREE) {
      CUdeviceptr freed = 0;
      EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemFreeNodeGetParams(node, &freed));
      EXPECT_SAME_VALUE(true, freed == tmp);
      ++frees;
    }
    allocs += t == CU_GRAPH_NODE_TYPE_MEM_ALLOC;
  }
  EXPECT_SAME_VALUE(1, allocs);
  EXPECT_SAME_VALUE(1, frees);
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32(out, 0, kWords));
  for (int i = 0; i < 2; ++i) EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));  // freed by the graph
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  expect_words(out, 77);
  EXPECT_SAME_VALUE(0, graph_mem_attr(dev_, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT));
  EXPECT_SAME_VALUE(true, api().cuMemFree(tmp) != CUDA_SUCCESS);  // freed by its own graph
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGraphMemTrim(dev_));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(out));
}

TEST_F(GraphMemTest, RulesOfGraphsWithMemoryNodes) {
  CUdeviceptr p = 0, plain = 0;
  CUgraphNode alloc = nullptr;
  CUgraph g = alloc_and_fill(dev_, 5, &p, &alloc);
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&plain, 64));
  CUgraph other = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&other, 0));
  CUgraphNode f = nullptr, f2 = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphAddMemFreeNode(&f, other, nullptr, 0, p));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddMemFreeNode(&f2, other, nullptr, 0, p));  // twice
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddMemFreeNode(&f2, g, &alloc, 1, p));  // freed elsewhere
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddMemFreeNode(&f2, other, nullptr, 0, plain));  // not a graph's
  CUgraph clone = nullptr;
  EXPECT_SAME_VALUE(true, api().cuGraphClone(&clone, g) != CUDA_SUCCESS);
  EXPECT_SAME_VALUE(true, api().cuGraphDestroyNode(alloc) != CUDA_SUCCESS);
  CUgraphExec e1 = nullptr, e2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&e1, g, 0));
  EXPECT_SAME_VALUE(true, api().cuGraphInstantiate(&e2, g, 0) != CUDA_SUCCESS);  // one at a time
  CUgraphExec fe = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&fe, other, 0));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  for (int i = 0; i < 2; ++i) {  // allocated by g's launch, freed by other's
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(e1, s));
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(fe, s));
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(0, graph_mem_attr(dev_, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(e1));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&e2, g, CUDA_GRAPH_INSTANTIATE_FLAG_AUTO_FREE_ON_LAUNCH));
  for (int i = 0; i < 3; ++i) EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(e2, s));  // frees the last one's
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  expect_words(p, 5);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeAsync(p, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(e2));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(fe));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(other));
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGraphMemTrim(dev_));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(plain));
}

// Listed in known_differences.cc for the pool: the launch is one asynchronous message there.
TEST_F(GraphMemTest, RelaunchBeforeTheAllocationIsFreedRefused) {
  CUdeviceptr p = 0;
  CUgraph g = alloc_and_fill(dev_, 9, &p);
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGraphMemTrim(dev_));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

}  // namespace
}  // namespace diff
