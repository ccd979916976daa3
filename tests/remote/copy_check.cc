// gpool-remote-copy-check: data integrity of copies through the shim and the server's pipelined
// copy path (server/src/worker_copy.cc, staging_ring.h). Loads libcuda.so.1 with dlopen (run it
// with the shim first on LD_LIBRARY_PATH). Every check compares bytes:
//
//   sizes      H2D then D2H round trips of sizes around the chunk boundaries (1 B .. 64 MiB),
//              pageable and pinned host memory, synchronous and stream-ordered forms
//   reuse      several async H2D copies from one host buffer rewritten between the calls: each
//              device buffer holds the bytes of its own call (slots reused while copies fly)
//   order      H2D, then D2D, then D2H on one stream, and a kernel-free chain across streams
//              joined by an event, see each other's results
//   forged     an H2D whose range runs past its allocation fails and writes nothing, neither
//              into that allocation nor the next one; a D2H past the end fails; the context
//              keeps working
// Prints PASS / FAIL lines like the examples; exit 0 on pass.
#include <cuda.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "driver_client.h"

namespace {

using namespace remote_client;

void check(bool ok, const char* what, size_t detail) {
  if (!ok) {
    std::printf("FAIL: %s (%zu)\n", what, detail);
    ++g_failures;
  }
}

void fill(unsigned char* p, size_t n, uint32_t seed) {
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1103515245u + 12345u;
    p[i] = static_cast<unsigned char>(x >> 16);
  }
}

bool same(const unsigned char* a, const unsigned char* b, size_t n) { return std::memcmp(a, b, n) == 0; }

void sizes() {
  DRV(cuMemAlloc_v2);
  DRV(cuMemFree_v2);
  DRV(cuMemAllocHost_v2);
  DRV(cuMemFreeHost);
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuMemcpyHtoDAsync_v2);
  DRV(cuMemcpyDtoHAsync_v2);
  DRV(cuStreamCreate);
  DRV(cuStreamSynchronize);
  DRV(cuStreamDestroy_v2);
  const size_t mib = size_t{1} << 20;
  // Boundaries of the default chunk (1 MiB) and of twice it; 64k chunks in the other test.
  const size_t list[] = {1, 4095, 64 << 10, mib - 1, mib, mib + 1, 2 * mib - 1, 2 * mib, 2 * mib + 1, 9 * mib + 12345, 64 * mib};
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, 0), "cuStreamCreate");
  uint32_t seed = 1;
  for (size_t n : list) {
    CUdeviceptr d = 0;
    must(p_cuMemAlloc_v2(&d, n), "cuMemAlloc");
    // Pageable, synchronous forms.
    std::vector<unsigned char> src(n), back(n, 0);
    fill(src.data(), n, seed++);
    must(p_cuMemcpyHtoD_v2(d, src.data(), n), "cuMemcpyHtoD");
    must(p_cuMemcpyDtoH_v2(back.data(), d, n), "cuMemcpyDtoH");
    check(same(src.data(), back.data(), n), "pageable H2D/D2H round trip differs", n);
    // Pinned, stream-ordered forms.
    void* ph = nullptr;
    void* pb = nullptr;
    must(p_cuMemAllocHost_v2(&ph, n), "cuMemAllocHost");
    must(p_cuMemAllocHost_v2(&pb, n), "cuMemAllocHost");
    auto* h = static_cast<unsigned char*>(ph);
    auto* b = static_cast<unsigned char*>(pb);
    fill(h, n, seed++);
    std::memset(b, 0, n);
    must(p_cuMemcpyHtoDAsync_v2(d, h, n, s), "cuMemcpyHtoDAsync");
    must(p_cuMemcpyDtoHAsync_v2(b, d, n, s), "cuMemcpyDtoHAsync");
    must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
    check(same(h, b, n), "pinned async H2D/D2H round trip differs", n);
    must(p_cuMemFreeHost(ph), "cuMemFreeHost");
    must(p_cuMemFreeHost(pb), "cuMemFreeHost");
    must(p_cuMemFree_v2(d), "cuMemFree");
  }
  must(p_cuStreamDestroy_v2(s), "cuStreamDestroy");
}

void reuse() {
  DRV(cuMemAlloc_v2);
  DRV(cuMemFree_v2);
  DRV(cuMemcpyHtoDAsync_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuStreamCreate);
  DRV(cuStreamDestroy_v2);
  DRV(cuCtxSynchronize);
  const size_t n = (size_t{5} << 20) + 777;  // several chunks, not a multiple of one
  constexpr int kCopies = 6;
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, 0), "cuStreamCreate");
  std::vector<CUdeviceptr> d(kCopies);
  std::vector<unsigned char> host(n);
  for (int i = 0; i < kCopies; ++i) {
    must(p_cuMemAlloc_v2(&d[i], n), "cuMemAlloc");
    fill(host.data(), n, 100 + i);
    must(p_cuMemcpyHtoDAsync_v2(d[i], host.data(), n, s), "cuMemcpyHtoDAsync");
  }
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  std::vector<unsigned char> want(n), got(n);
  for (int i = 0; i < kCopies; ++i) {
    fill(want.data(), n, 100 + i);
    must(p_cuMemcpyDtoH_v2(got.data(), d[i], n), "cuMemcpyDtoH");
    check(same(want.data(), got.data(), n), "async H2D from a rewritten host buffer differs", i);
    must(p_cuMemFree_v2(d[i]), "cuMemFree");
  }
  must(p_cuStreamDestroy_v2(s), "cuStreamDestroy");
}

