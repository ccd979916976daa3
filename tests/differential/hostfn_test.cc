// Host functions: cuLaunchHostFunc returns before its function runs, and holds its stream
// until the function returns; host functions and stream callbacks run in stream order; graph
// host nodes (added, read back, changed in the graph and in the instantiated graph, captured).
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using HostFnTest = DiffTest;

constexpr auto kTimeout = std::chrono::seconds(10);

struct Gate {
  std::atomic<bool> open{false};
  std::atomic<int> result{0};  // 1: saw the flag; -1: gave up waiting for it
};

void CUDA_CB wait_for_flag(void* p) {
  auto* g = static_cast<Gate*>(p);
  const auto give_up = std::chrono::steady_clock::now() + kTimeout;
  while (!g->open.load()) {
    if (std::chrono::steady_clock::now() > give_up) {
      g->result = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  g->result = 1;
}

struct Order {
  std::atomic<int> next{0};
  int at[4] = {-1, -1, -1, -1};
  CUresult status = CUDA_ERROR_UNKNOWN;
};
struct Slot {
  Order* order;
  int index;
};

void CUDA_CB take_turn(void* p) {
  auto* s = static_cast<Slot*>(p);
  s->order->at[s->index] = s->order->next.fetch_add(1);
}

void CUDA_CB callback_turn(CUstream, CUresult status, void* p) {
  auto* s = static_cast<Slot*>(p);
  s->order->at[s->index] = s->order->next.fetch_add(1);
  s->order->status = status;
}

void CUDA_CB add_one(void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(1); }
void CUDA_CB add_ten(void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(10); }

TEST_F(HostFnTest, LaunchReturnsAndHoldsTheStream) {
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUevent after = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&after, 0));
  Gate gate;
  // The function waits for a flag set only after the launch returned: a launch that waited
  // for its function would make it give up.
  ASSERT_CU(CUDA_SUCCESS, api().cuLaunchHostFunc(s, wait_for_flag, &gate));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventRecord(after, s));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuEventQuery(after)) << "work after a running host function";
  EXPECT_CU(CUDA_ERROR_NOT_READY, api().cuStreamQuery(s)) << "a stream held at a host function";
  gate.open = true;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(1, gate.result.load());
  EXPECT_CU(CUDA_SUCCESS, api().cuEventQuery(after));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(after));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

TEST_F(HostFnTest, StreamOrderWithCallbacks) {
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, 1 << 16));
  Order order;
  Slot slots[3] = {{&order, 0}, {&order, 1}, {&order, 2}};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchHostFunc(s, take_turn, &slots[0]));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(d, 7, (1 << 16) / 4, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamAddCallback(s, callback_turn, &slots[1], 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchHostFunc(s, take_turn, &slots[2]));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamAddCallback(s, callback_turn, &slots[1], 1)) << "flags";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLaunchHostFunc(s, nullptr, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(0, order.at[0]);
  EXPECT_SAME_VALUE(1, order.at[1]);
  EXPECT_SAME_VALUE(2, order.at[2]);
  EXPECT_CU(CUDA_SUCCESS, order.status) << "the callback's status";
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, d + 4, 4));
  EXPECT_SAME_VALUE(7, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

void CUDA_CB sleep_then_mark(void* p) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  static_cast<std::atomic<int>*>(p)->fetch_add(1);
}

// Pageable host-to-device copies larger than the pool's staging ring and spill budget (4 MiB and
// 8 MiB by default), async and sync, into a stream held at a host function and behind a graph's
// host node: every byte arrives, after the function (docs/architecture.md "Copies into a held
// stream"; the pool used to wait for ever here).
TEST_F(HostFnTest, LargeCopiesIntoAHeldStream) {
  constexpr size_t kBytes = size_t{12} << 20;
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, 0));  // blocking: cuMemcpyHtoD waits for it
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, kBytes));
  std::vector<unsigned char> host(kBytes), back(kBytes);
  std::atomic<int> ran{0};
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  const CUDA_HOST_NODE_PARAMS p{sleep_then_mark, &ran};
  CUgraphNode node = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddHostNode(&node, g, nullptr, 0, &p));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  for (int how = 0; how < 3; ++how) {  // 0: async copy, 1: sync copy, 2: async after a graph
    for (size_t i = 0; i < kBytes; ++i) host[i] = static_cast<unsigned char>(i * 7 + how * 31 + (i >> 16));
    if (how == 2) {
      EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
    } else {
      EXPECT_CU(CUDA_SUCCESS, api().cuLaunchHostFunc(s, sleep_then_mark, &ran));
    }
    if (how == 1) {
      EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoD(d, host.data(), kBytes));
      EXPECT_SAME_VALUE(how + 1, ran.load()) << "cuMemcpyHtoD returned before the host function ran";
    } else {
      EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoDAsync(d, host.data(), kBytes, s));
    }
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
    EXPECT_SAME_VALUE(how + 1, ran.load());
    EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(back.data(), d, kBytes));
    EXPECT_TRUE(back == host) << "copy " << how << " did not arrive whole";
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

