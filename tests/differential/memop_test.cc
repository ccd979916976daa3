// Stream memory operations and batch memory-op graph nodes: a stream held at cuStreamWaitValue*
// until a kernel or a write operation on another stream sets the word, every wait condition in
// 32 and 64 bits, writes in stream order, cuStreamBatchMemOp, capture of the operations, a
// batch memory-op node added, queried, changed, cloned, updated in its exec and launched, and
// the refusals (flags, alignment, counts, unknown and managed addresses). Through the pool the
// operations are forwarded and the waits happen on the server (docs/architecture.md, "Stream
// memory operations through the pool").
//
// A held stream is observed with cuStreamQuery (CUDA_ERROR_NOT_READY while the word does not
// satisfy the wait: nothing can have released it yet). Completion is awaited with a bounded
// poll whose only job is to fail a hung test; no test relies on timing.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using MemOpTest = DiffTest;

// Polls cuStreamQuery until the stream is idle or 30 s passed (a hung wait fails the test
// instead of hanging it). Returns the last query's result.
CUresult await_stream(CUstream s) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  CUresult r = CUDA_ERROR_NOT_READY;
  while ((r = api().cuStreamQuery(s)) == CUDA_ERROR_NOT_READY && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return r;
}

uint32_t read32(CUdeviceptr p) {
  uint32_t v = 0xdeadbeef;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, p, 4));
  return v;
}

uint64_t read64(CUdeviceptr p) {
  uint64_t v = 0xdeadbeef;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, p, 8));
  return v;
}

void write64(CUdeviceptr p, uint64_t v) { EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(p, &v, 8)); }

// Two non-blocking streams and a zeroed 256-byte buffer; on the way out the buffer is filled
// with ones (releasing any wait a failed check left behind) and the streams drain.
struct Streams {
  CUstream a = nullptr, b = nullptr;
  CUdeviceptr buf = 0;
  Streams() {
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
    EXPECT_CU(CUDA_SUCCESS, api().cuMemAlloc(&buf, 256));
    EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32(buf, 0, 64));
  }
  ~Streams() {
    api().cuMemsetD8(buf, 0xff, 256);
    await_stream(a);
    await_stream(b);
    api().cuStreamDestroy(a);
    api().cuStreamDestroy(b);
    api().cuMemFree(buf);
  }
};

TEST_F(MemOpTest, AttributesReportWhatIsHonoured) {
  int v = -1;
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_CAN_USE_64_BIT_STREAM_MEM_OPS, dev_));
  EXPECT_SAME_VALUE(1, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_CAN_USE_STREAM_WAIT_VALUE_NOR, dev_));
  EXPECT_SAME_VALUE(1, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetAttribute(&v, CU_DEVICE_ATTRIBUTE_CAN_FLUSH_REMOTE_WRITES, dev_));
  EXPECT_SAME_VALUE(1, v);
}

TEST_F(MemOpTest, WaitReleasedByKernelOnAnotherStream) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  Streams st;
  const CUdeviceptr flag = st.buf, out = st.buf + 64;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWaitValue32(st.a, flag, 1, CU_STREAM_WAIT_VALUE_GEQ));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, out, 7, 0));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a)) << "held at the wait: nothing set the flag";
  EXPECT_SAME_VALUE(0, read32(out)) << "the write after the wait has not run";
  unsigned one = 1;
  void* params[] = {const_cast<CUdeviceptr*>(&flag), &one};
  ASSERT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 0, st.b, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
  EXPECT_SAME_VALUE(1, read32(flag));
  EXPECT_SAME_VALUE(7, read32(out));
}

TEST_F(MemOpTest, WaitReleasedByWriteOnAnotherStream64) {
  Streams st;
  const CUdeviceptr word = st.buf, out = st.buf + 64;
  const uint64_t big = 0x123456789abcdef0ull;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWaitValue64(st.a, word, big, CU_STREAM_WAIT_VALUE_EQ));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue64(st.a, out, big + 1, 0));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue64(st.b, word, big - 1, 0));  // not equal: still held
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.b));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue64(st.b, word, big, 0));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
  EXPECT_SAME_VALUE(static_cast<long long>(big + 1), static_cast<long long>(read64(out)));
}

