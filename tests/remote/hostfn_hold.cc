// gpool-remote-hostfn-hold: holds a stream at a host function that never returns, for
// tests/remote/hostfn.py. Allocates MIB MiB, enqueues on a stream a host function that blocks
// for ever and a memset behind it, prints "HOLDING <bytes>" once the function runs, then waits in
// cuStreamSynchronize (the server's worker then waits in its driver for the held stream). The
// test SIGKILLs it there.
//
// `gpool-remote-hostfn-hold bench N` instead measures, on the calling thread, the wall and CPU
// time of N cuLaunchHostFunc calls of an empty function (each returns at once), and of N
// cuStreamSynchronize calls on an idle stream: the round trip the shim made for every host
// function before they stopped blocking (docs/performance.md).
#include <cuda.h>

#include <time.h>

#include <atomic>
#include <cstring>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>

#include "driver_client.h"

namespace {

std::atomic<bool> g_running{false};

void CUDA_CB block_for_ever(void*) {
  g_running = true;
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

void must(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) {
    std::printf("FAIL: %s -> %s\n", what, remote_client::err_name(r));
    std::exit(1);
  }
}

}  // namespace

void CUDA_CB nothing(void*) {}

double seconds(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

int bench(unsigned n) {
  DRV(cuInit);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  DRV(cuStreamCreate);
  DRV(cuLaunchHostFunc);
  DRV(cuStreamSynchronize);
  must(p_cuInit(0), "cuInit");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, 0), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  double w0 = seconds(CLOCK_MONOTONIC), c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
  for (unsigned i = 0; i < n; ++i) must(p_cuLaunchHostFunc(s, nothing, nullptr), "cuLaunchHostFunc");
  double w1 = seconds(CLOCK_MONOTONIC), c1 = seconds(CLOCK_THREAD_CPUTIME_ID);
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  const double drained = seconds(CLOCK_MONOTONIC);
  std::printf("LAUNCH_HOST_FUNC_US wall %.2f cpu %.2f (all %u ran %.1f us after the last returned)\n",
              (w1 - w0) * 1e6 / n, (c1 - c0) * 1e6 / n, n, (drained - w1) * 1e6);
  w0 = seconds(CLOCK_MONOTONIC);
  c0 = seconds(CLOCK_THREAD_CPUTIME_ID);
  for (unsigned i = 0; i < n; ++i) must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  w1 = seconds(CLOCK_MONOTONIC);
  c1 = seconds(CLOCK_THREAD_CPUTIME_ID);
  std::printf("STREAM_SYNC_US wall %.2f cpu %.2f\n", (w1 - w0) * 1e6 / n, (c1 - c0) * 1e6 / n);
  return 0;
}

int main(int argc, char** argv) {
  if (!remote_client::load_driver()) return 1;
  if (argc > 2 && std::strcmp(argv[1], "bench") == 0) return bench(static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)));
  const size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 16;
  DRV(cuInit);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  DRV(cuMemAlloc_v2);
  DRV(cuStreamCreate);
  DRV(cuLaunchHostFunc);
  DRV(cuMemsetD8Async);
  DRV(cuStreamSynchronize);
  must(p_cuInit(0), "cuInit");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, 0), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  const size_t bytes = mib << 20;
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, bytes), "cuMemAlloc");
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  must(p_cuLaunchHostFunc(s, block_for_ever, nullptr), "cuLaunchHostFunc");
  must(p_cuMemsetD8Async(d, 1, bytes, s), "cuMemsetD8Async");
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!g_running) {
    if (std::chrono::steady_clock::now() > give_up) {
      std::printf("FAIL: the host function never ran\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("HOLDING %zu\n", bytes);
  std::fflush(stdout);
  const CUresult r = p_cuStreamSynchronize(s);
  std::printf("FAIL: cuStreamSynchronize returned %s while its stream was held\n", remote_client::err_name(r));
  return 1;
}
