// Streams and events: in-order execution, host functions, legacy default
// stream synchronisation, events and elapsed time.
#include "test_util.h"

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace {

struct Log {
  std::mutex mu;
  std::vector<int> order;
};

struct Item {
  Log* log;
  int value;
};

void CUDA_CB append(void* p) {
  auto* it = static_cast<Item*>(p);
  std::lock_guard lock(it->log->mu);
  it->log->order.push_back(it->value);
}

void CUDA_CB sleep_then_set(void* p) {
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  static_cast<std::atomic<int>*>(p)->store(1);
}

void CUDA_CB read_flag(void* p) {
  auto* pair = static_cast<std::pair<std::atomic<int>*, int>*>(p);
  pair->second = pair->first->load();
}

void CUDA_CB sleep_20ms(void*) { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

// Holds its stream until the flag is set (bounded, so a broken test cannot hang the suite).
void CUDA_CB wait_for_flag(void* p) {
  auto* flag = static_cast<std::atomic<int>*>(p);
  for (int i = 0; i < 5000 && flag->load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

}  // namespace

using RuntimeStream = RuntimeTest;

TEST_F(RuntimeStream, HostFunctionsAndCopiesRunInOrder) {
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, 0));
  Log log;
  std::vector<Item> items;
  for (int i = 0; i < 20; ++i) items.push_back({&log, i});
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, 4));
  uint32_t v = 0, out = 0;
  for (int i = 0; i < 20; ++i) {
    ASSERT_CU(cuLaunchHostFunc(s, append, &items[i]));
    if (i == 10) {
      v = 77;
      ASSERT_CU(cuMemcpyHtoDAsync(d, &v, 4, s));  // pageable source: staged at the call
      v = 0;
    }
  }
  ASSERT_CU(cuMemcpyDtoHAsync(&out, d, 4, s));
  ASSERT_CU(cuStreamSynchronize(s));
  ASSERT_CU(cuStreamQuery(s));
  std::vector<int> want(20);
  for (int i = 0; i < 20; ++i) want[i] = i;
  EXPECT_EQ(want, log.order);
  EXPECT_EQ(77u, out);
  unsigned flags = 9;
  ASSERT_CU(cuStreamGetFlags(s, &flags));
  EXPECT_EQ(0u, flags);
  CUcontext c = nullptr;
  ASSERT_CU(cuStreamGetCtx(s, &c));
  EXPECT_EQ(ctx_, c);
  ASSERT_CU(cuMemFree(d));
  ASSERT_CU(cuStreamDestroy(s));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuStreamQuery(s));
}

TEST_F(RuntimeStream, QueryReportsPendingWork) {
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  std::atomic<int> flag{0};
  ASSERT_CU(cuLaunchHostFunc(s, sleep_then_set, &flag));
  EXPECT_EQ(CUDA_ERROR_NOT_READY, cuStreamQuery(s));
  ASSERT_CU(cuStreamSynchronize(s));
  EXPECT_EQ(1, flag.load());
  ASSERT_CU(cuStreamDestroy(s));
}

TEST_F(RuntimeStream, LegacyStreamWaitsForBlockingStreams) {
  CUstream blocking = nullptr;
  ASSERT_CU(cuStreamCreate(&blocking, CU_STREAM_DEFAULT));
  std::atomic<int> flag{0};
  ASSERT_CU(cuLaunchHostFunc(blocking, sleep_then_set, &flag));
  std::pair<std::atomic<int>*, int> seen{&flag, -1};
  ASSERT_CU(cuLaunchHostFunc(CU_STREAM_LEGACY, read_flag, &seen));
  ASSERT_CU(cuStreamSynchronize(nullptr));
  EXPECT_EQ(1, seen.second);  // the legacy stream ran after the blocking stream's work
  ASSERT_CU(cuStreamDestroy(blocking));
}