// One wait condition: the word's first value, the wait's value and flags, whether it holds at
// once, and a value that satisfies it.
struct Case {
  bool wide;
  uint64_t first;
  uint64_t value;
  unsigned flags;
  bool holds;
  uint64_t release;
};

TEST_F(MemOpTest, WaitConditions32And64) {
  const Case cases[] = {
      {false, 5, 5, CU_STREAM_WAIT_VALUE_GEQ, true, 0},
      {false, 1, 0xfffffff0u, CU_STREAM_WAIT_VALUE_GEQ, true, 0},  // cyclic: 1 is "after" 0xfffffff0
      {false, 0xfffffff0u, 1, CU_STREAM_WAIT_VALUE_GEQ, false, 2},
      {false, 3, 4, CU_STREAM_WAIT_VALUE_EQ, false, 4},
      {false, 0x4, 0x6, CU_STREAM_WAIT_VALUE_AND, true, 0},
      {false, 0x9, 0x6, CU_STREAM_WAIT_VALUE_AND, false, 0x2},
      {false, 0xffff0000u, 0x0000ffffu, CU_STREAM_WAIT_VALUE_NOR, false, 0x7fff0000u},
      {false, 0x0000ff00u, 0x000000ffu, CU_STREAM_WAIT_VALUE_NOR | CU_STREAM_WAIT_VALUE_FLUSH, true, 0},
      {true, 1ull << 40, 1ull << 40, CU_STREAM_WAIT_VALUE_GEQ, true, 0},
      {true, 1ull << 32, (1ull << 32) + 1, CU_STREAM_WAIT_VALUE_GEQ, false, 1ull << 33},
      {true, 7, 7ull << 32 | 7, CU_STREAM_WAIT_VALUE_EQ, false, 7ull << 32 | 7},
      {true, 1ull << 33, 1ull << 33 | 1, CU_STREAM_WAIT_VALUE_AND, true, 0},
      {true, 1ull << 34, 1, CU_STREAM_WAIT_VALUE_AND, false, 1ull << 34 | 1},
      {true, 0xffffffff00000000ull, 0xffffffffull, CU_STREAM_WAIT_VALUE_NOR, false, 0xfffffffe00000000ull},
  };
  Streams st;
  const CUdeviceptr word = st.buf, out = st.buf + 64;
  int i = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(i);
    write64(word, c.first);
    write64(out, 0);
    CUresult r = c.wide ? api().cuStreamWaitValue64(st.a, word, c.value, c.flags)
                        : api().cuStreamWaitValue32(st.a, word, static_cast<cuuint32_t>(c.value), c.flags);
    ASSERT_CU(CUDA_SUCCESS, r);
    ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, out, 100 + i, 0));
    if (!c.holds) {
      EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a));
      r = c.wide ? api().cuStreamWriteValue64(st.b, word, c.release, 0)
                 : api().cuStreamWriteValue32(st.b, word, static_cast<cuuint32_t>(c.release), 0);
      ASSERT_CU(CUDA_SUCCESS, r);
    }
    EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
    EXPECT_SAME_VALUE(100 + i, read32(out));
    EXPECT_CU(CUDA_SUCCESS, await_stream(st.b));
    ++i;
  }
}