TEST_F(HostFnTest, GraphHostNodes) {
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  std::atomic<int> count{0};
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  CUDA_HOST_NODE_PARAMS p{add_one, &count};
  CUgraphNode first = nullptr, second = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddHostNode(&first, g, nullptr, 0, &p));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddHostNode(&second, g, &first, 1, &p));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddHostNode(&second, g, nullptr, 0, nullptr));
  CUDA_HOST_NODE_PARAMS back{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphHostNodeGetParams(second, &back));
  EXPECT_TRUE(back.fn == add_one && back.userData == &count);
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(first, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_HOST, type);
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(4, count.load());
  CUDA_HOST_NODE_PARAMS ten{add_ten, &count};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecHostNodeSetParams(exec, second, &ten));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(15, count.load()) << "one + ten";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphHostNodeSetParams(first, &ten));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphHostNodeGetParams(first, &back));
  EXPECT_TRUE(back.fn == add_ten);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));

  // Captured: a host function recorded between two memsets.
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, 4096));
  count = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(d, 1, 1024, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchHostFunc(s, add_one, &count));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(d, 2, 1024, s));
  CUgraph captured = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &captured));
  EXPECT_SAME_VALUE(0, count.load()) << "nothing ran at capture";
  CUgraphExec cexec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&cexec, captured, 0));
  for (int i = 0; i < 3; ++i) EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(cexec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(3, count.load());
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(cexec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(captured));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

// Event record and wait nodes (no host function, but the same part of issue 12): a graph that
// records an event after a memset and a graph that waits for it before reading the memory.
TEST_F(HostFnTest, GraphEventNodes) {
  CUstream a = nullptr, b = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
  CUevent e1 = nullptr, e2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&e1, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&e2, CU_EVENT_DISABLE_TIMING));
  CUgraph rec = nullptr, wait = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&rec, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&wait, 0));
  CUgraphNode r = nullptr, w = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddEventRecordNode(&r, rec, nullptr, 0, e1));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddEventWaitNode(&w, wait, nullptr, 0, e1));
  CUevent got = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphEventRecordNodeGetEvent(r, &got));
  EXPECT_TRUE(got == e1);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphEventWaitNodeGetEvent(w, &got));
  EXPECT_TRUE(got == e1);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphEventWaitNodeGetEvent(r, &got)) << "a record node";
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(r, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_EVENT_RECORD, type);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(w, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_WAIT_EVENT, type);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphEventRecordNodeSetEvent(r, e2));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphEventRecordNodeGetEvent(r, &got));
  EXPECT_TRUE(got == e2);
  CUgraphExec xr = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&xr, rec, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecEventRecordNodeSetEvent(xr, r, e1));
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, 4096));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(d, 5, 1024, a));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(xr, a));  // records e1 after the memset
  CUgraphExec xw = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&xw, wait, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(xw, b));  // b waits for e1
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoHAsync(&v, d + 8, 4, b));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(b));
  EXPECT_SAME_VALUE(5, v);
  EXPECT_CU(CUDA_SUCCESS, api().cuEventQuery(e1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(xw));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(xr));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(wait));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(rec));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(e2));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(e1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(b));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(a));
}

// The generic node API builds host and event nodes too (cuGraphAddNode / cuGraphNodeSetParams /
// cuGraphExecNodeSetParams with CU_GRAPH_NODE_TYPE_HOST and EVENT_RECORD), and they run.
TEST_F(HostFnTest, GenericNodeApiHostAndEventNodes) {
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUevent e = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
  std::atomic<int> count{0};
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  CUgraphNodeParams hp{};
  hp.type = CU_GRAPH_NODE_TYPE_HOST;
  hp.host.fn = add_one;
  hp.host.userData = &count;
  CUgraphNode host = nullptr, rec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&host, g, nullptr, nullptr, 0, &hp));
  CUgraphNodeParams ep{};
  ep.type = CU_GRAPH_NODE_TYPE_EVENT_RECORD;
  ep.eventRecord.event = e;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddNode(&rec, g, &host, nullptr, 1, &ep));
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeGetType(host, &type));
  EXPECT_SAME_VALUE(CU_GRAPH_NODE_TYPE_HOST, type);
  CUevent got = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphEventRecordNodeGetEvent(rec, &got));
  EXPECT_TRUE(got == e);
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventSynchronize(e));
  EXPECT_SAME_VALUE(1, count.load());
  hp.host.fn = add_ten;  // in the instantiated graph only
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecNodeSetParams(exec, host, &hp));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(11, count.load());
  CUDA_HOST_NODE_PARAMS back{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphHostNodeGetParams(host, &back));
  EXPECT_TRUE(back.fn == add_one) << "the graph's node keeps its function";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphNodeSetParams(host, &hp));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphHostNodeGetParams(host, &back));
  EXPECT_TRUE(back.fn == add_ten);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(e));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

}  // namespace
}  // namespace diff