TEST_F(RuntimeStream, NonBlockingStreamDoesNotWaitForLegacy) {
  CUstream nb = nullptr;
  ASSERT_CU(cuStreamCreate(&nb, CU_STREAM_NON_BLOCKING));
  std::atomic<int> flag{0};
  ASSERT_CU(cuLaunchHostFunc(nullptr, sleep_then_set, &flag));  // legacy: busy for 50 ms
  std::pair<std::atomic<int>*, int> seen{&flag, -1};
  ASSERT_CU(cuLaunchHostFunc(nb, read_flag, &seen));
  ASSERT_CU(cuStreamSynchronize(nb));
  EXPECT_EQ(0, seen.second);  // ran while the legacy stream was still sleeping
  ASSERT_CU(cuCtxSynchronize());
  ASSERT_CU(cuStreamDestroy(nb));
}

TEST_F(RuntimeStream, WaitEventOrdersAcrossStreams) {
  CUstream a = nullptr, b = nullptr;
  ASSERT_CU(cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
  CUevent e = nullptr;
  ASSERT_CU(cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
  std::atomic<int> flag{0};
  ASSERT_CU(cuLaunchHostFunc(a, sleep_then_set, &flag));
  ASSERT_CU(cuEventRecord(e, a));
  ASSERT_CU(cuStreamWaitEvent(b, e, 0));
  std::pair<std::atomic<int>*, int> seen{&flag, -1};
  ASSERT_CU(cuLaunchHostFunc(b, read_flag, &seen));
  ASSERT_CU(cuStreamSynchronize(b));
  EXPECT_EQ(1, seen.second);
  ASSERT_CU(cuEventDestroy(e));
  ASSERT_CU(cuStreamDestroy(a));
  ASSERT_CU(cuStreamDestroy(b));
}

TEST_F(RuntimeStream, EventElapsedTime) {
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, 0));
  CUevent start = nullptr, stop = nullptr, untimed = nullptr, never = nullptr;
  ASSERT_CU(cuEventCreate(&start, CU_EVENT_DEFAULT));
  ASSERT_CU(cuEventCreate(&stop, CU_EVENT_BLOCKING_SYNC));
  ASSERT_CU(cuEventCreate(&untimed, CU_EVENT_DISABLE_TIMING));
  ASSERT_CU(cuEventCreate(&never, 0));
  ASSERT_CU(cuEventQuery(never));  // never recorded: complete
  ASSERT_CU(cuEventRecord(start, s));
  ASSERT_CU(cuLaunchHostFunc(s, sleep_20ms, nullptr));
  ASSERT_CU(cuEventRecord(stop, s));
  ASSERT_CU(cuEventRecord(untimed, s));
  float ms = -1;
  EXPECT_EQ(CUDA_ERROR_NOT_READY, cuEventElapsedTime(&ms, start, stop));
  EXPECT_EQ(CUDA_ERROR_NOT_READY, cuEventQuery(stop));
  ASSERT_CU(cuEventSynchronize(stop));
  ASSERT_CU(cuEventQuery(stop));
  ASSERT_CU(cuEventElapsedTime(&ms, start, stop));
  EXPECT_GE(ms, 19.0f);
  EXPECT_LT(ms, 2000.0f);
  ASSERT_CU(cuEventSynchronize(untimed));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuEventElapsedTime(&ms, start, untimed));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuEventElapsedTime(&ms, start, never));
  for (CUevent e : {start, stop, untimed, never}) ASSERT_CU(cuEventDestroy(e));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuEventQuery(start));
  ASSERT_CU(cuStreamDestroy(s));
}

TEST_F(RuntimeStream, DestroyCompletesPendingWork) {
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreateWithPriority(&s, 0, -100));  // clamped into the range
  int prio = 0;
  ASSERT_CU(cuStreamGetPriority(s, &prio));
  int least = 0, greatest = 0;
  ASSERT_CU(cuCtxGetStreamPriorityRange(&least, &greatest));
  EXPECT_EQ(greatest, prio);
  std::atomic<int> flag{0};
  ASSERT_CU(cuLaunchHostFunc(s, sleep_then_set, &flag));
  ASSERT_CU(cuStreamDestroy(s));
  ASSERT_CU(cuCtxSynchronize());
  EXPECT_EQ(1, flag.load());
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuStreamDestroy(s));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuLaunchHostFunc(s, sleep_20ms, nullptr));
}