TEST_F(MemOpTest, WritesRunInStreamOrder) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  Streams st;
  const CUdeviceptr x = st.buf, y = st.buf + 8, z = st.buf + 16;
  unsigned one = 1;
  void* params[] = {const_cast<CUdeviceptr*>(&x), &one};
  // x: kernel (0 -> 1), write 10, kernel (-> 11); y copies x between; z = the last write.
  ASSERT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 0, st.a, params, nullptr));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, x, 10, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemcpyDtoDAsync(y, x, 4, st.a));
  ASSERT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, 32, 1, 1, 0, st.a, params, nullptr));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, z, 1, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, z, 2, 0));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
  EXPECT_SAME_VALUE(11, read32(x));
  EXPECT_SAME_VALUE(10, read32(y));
  EXPECT_SAME_VALUE(2, read32(z));
}

TEST_F(MemOpTest, BatchOfOperations) {
  Streams st;
  const CUdeviceptr a = st.buf, b = st.buf + 8, c = st.buf + 16, gate = st.buf + 24;
  CUstreamBatchMemOpParams ops[6] = {};
  ops[0].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
  ops[0].writeValue.address = a;
  ops[0].writeValue.value = 0xa1;
  ops[1].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_64;
  ops[1].writeValue.address = b;
  ops[1].writeValue.value64 = 0xb2ull << 36;
  ops[2].memoryBarrier.operation = CU_STREAM_MEM_OP_BARRIER;
  ops[2].memoryBarrier.flags = CU_STREAM_MEMORY_BARRIER_TYPE_GPU;
  ops[3].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
  ops[3].waitValue.address = gate;
  ops[3].waitValue.value = 1;
  ops[3].waitValue.flags = CU_STREAM_WAIT_VALUE_EQ;
  ops[4].flushRemoteWrites.operation = CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES;
  ops[5].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
  ops[5].writeValue.address = c;
  ops[5].writeValue.value = 0xc3;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBatchMemOp(st.a, 6, ops, 0));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a)) << "held at the batch's wait";
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.b, gate, 1, 0));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
  EXPECT_SAME_VALUE(0xa1, read32(a));
  EXPECT_SAME_VALUE(static_cast<long long>(0xb2ull << 36), static_cast<long long>(read64(b)));
  EXPECT_SAME_VALUE(0xc3, read32(c));
}

TEST_F(MemOpTest, RefusedArguments) {
  Streams st;
  const CUdeviceptr w = st.buf;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWaitValue32(st.a, w, 1, 0x4)) << "unknown wait kind bit";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWriteValue32(st.a, w, 1, 0x2));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWriteValue32(st.a, w, 1, CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER))
      << "not in the v2 API";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWaitValue32(st.a, w + 2, 1, 0)) << "unaligned";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWriteValue64(st.a, w + 4, 1, 0)) << "unaligned for 64 bits";
  CUdeviceptr small = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&small, 4));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWaitValue64(st.a, small, 1, 0)) << "runs past the allocation";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(small));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWriteValue32(st.a, 0, 1, 0));
  CUstreamBatchMemOpParams ops[256] = {};
  for (auto& op : ops) {
    op.writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
    op.writeValue.address = w;
  }
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamBatchMemOp(st.a, 0, ops, 0));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamBatchMemOp(st.a, 256, ops, 0)) << "fewer than 256";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamBatchMemOp(st.a, 1, ops, 1)) << "flags must be 0";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamBatchMemOp(st.a, 1, nullptr, 0));
  ops[1].operation = static_cast<CUstreamBatchMemOpType>(99);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamBatchMemOp(st.a, 2, ops, 0)) << "unknown operation";
  ops[1].memoryBarrier.operation = CU_STREAM_MEM_OP_BARRIER;
  ops[1].memoryBarrier.flags = 7;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamBatchMemOp(st.a, 2, ops, 0)) << "unknown barrier scope";
  CUdeviceptr managed = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAllocManaged(&managed, 4096, CU_MEM_ATTACH_GLOBAL));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamWriteValue32(st.a, managed, 1, 0))
      << "the driver: none of the operations accepts managed memory";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(managed));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a)) << "nothing refused was enqueued";
  EXPECT_SAME_VALUE(0, read32(w));
}

