// Streams and events: creation flags and priorities, ordering across streams through an event,
// host functions, query/synchronize, and elapsed time.
#include <atomic>

#include "suite.h"

namespace diff {
namespace {

using StreamTest = DiffTest;
using EventTest = DiffTest;

void CUDA_CB set_flag(void* data) { static_cast<std::atomic<int>*>(data)->store(1); }

TEST_F(StreamTest, FlagsPrioritiesAndHostFunctions) {
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  unsigned flags = 99;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamGetFlags(s, &flags));
  EXPECT_SAME_VALUE(CU_STREAM_NON_BLOCKING, flags);
  int least = 0, greatest = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxGetStreamPriorityRange(&least, &greatest));
  CUstream hi = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamCreateWithPriority(&hi, 0, greatest));
  int prio = 1;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamGetPriority(hi, &prio));
  EXPECT_EQ(greatest, prio);
  std::atomic<int> ran{0};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchHostFunc(s, set_flag, &ran));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(1, ran.load());
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamQuery(s)) << "an idle stream";
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamQuery(nullptr)) << "the idle legacy stream";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamCreate(nullptr, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(hi));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

TEST_F(StreamTest, EventOrdersTwoStreams) {
  CUstream a = nullptr, b = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
  CUevent e = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&e, CU_EVENT_DISABLE_TIMING));
  constexpr size_t words = 1 << 18;  // 1 MiB
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, words * 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(p, 1, words, a));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(p, 2, words, a));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventRecord(e, a));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamWaitEvent(b, e, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32Async(p + 4 * (words - 1), 3, 1, b));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(b));
  unsigned tail[2] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(tail, p + 4 * (words - 2), 8));
  EXPECT_SAME_VALUE(2, tail[0]);
  EXPECT_SAME_VALUE(3, tail[1]) << "stream b's memset ran before stream a's, despite the event";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(e));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(b));
}

TEST_F(EventTest, RecordQuerySynchronizeElapsed) {
  CUevent start = nullptr, stop = nullptr, untimed = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&start, CU_EVENT_DEFAULT));
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&stop, CU_EVENT_DEFAULT));
  ASSERT_CU(CUDA_SUCCESS, api().cuEventCreate(&untimed, CU_EVENT_DISABLE_TIMING));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventQuery(stop)) << "an event never recorded is complete";
  float ms = -1;
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuEventElapsedTime(&ms, start, stop)) << "neither was recorded";
  CUdeviceptr p = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&p, 1 << 20));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventRecord(start, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemsetD32(p, 5, 1 << 18));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventRecord(stop, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventRecord(untimed, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventSynchronize(stop));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventQuery(stop));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventElapsedTime(&ms, start, stop));
  EXPECT_GE(ms, 0.0f);
  EXPECT_CU(CUDA_ERROR_INVALID_HANDLE, api().cuEventElapsedTime(&ms, start, untimed))
      << "an event created with CU_EVENT_DISABLE_TIMING";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuEventCreate(nullptr, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(p));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(start));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(stop));
  EXPECT_CU(CUDA_SUCCESS, api().cuEventDestroy(untimed));
}

}  // namespace
}  // namespace diff
