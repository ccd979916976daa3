// Stream memory operations on the emulator: a stream held at a wait nothing will satisfy does not
// keep its context from being destroyed, nor the process from exiting (docs/emulator.md, "Stream
// memory operations"). Each bounded wait only fails a hung test; no check depends on timing.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>

#include "test_util.h"

namespace {

using RuntimeMemOp = RuntimeTest;

// A stream of the current context held for ever: a wait for 1 on a word that stays 0.
void hold_a_stream() {
  CUdeviceptr word = 0;
  ASSERT_CU(cuMemAlloc(&word, 8));
  ASSERT_CU(cuMemsetD32(word, 0, 2));
  CUstream s = nullptr;
  ASSERT_CU(cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(cuStreamWaitValue32(s, word, 1, CU_STREAM_WAIT_VALUE_EQ));
  ASSERT_CU(cuStreamWriteValue32(s, word + 4, 1, 0));
  ASSERT_EQ(CUDA_ERROR_NOT_READY, cuStreamQuery(s));
}

TEST_F(RuntimeMemOp, ContextDestroyEndsAWaitNeverSatisfied) {
  CUcontext c = nullptr;
  ASSERT_CU(cuCtxCreate(&c, nullptr, 0, 0));
  hold_a_stream();
  auto destroyed = std::async(std::launch::async, [c] { return cuCtxDestroy(c); });
  if (destroyed.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    ADD_FAILURE() << "cuCtxDestroy hung behind a held stream";
    std::abort();  // the held thread cannot be cancelled
  }
  EXPECT_CU(destroyed.get());
  ASSERT_CU(cuCtxSetCurrent(ctx_));
  EXPECT_CU(cuCtxSynchronize());
}

// Run only as the child of ProcessExitsWithAHeldStream: holds a stream and exits normally
// (static destructors and atexit handlers run).
TEST_F(RuntimeMemOp, ChildHoldsAStreamAndExits) {
  if (std::getenv("GPOOL_TEST_MEMOP_CHILD") == nullptr) GTEST_SKIP() << "run by ProcessExitsWithAHeldStream";
  hold_a_stream();
  std::exit(HasFailure() ? 3 : 0);
}

TEST_F(RuntimeMemOp, ProcessExitsWithAHeldStream) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    setenv("GPOOL_TEST_MEMOP_CHILD", "1", 1);
    execl("/proc/self/exe", "gpool_runtime_tests", "--gtest_filter=RuntimeMemOp.ChildHoldsAStreamAndExits",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  pid_t done = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((done = waitpid(pid, &status, WNOHANG)) == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (done == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the process did not exit while one of its streams was held at a wait";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(0, WEXITSTATUS(status));
}

}  // namespace