TEST_F(MemOpTest, UnknownAddressRefusedAtTheCall) {
  Streams st;
  alignas(8) static uint64_t host_word = 0;  // plain host memory no call registered
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuStreamWriteValue32(st.a, reinterpret_cast<CUdeviceptr>(&host_word), 1, 0));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
}

// The host releases a held stream by writing mapped host memory, a write the runtime cannot
// see (the wait re-reads the word). Through the pool mapped memory is coherent only at call
// boundaries, and the shim refuses such a word (known difference, docs/architecture.md).
TEST_F(MemOpTest, HostWriteToMappedMemoryReleasesAWait) {
  Streams st;
  void* host = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemHostAlloc(&host, 64, CU_MEMHOSTALLOC_DEVICEMAP));
  auto* words = static_cast<volatile uint32_t*>(host);
  words[0] = 0;
  CUdeviceptr flag = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemHostGetDevicePointer(&flag, host, 0));
  const CUdeviceptr out = st.buf;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWaitValue32(st.a, flag, 1, CU_STREAM_WAIT_VALUE_EQ));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, out, 42, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, flag + 4, 43, 0));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a));
  words[0] = 1;
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
  EXPECT_SAME_VALUE(42, read32(out));
  EXPECT_SAME_VALUE(43, words[1]) << "a write operation into mapped host memory, seen by the host";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFreeHost(host));
}

TEST_F(MemOpTest, CaptureRecordsBatchMemOpNodes) {
  Streams st;
  const CUdeviceptr flag = st.buf, out = st.buf + 64;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(st.a, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamWaitValue32(st.a, flag, 1, CU_STREAM_WAIT_VALUE_GEQ));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.a, out, 21, 0));
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(st.a, &graph));
  size_t n = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &n));
  EXPECT_SAME_VALUE(2, n);
  std::vector<CUgraphNode> nodes(n);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nodes.data(), &n));
  for (CUgraphNode node : nodes) {
    CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(node, &t));
    EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_BATCH_MEM_OP, t);
  }
  EXPECT_SAME_VALUE(0, read32(out)) << "captured, not run";
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, st.a));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a)) << "the graph is held at its wait node";
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.b, flag, 1, 0));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
  EXPECT_SAME_VALUE(21, read32(out));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
}

