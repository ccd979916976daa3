// gpool-remote-hostfn-hold: holds a stream at a host function that never returns, for
// tests/remote/hostfn.py. Allocates MIB MiB, enqueues on a stream a host function that blocks
// for ever and a memset behind it, prints "HOLDING <bytes>" once the function runs, then waits in
// cuStreamSynchronize (the server's worker then waits in its driver for the held stream). The
// test SIGKILLs it there.
#include <cuda.h>

#include <atomic>
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

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 16;
  if (!remote_client::load_driver()) return 1;
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
