// host_func_async: host functions that do not block their caller, on several streams, and
// graph host nodes (captured and added explicitly).
//
// 1. cudaLaunchHostFunc returns at once: a host function that waits for a flag the main thread
//    sets only after cudaLaunchHostFunc returned must finish (a blocking implementation would
//    make it time out). While it waits, work enqueued after it on its stream (a kernel and an
//    event) must not run: cudaEventQuery answers cudaErrorNotReady.
// 2. On three streams, host functions between kernels run in stream order: each stream's two
//    functions in order, and each sees the value its own stream's kernels left in a counter the
//    kernels and functions update in turn (read through a copy into pinned memory that the
//    kernel's stream made before the function).
// 3. A graph captured with a host node between two kernels, launched three times; and a graph
//    built with cudaGraphAddHostNode, its parameters read back, changed in the graph and in the
//    instantiated graph.
//
// Build: nvcc -o host_func_async host_func_async.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./host_func_async
#include "check.h"

#include <atomic>
#include <chrono>
#include <thread>

__global__ void add(int* x, int v) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *x += v;
}

namespace {

constexpr auto kTimeout = std::chrono::seconds(10);

struct Gate {
  std::atomic<bool> open{false};
  std::atomic<int> result{0};  // 1: saw the flag, -1: timed out
};

void CUDART_CB wait_for_flag(void* p) {
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

struct Step {
  const int* pinned;        // the stream's copy of its counter, made just before this function
  int expected;             // what the copy must hold
  std::atomic<int>* log;    // per-stream sequence
  int seen_at = -1;
  int value = -1;
};

void CUDART_CB record(void* p) {
  auto* s = static_cast<Step*>(p);
  s->seen_at = s->log->fetch_add(1);
  s->value = *s->pinned;
}

void CUDART_CB count(void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(1); }
void CUDART_CB count_ten(void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(10); }
void CUDART_CB count_hundred(void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(100); }

void wait_until(const std::atomic<int>& v, int at_least, const char* what) {
  const auto give_up = std::chrono::steady_clock::now() + kTimeout;
  while (v.load() < at_least) {
    if (std::chrono::steady_clock::now() > give_up) example_fail("%s never happened", what);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

void non_blocking() {
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  int* d = nullptr;
  CHECK(cudaMalloc(&d, sizeof(int)));
  CHECK(cudaMemset(d, 0, sizeof(int)));
  cudaEvent_t after;
  CHECK(cudaEventCreate(&after));
  Gate gate;
  CHECK(cudaLaunchHostFunc(s, wait_for_flag, &gate));
  add<<<1, 1, 0, s>>>(d, 1);
  CHECK(cudaGetLastError());
  CHECK(cudaEventRecord(after, s));
  // The function is waiting for us: what follows it on its stream must wait too.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (gate.result.load() != 0) example_fail("the host function finished before its flag was set (%d)", gate.result.load());
  EXPECT_ERR(cudaEventQuery(after), cudaErrorNotReady);
  gate.open = true;
  CHECK(cudaStreamSynchronize(s));
  if (gate.result.load() != 1) example_fail("cudaLaunchHostFunc blocked its caller: the host function timed out");
  int h = 0;
  CHECK(cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost));
  if (h != 1) example_fail("the kernel after the host function left %d, expected 1", h);
  CHECK(cudaEventDestroy(after));
  CHECK(cudaFree(d));
  CHECK(cudaStreamDestroy(s));
}

void several_streams() {
  constexpr int kStreams = 3;
  cudaStream_t s[kStreams];
  int* d = nullptr;
  int* pinned = nullptr;
  CHECK(cudaMalloc(&d, kStreams * sizeof(int)));
  CHECK(cudaMemset(d, 0, kStreams * sizeof(int)));
  CHECK(cudaMallocHost(&pinned, 2 * kStreams * sizeof(int)));
  std::atomic<int> log[kStreams];
  Step first[kStreams], second[kStreams];
  for (int i = 0; i < kStreams; ++i) {
    log[i] = 0;
    CHECK(cudaStreamCreateWithFlags(&s[i], cudaStreamNonBlocking));
    first[i] = Step{&pinned[2 * i], 1 + i, &log[i]};
    second[i] = Step{&pinned[2 * i + 1], 1 + i + 10 * (i + 1), &log[i]};
  }
  for (int i = 0; i < kStreams; ++i) {
    add<<<1, 1, 0, s[i]>>>(d + i, 1 + i);
    CHECK(cudaMemcpyAsync(&pinned[2 * i], d + i, sizeof(int), cudaMemcpyDeviceToHost, s[i]));
    CHECK(cudaLaunchHostFunc(s[i], record, &first[i]));
    add<<<1, 1, 0, s[i]>>>(d + i, 10 * (i + 1));
    CHECK(cudaMemcpyAsync(&pinned[2 * i + 1], d + i, sizeof(int), cudaMemcpyDeviceToHost, s[i]));
    CHECK(cudaLaunchHostFunc(s[i], record, &second[i]));
  }
  for (int i = 0; i < kStreams; ++i) CHECK(cudaStreamSynchronize(s[i]));
  for (int i = 0; i < kStreams; ++i) {
    if (first[i].seen_at != 0 || second[i].seen_at != 1)
      example_fail("stream %d: host functions ran in order %d, %d", i, first[i].seen_at, second[i].seen_at);
    if (first[i].value != first[i].expected || second[i].value != second[i].expected)
      example_fail("stream %d: host functions saw %d, %d; expected %d, %d", i, first[i].value,
                   second[i].value, first[i].expected, second[i].expected);
    CHECK(cudaStreamDestroy(s[i]));
  }
  CHECK(cudaFreeHost(pinned));
  CHECK(cudaFree(d));
}

void graphs() {
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  int* d = nullptr;
  CHECK(cudaMalloc(&d, sizeof(int)));
  CHECK(cudaMemset(d, 0, sizeof(int)));
  std::atomic<int> calls{0};

  // Captured: kernel, host function, kernel.
  cudaGraph_t g;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  add<<<1, 1, 0, s>>>(d, 1);
  CHECK(cudaLaunchHostFunc(s, count, &calls));
  add<<<1, 1, 0, s>>>(d, 2);
  CHECK(cudaStreamEndCapture(s, &g));
  if (calls.load() != 0) example_fail("a captured host function ran at capture time");
  cudaGraphExec_t exec;
  CHECK(cudaGraphInstantiate(&exec, g, 0));
  for (int i = 0; i < 3; ++i) CHECK(cudaGraphLaunch(exec, s));
  CHECK(cudaStreamSynchronize(s));
  int h = 0;
  CHECK(cudaMemcpy(&h, d, sizeof(int), cudaMemcpyDeviceToHost));
  if (calls.load() != 3 || h != 9) example_fail("captured graph: %d host calls, value %d; expected 3, 9", calls.load(), h);
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(g));

  // Explicit: a host node, read back, changed in the graph and in the instantiated graph.
  calls = 0;
  cudaGraph_t g2;
  CHECK(cudaGraphCreate(&g2, 0));
  cudaHostNodeParams p{};
  p.fn = count;
  p.userData = &calls;
  cudaGraphNode_t node;
  CHECK(cudaGraphAddHostNode(&node, g2, nullptr, 0, &p));
  cudaHostNodeParams back{};
  CHECK(cudaGraphHostNodeGetParams(node, &back));
  if (back.fn != count || back.userData != &calls) example_fail("cudaGraphHostNodeGetParams gave other parameters");
  cudaGraphExec_t e2;
  CHECK(cudaGraphInstantiate(&e2, g2, 0));
  CHECK(cudaGraphLaunch(e2, s));
  CHECK(cudaStreamSynchronize(s));
  if (calls.load() != 1) example_fail("host node: %d calls after one launch", calls.load());
  p.fn = count_ten;
  CHECK(cudaGraphExecHostNodeSetParams(e2, node, &p));
  CHECK(cudaGraphLaunch(e2, s));
  CHECK(cudaStreamSynchronize(s));
  if (calls.load() != 11) example_fail("exec host node parameters: counter %d, expected 11", calls.load());
  p.fn = count_hundred;
  CHECK(cudaGraphHostNodeSetParams(node, &p));
  CHECK(cudaGraphHostNodeGetParams(node, &back));
  if (back.fn != count_hundred) example_fail("cudaGraphHostNodeSetParams did not change the function");
  cudaGraphExec_t e3;
  CHECK(cudaGraphInstantiate(&e3, g2, 0));
  CHECK(cudaGraphLaunch(e3, s));
  // The launch returns before the host node runs; the program need not call anything for it.
  wait_until(calls, 111, "the host node of a launched graph");
  CHECK(cudaStreamSynchronize(s));
  CHECK(cudaGraphExecDestroy(e3));
  CHECK(cudaGraphExecDestroy(e2));
  CHECK(cudaGraphDestroy(g2));
  CHECK(cudaFree(d));
  CHECK(cudaStreamDestroy(s));
}

}  // namespace

int main() {
  non_blocking();
  several_streams();
  graphs();
  return example_pass();
}