TEST_F(MemOpTest, GraphNodeRoundTrip) {
  Streams st;
  const CUdeviceptr flag = st.buf, out = st.buf + 64, out2 = st.buf + 128;
  CUcontext ctx = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxGetCurrent(&ctx));
  CUstreamBatchMemOpParams ops[2] = {};
  ops[0].waitValue.operation = CU_STREAM_MEM_OP_WAIT_VALUE_32;
  ops[0].waitValue.address = flag;
  ops[0].waitValue.value = 1;
  ops[0].waitValue.flags = CU_STREAM_WAIT_VALUE_GEQ;
  ops[1].writeValue.operation = CU_STREAM_MEM_OP_WRITE_VALUE_32;
  ops[1].writeValue.address = out;
  ops[1].writeValue.value = 9;
  CUDA_BATCH_MEM_OP_NODE_PARAMS p{ctx, 2, ops, 0};
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  CUgraphNode node = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddBatchMemOpNode(&node, graph, nullptr, 0, &p));
  CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(node, &t));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_BATCH_MEM_OP, t);

  CUDA_BATCH_MEM_OP_NODE_PARAMS got{};
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphBatchMemOpNodeGetParams(node, &got));
  EXPECT_SAME_VALUE(2, got.count);
  EXPECT_SAME_VALUE(0, got.flags);
  EXPECT_TRUE(got.ctx == ctx);
  ASSERT_NE(nullptr, got.paramArray);
  EXPECT_SAME_VALUE(CU_STREAM_MEM_OP_WAIT_VALUE_32, got.paramArray[0].operation);
  EXPECT_SAME_VALUE(1, got.paramArray[0].waitValue.value);
  EXPECT_SAME_VALUE(9, got.paramArray[1].writeValue.value);
  EXPECT_TRUE(got.paramArray[1].writeValue.address == out);

  // The node's own parameters: the write now stores 11; a clone carries them.
  ops[1].writeValue.value = 11;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphBatchMemOpNodeSetParams(node, &p));
  CUgraph clone = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphClone(&clone, graph));
  CUgraphNode cnode = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphNodeFindInClone(&cnode, node, clone));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphBatchMemOpNodeGetParams(cnode, &got));
  EXPECT_SAME_VALUE(2, got.count);
  EXPECT_SAME_VALUE(11, got.paramArray[1].writeValue.value);

  // Refused changes: a bad node parameter, and an exec change of the operations' kinds.
  CUDA_BATCH_MEM_OP_NODE_PARAMS bad = p;
  bad.count = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphBatchMemOpNodeSetParams(node, &bad));
  CUgraphNode bad_node = nullptr;
  ops[0].waitValue.address = flag + 1;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddBatchMemOpNode(&bad_node, graph, nullptr, 0, &p)) << "unaligned";
  ops[0].waitValue.address = flag;

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, clone, 0));
  CUstreamBatchMemOpParams swapped[2] = {ops[1], ops[0]};
  CUDA_BATCH_MEM_OP_NODE_PARAMS kinds{ctx, 2, swapped, 0};
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphExecBatchMemOpNodeSetParams(exec, cnode, &kinds))
      << "the kinds of operations are fixed in an executable graph";
  ops[1].writeValue.address = out2;
  ops[1].writeValue.value = 13;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecBatchMemOpNodeSetParams(exec, cnode, &p));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, st.a));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(st.a));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(st.b, flag, 1, 0));
  EXPECT_CU(CUDA_SUCCESS, await_stream(st.a));
  EXPECT_SAME_VALUE(0, read32(out)) << "the exec's parameters, not the graph's";
  EXPECT_SAME_VALUE(13, read32(out2));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphBatchMemOpNodeGetParams(cnode, &got));
  EXPECT_SAME_VALUE(11, got.paramArray[1].writeValue.value) << "an exec change leaves the graph's node alone";

  // The generic node API: cuGraphAddNode of the same kind.
  CUgraphNodeParams gp{};
  gp.type = CU_GRAPH_NODE_TYPE_BATCH_MEM_OP;
  gp.memOp.ctx = ctx;
  gp.memOp.count = 1;
  gp.memOp.paramArray = &ops[1];
  CUgraphNode generic = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&generic, graph, &node, nullptr, 1, &gp));
  size_t n = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &n));
  EXPECT_SAME_VALUE(2, n);

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(clone));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
}

// A wait nothing will ever satisfy does not stop a device reset: the reset ends the wait, frees
// the context's memory and the program goes on in a fresh context.
TEST_F(MemOpTest, ResetEndsAWaitNeverSatisfied) {
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr word = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&word, 8));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(word, 0, 2));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWaitValue32(s, word, 1, CU_STREAM_WAIT_VALUE_EQ));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue32(s, word + 4, 5, 0));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(s));
  // A reset that waited for the stream would never return: fail loudly instead of hanging.
  auto reset = std::async(std::launch::async, [&] { return api().cuDevicePrimaryCtxReset(dev_); });
  if (reset.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    std::fprintf(stderr, "MemOpTest.ResetEndsAWaitNeverSatisfied: cuDevicePrimaryCtxReset hung behind the wait\n");
    std::abort();
  }
  EXPECT_CU(CUDA_SUCCESS, reset.get());
  CUcontext ctx = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuDevicePrimaryCtxRetain(&ctx, dev_));
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxSetCurrent(ctx));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, 8));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamWriteValue64(nullptr, d, 77, 0));
  EXPECT_SAME_VALUE(77, read64(d)) << "the fresh context works";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
}

}  // namespace
}  // namespace diff