void order() {
  DRV(cuMemAlloc_v2);
  DRV(cuMemFree_v2);
  DRV(cuMemcpyHtoDAsync_v2);
  DRV(cuMemcpyDtoDAsync_v2);
  DRV(cuMemcpyDtoHAsync_v2);
  DRV(cuStreamCreate);
  DRV(cuStreamDestroy_v2);
  DRV(cuStreamSynchronize);
  DRV(cuStreamWaitEvent);
  DRV(cuEventCreate);
  DRV(cuEventRecord);
  DRV(cuEventDestroy_v2);
  const size_t n = (size_t{7} << 20) + 3;
  CUstream s1 = nullptr, s2 = nullptr;
  must(p_cuStreamCreate(&s1, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  must(p_cuStreamCreate(&s2, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  CUevent ev = nullptr;
  must(p_cuEventCreate(&ev, CU_EVENT_DISABLE_TIMING), "cuEventCreate");
  CUdeviceptr a = 0, b = 0;
  must(p_cuMemAlloc_v2(&a, n), "cuMemAlloc");
  must(p_cuMemAlloc_v2(&b, n), "cuMemAlloc");
  std::vector<unsigned char> src(n), got(n, 0);
  fill(src.data(), n, 7);
  // s1: H2D into a; s2 waits for it, copies a -> b and reads b back.
  must(p_cuMemcpyHtoDAsync_v2(a, src.data(), n, s1), "cuMemcpyHtoDAsync");
  must(p_cuEventRecord(ev, s1), "cuEventRecord");
  must(p_cuStreamWaitEvent(s2, ev, 0), "cuStreamWaitEvent");
  must(p_cuMemcpyDtoDAsync_v2(b, a, n, s2), "cuMemcpyDtoDAsync");
  must(p_cuMemcpyDtoHAsync_v2(got.data(), b, n, s2), "cuMemcpyDtoHAsync");
  must(p_cuStreamSynchronize(s2), "cuStreamSynchronize");
  check(same(src.data(), got.data(), n), "H2D -> event -> D2D -> D2H across streams differs", n);
  must(p_cuMemFree_v2(a), "cuMemFree");
  must(p_cuMemFree_v2(b), "cuMemFree");
  must(p_cuEventDestroy_v2(ev), "cuEventDestroy");
  must(p_cuStreamDestroy_v2(s1), "cuStreamDestroy");
  must(p_cuStreamDestroy_v2(s2), "cuStreamDestroy");
}

void forged() {
  DRV(cuMemAlloc_v2);
  DRV(cuMemFree_v2);
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuMemsetD8_v2);
  DRV(cuCtxSynchronize);
  const size_t n = size_t{4} << 20;
  CUdeviceptr a = 0, b = 0;
  must(p_cuMemAlloc_v2(&a, n), "cuMemAlloc");
  must(p_cuMemAlloc_v2(&b, n), "cuMemAlloc");
  must(p_cuMemsetD8_v2(a, 0x11, n), "cuMemsetD8");
  must(p_cuMemsetD8_v2(b, 0x22, n), "cuMemsetD8");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  // Past the end of `a` by one byte (and, where b follows a, into b): must fail, write nothing.
  std::vector<unsigned char> big(n + 1, 0xEE);
  CUresult r = p_cuMemcpyHtoD_v2(a, big.data(), n + 1);
  if (r == CUDA_SUCCESS) r = p_cuCtxSynchronize();
  check(r != CUDA_SUCCESS, "an H2D past the end of its allocation succeeded", n + 1);
  // A destination that is no allocation at all.
  r = p_cuMemcpyHtoD_v2(a + (size_t{1} << 40), big.data(), 4096);
  if (r == CUDA_SUCCESS) r = p_cuCtxSynchronize();
  check(r != CUDA_SUCCESS, "an H2D to an address outside the session succeeded", 0);
  std::vector<unsigned char> got(n + 1);
  check(p_cuMemcpyDtoH_v2(got.data(), b, n + 1) != CUDA_SUCCESS, "a D2H past the end succeeded", n + 1);
  // Nothing was written, and the context still works.
  must(p_cuMemcpyDtoH_v2(got.data(), a, n), "cuMemcpyDtoH after the forged copies");
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += got[i] != 0x11;
  check(bad == 0, "bytes of the allocation changed by a rejected H2D", bad);
  must(p_cuMemcpyDtoH_v2(got.data(), b, n), "cuMemcpyDtoH after the forged copies");
  bad = 0;
  for (size_t i = 0; i < n; ++i) bad += got[i] != 0x22;
  check(bad == 0, "bytes of the next allocation changed by a rejected H2D", bad);
  must(p_cuMemFree_v2(a), "cuMemFree");
  must(p_cuMemFree_v2(b), "cuMemFree");
}

}  // namespace

int main() {
  if (!load_driver()) return 1;
  DRV(cuInit);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  must(p_cuInit(0), "cuInit");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, 0), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  sizes();
  reuse();
  order();
  forged();
  if (g_failures != 0) {
    std::printf("FAIL: %d copy checks failed\n", g_failures);
    return 1;
  }
  std::printf("PASS\n");
  return 0;
}
