// Graph copy nodes with a host side: a node reads or writes the host buffer when it runs, at
// every launch, not when it is captured or added (the driver's semantics; docs/architecture.md,
// "Graphs through the pool"). Through the pool the node's marker pulls or pushes the client's
// bytes when the node runs (server/src/worker_graph_host_copy.h).
#include <cstring>

#include "suite.h"

namespace diff {
namespace {

using GraphHostCopyTest = DiffTest;

// A captured host-to-device copy, kernel and device-to-host copy, launched three times with the
// host input changed between launches: each launch reads the input as it is then and writes the
// output, and nothing is read or written during the capture.
TEST_F(GraphHostCopyTest, CapturedHostCopiesRunAtEveryLaunch) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 200;
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(d, 7, n));
  void* in_raw = nullptr;
  void* out_raw = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&in_raw, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&out_raw, n * 4));
  auto* in = static_cast<unsigned*>(in_raw);
  auto* out = static_cast<unsigned*>(out_raw);
  for (unsigned i = 0; i < n; ++i) {
    in[i] = 1000 + i;
    out[i] = 0xdeadbeef;
  }
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  unsigned count = n;
  void* params[] = {&d, &count};

  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoDAsync(d, in, n * 4, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 2, 1, 1, 128, 1, 1, 0, s, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoHAsync(out, d, n * 4, s));
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &graph));

  // The capture ran nothing: the device still holds the memset, the output is untouched.
  EXPECT_SAME_VALUE(0xdeadbeefu, out[0]);
  EXPECT_SAME_VALUE(0xdeadbeefu, out[n - 1]);
  unsigned probe[2] = {0, 0};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(probe, d, sizeof probe));
  EXPECT_SAME_VALUE(7u, probe[0]);

  size_t nodes = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_SAME_VALUE(3, nodes);

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  for (unsigned launch = 0; launch < 3; ++launch) {
    for (unsigned i = 0; i < n; ++i) in[i] = launch * 10000 + i * 3;  // changed between launches
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
    EXPECT_SAME_VALUE(launch * 10000 + 1, out[0]) << "launch " << launch;
    EXPECT_SAME_VALUE(launch * 10000 + (n - 1) * 3 + 1, out[n - 1]) << "launch " << launch;
  }

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(in_raw));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(out_raw));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

struct Fill {
  unsigned* in = nullptr;
  unsigned n = 0;
  unsigned round = 0;
};

void CUDA_CB fill_input(void* p) {
  auto* f = static_cast<Fill*>(p);
  ++f->round;
  for (unsigned i = 0; i < f->n; ++i) f->in[i] = f->round * 100 + i;
}

// A host node writes the buffer the next node copies to the device: the copy reads it when it
// runs, after the host node, not when the graph is launched (a copy made at launch would see
// the previous round's input).
TEST_F(GraphHostCopyTest, HostNodeWritesWhatTheNextCopyNodeReads) {
  constexpr unsigned n = 32;
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  void* in_raw = nullptr;
  void* out_raw = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&in_raw, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&out_raw, n * 4));
  Fill f{static_cast<unsigned*>(in_raw), n, 0};
  auto* out = static_cast<unsigned*>(out_raw);
  std::memset(in_raw, 0, n * 4);
  CUcontext ctx = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxGetCurrent(&ctx));
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  CUgraphNode host = nullptr, up = nullptr, down = nullptr;
  const CUDA_HOST_NODE_PARAMS hp{fill_input, &f};
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddHostNode(&host, graph, nullptr, 0, &hp));
  CUDA_MEMCPY3D p{};
  p.srcMemoryType = CU_MEMORYTYPE_HOST;
  p.srcHost = in_raw;
  p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  p.dstDevice = d;
  p.WidthInBytes = n * 4;
  p.Height = p.Depth = 1;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&up, graph, &host, 1, &p, ctx));
  CUDA_MEMCPY3D q{};
  q.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  q.srcDevice = d;
  q.dstMemoryType = CU_MEMORYTYPE_HOST;
  q.dstHost = out_raw;
  q.WidthInBytes = n * 4;
  q.Height = q.Depth = 1;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&down, graph, &up, 1, &q, ctx));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  for (unsigned round = 1; round <= 2; ++round) {
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
    EXPECT_SAME_VALUE(round * 100, out[0]) << "round " << round;
    EXPECT_SAME_VALUE(round * 100 + n - 1, out[n - 1]) << "round " << round;
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(in_raw));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(out_raw));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
}

// Bad input: a copy node with a host side whose device range is not memory of this context (it
// runs past the end of an allocation) is refused at the call, and the graph and the session go on
// working.
TEST_F(GraphHostCopyTest, HostCopyNodeOutsideTheSessionsMemoryRefused) {
  constexpr unsigned n = 64;
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  void* host_raw = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocHost(&host_raw, n * 4));
  auto* host = static_cast<unsigned*>(host_raw);
  for (unsigned i = 0; i < n; ++i) host[i] = 40 + i;
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  CUDA_MEMCPY3D p{};
  p.srcMemoryType = CU_MEMORYTYPE_HOST;
  p.srcHost = host;
  p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  p.dstDevice = d + 4;  // one element past the end of the allocation
  p.WidthInBytes = n * 4;
  p.Height = p.Depth = 1;
  CUcontext ctx = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxGetCurrent(&ctx));
  CUgraphNode node = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddMemcpyNode(&node, graph, nullptr, 0, &p, ctx));
  size_t count = 7;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &count));
  EXPECT_SAME_VALUE(0, count);

  // The same graph, with a range inside the allocation, runs.
  p.dstDevice = d;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&node, graph, nullptr, 0, &p, ctx));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  unsigned back[n] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(back, d, sizeof back));
  EXPECT_SAME_VALUE(40u, back[0]);
  EXPECT_SAME_VALUE(40u + n - 1, back[n - 1]);

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(host_raw));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
}

}  // namespace
}  // namespace diff
