// Regression test: cudart calls the driver from its atexit handlers (library
// unload, primary context release), after the main thread's thread-local
// destructors have run. The driver must keep working there. Under ASan a
// use-after-free in that path fails this program; without it, the checks do.
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace {

void fail(const char* what, CUresult r) {
  std::fprintf(stderr, "atexit: %s returned %d\n", what, static_cast<int>(r));
  _exit(1);
}

void at_exit() {
  CUcontext cur = nullptr;
  if (CUresult r = cuCtxGetCurrent(&cur); r != CUDA_SUCCESS) fail("cuCtxGetCurrent", r);
  if (cur == nullptr) fail("cuCtxGetCurrent (no current context)", CUDA_ERROR_INVALID_CONTEXT);
  CUdeviceptr p = 0;
  if (CUresult r = cuMemAlloc(&p, 4096); r != CUDA_SUCCESS) fail("cuMemAlloc", r);
  if (CUresult r = cuMemsetD8Async(p, 1, 4096, CU_STREAM_PER_THREAD); r != CUDA_SUCCESS) fail("cuMemsetD8Async", r);
  if (CUresult r = cuMemFree(p); r != CUDA_SUCCESS) fail("cuMemFree", r);
  if (CUresult r = cuDevicePrimaryCtxRelease(0); r != CUDA_SUCCESS) fail("cuDevicePrimaryCtxRelease", r);
  std::printf("atexit: ok\n");
  std::fflush(stdout);
}

}  // namespace

int main() {
  if (cuInit(0) != CUDA_SUCCESS) return 1;
  CUcontext ctx = nullptr;
  if (cuDevicePrimaryCtxRetain(&ctx, 0) != CUDA_SUCCESS || cuCtxSetCurrent(ctx) != CUDA_SUCCESS) return 1;
  CUdeviceptr p = 0;
  if (cuMemAlloc(&p, 64) != CUDA_SUCCESS) return 1;  // device memory in use when exit starts
  unsigned long long id = 0;
  if (cuStreamGetId(CU_STREAM_PER_THREAD, &id) != CUDA_SUCCESS) return 1;
  std::atexit(at_exit);
  return 0;
}