TEST_F(RuntimeStream, PerThreadDefaultStreamIsPerThread) {
  unsigned long long mine = 0, again = 0, other = 0, legacy = 0;
  ASSERT_CU(cuStreamGetId(CU_STREAM_PER_THREAD, &mine));
  ASSERT_CU(cuStreamGetId(CU_STREAM_PER_THREAD, &again));
  ASSERT_CU(cuStreamGetId(CU_STREAM_LEGACY, &legacy));
  EXPECT_EQ(mine, again);
  EXPECT_NE(mine, legacy);
  std::thread([&] {
    EXPECT_CU(cuCtxSetCurrent(ctx_));
    EXPECT_CU(cuStreamGetId(CU_STREAM_PER_THREAD, &other));
  }).join();
  EXPECT_NE(mine, other);
  std::atomic<int> flag{0};
  ASSERT_CU(cuLaunchHostFunc(CU_STREAM_PER_THREAD, sleep_then_set, &flag));
  ASSERT_CU(cuStreamSynchronize(CU_STREAM_PER_THREAD));
  EXPECT_EQ(1, flag.load());
}

// Stream capture itself is tested in graph_capture_test.cc; a stream destroyed while it
// captures ends the capture, so the legacy stream is usable again.
TEST_F(RuntimeStream, DestroyingACapturingStreamEndsTheCapture) {
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, 0));
  CUstreamCaptureStatus st = CU_STREAM_CAPTURE_STATUS_ACTIVE;
  ASSERT_CU(cuStreamIsCapturing(s, &st));
  EXPECT_EQ(CU_STREAM_CAPTURE_STATUS_NONE, st);
  ASSERT_CU(cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  ASSERT_CU(cuStreamIsCapturing(s, &st));
  EXPECT_EQ(CU_STREAM_CAPTURE_STATUS_ACTIVE, st);
  ASSERT_CU(cuStreamDestroy(s));
  ASSERT_CU(cuStreamIsCapturing(CU_STREAM_LEGACY, &st));
  EXPECT_EQ(CU_STREAM_CAPTURE_STATUS_NONE, st);
  ASSERT_CU(cuStreamSynchronize(CU_STREAM_LEGACY));
}

// A stream wakes its waiters only once the earliest position one of them waits for has run
// (stream_queue.cc): a waiter for an early position must still return while a waiter for the
// end of the stream keeps waiting behind a held task, and both must return in the end.
TEST_F(RuntimeStream, WaitersForDifferentPositionsEachWakeAtTheirOwn) {
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUevent early = nullptr;
  ASSERT_CU(cuEventCreate(&early, CU_EVENT_DISABLE_TIMING));
  std::atomic<int> gate{0};
  ASSERT_CU(cuLaunchHostFunc(s, sleep_20ms, nullptr));
  ASSERT_CU(cuEventRecord(early, s));
  ASSERT_CU(cuLaunchHostFunc(s, wait_for_flag, &gate));
  // The early waiter first, then the stream's end (a later, larger position): the second
  // must not take the first's place, nor the first the second's.
  auto part = std::async(std::launch::async, [&] {
    EXPECT_CU(cuCtxSetCurrent(ctx_));
    return cuEventSynchronize(early);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto whole = std::async(std::launch::async, [&] {
    EXPECT_CU(cuCtxSetCurrent(ctx_));
    return cuStreamSynchronize(s);
  });
  ASSERT_EQ(std::future_status::ready, part.wait_for(std::chrono::seconds(3)));
  EXPECT_EQ(CUDA_SUCCESS, part.get());
  EXPECT_EQ(std::future_status::timeout, whole.wait_for(std::chrono::milliseconds(0)));  // still held
  gate.store(1);
  ASSERT_EQ(std::future_status::ready, whole.wait_for(std::chrono::seconds(3)));
  EXPECT_EQ(CUDA_SUCCESS, whole.get());
  ASSERT_CU(cuEventDestroy(early));
  ASSERT_CU(cuStreamDestroy(s));
}
