// gpool-remote-graph-mem-probe: graph memory nodes against the tenant's quota, through the shim
// (run by tests/remote/graph_mem.py with the shim first on LD_LIBRARY_PATH).
//
//   graph_mem_probe Q   with a tenant quota of Q MiB:
//     - an allocation node larger than the whole quota is refused when added (OUT_OF_MEMORY);
//     - a launch makes a 3Q/4 MiB allocation: it is charged (cuMemGetInfo's free drops, a Q/2 MiB
//       cuMemAlloc is refused), readable after the launch, and returned by cuMemFreeAsync once the
//       stream is synchronised;
//     - a launch that does not fit next to a Q/2 MiB cuMemAlloc fails with OUT_OF_MEMORY (at the
//       next synchronisation: the launch is one asynchronous message) and allocates nothing;
//     - a free node in another graph returns the quota, and so does cuDeviceGraphMemTrim's
//       device's next synchronisation;
//     - it exits holding the 3Q/4 MiB of a last launch, never freed (the test then checks the
//       tenant holds nothing once the session is gone).
// Prints ok/FAIL lines and PASS; exit 0 on pass.
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include "driver_client.h"

namespace {

using namespace remote_client;

constexpr size_t kMiB = size_t{1} << 20;

void expect(CUresult r, CUresult want, const char* what) {
  if (r != want) {
    std::printf("FAIL: %s -> %s, expected %s\n", what, err_name(r), err_name(want));
    ++g_failures;
  } else {
    std::printf("ok: %s -> %s\n", what, err_name(r));
  }
}

void expect_true(bool v, const char* what) {
  std::printf("%s: %s\n", v ? "ok" : "FAIL", what);
  if (!v) ++g_failures;
}

// A graph with one allocation node of `bytes` on device 0 followed by a memset node of 0x5a5a5a5a.
CUgraph alloc_graph(size_t bytes, CUdeviceptr* p, CUresult* add_result) {
  DRV(cuGraphCreate);
  DRV(cuGraphAddMemAllocNode);
  DRV(cuGraphAddMemsetNode);
  CUgraph g = nullptr;
  must(p_cuGraphCreate(&g, 0), "cuGraphCreate");
  CUDA_MEM_ALLOC_NODE_PARAMS ap{};
  ap.poolProps.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  ap.poolProps.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  ap.poolProps.location.id = 0;
  ap.bytesize = bytes;
  CUgraphNode alloc = nullptr, fill = nullptr;
  *add_result = p_cuGraphAddMemAllocNode(&alloc, g, nullptr, 0, &ap);
  if (*add_result != CUDA_SUCCESS) return g;
  *p = ap.dptr;
  CUDA_MEMSET_NODE_PARAMS mp{};
  mp.dst = ap.dptr;
  mp.value = 0x5a5a5a5a;
  mp.elementSize = 4;
  mp.width = bytes / 4;
  mp.height = 1;
  must(p_cuGraphAddMemsetNode(&fill, g, &alloc, 1, &mp, nullptr), "cuGraphAddMemsetNode");
  return g;
}

// A launch, then the stream's synchronisation: the first error of the two.
CUresult launch_and_sync(CUgraphExec e, CUstream s) {
  DRV(cuGraphLaunch);
  DRV(cuStreamSynchronize);
  CUresult r = p_cuGraphLaunch(e, s);
  const CUresult r2 = p_cuStreamSynchronize(s);
  return r != CUDA_SUCCESS ? r : r2;
}

size_t free_bytes() {
  DRV(cuMemGetInfo_v2);
  size_t f = 0, t = 0;
  must(p_cuMemGetInfo_v2(&f, &t), "cuMemGetInfo");
  return f;
}

int run(size_t quota_mib) {
  DRV(cuInit);
  DRV(cuDeviceGet);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  DRV(cuStreamCreate);
  DRV(cuGraphInstantiateWithFlags);
  DRV(cuGraphCreate);
  DRV(cuGraphAddMemFreeNode);
  DRV(cuMemAlloc_v2);
  DRV(cuMemFree_v2);
  DRV(cuMemFreeAsync);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuCtxSynchronize);
  DRV(cuDeviceGraphMemTrim);
  DRV(cuDeviceGetGraphMemAttribute);
  must(p_cuInit(0), "cuInit");
  CUdevice dev = 0;
  must(p_cuDeviceGet(&dev, 0), "cuDeviceGet");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  const size_t quota = quota_mib * kMiB;

  CUdeviceptr huge = 0;
  CUresult add = CUDA_SUCCESS;
  alloc_graph(quota + kMiB, &huge, &add);
  expect(add, CUDA_ERROR_OUT_OF_MEMORY, "an allocation node over the whole quota");

  const size_t big = quota / 4 * 3;
  CUdeviceptr p = 0;
  CUgraph g = alloc_graph(big, &p, &add);
  must(add, "cuGraphAddMemAllocNode (3/4 of the quota)");
  const size_t before = free_bytes();
  expect_true(before >= big, "the quota has room for the graph's allocation before the launch");
  CUgraphExec e = nullptr;
  must(p_cuGraphInstantiateWithFlags(&e, g, 0), "cuGraphInstantiate");
  expect(launch_and_sync(e, s), CUDA_SUCCESS, "a launch within the quota");
  expect_true(free_bytes() + big <= before, "the launch's allocation is charged (cuMemGetInfo)");
  unsigned word = 0;
  expect(p_cuMemcpyDtoH_v2(&word, p + big - 4, 4), CUDA_SUCCESS, "a copy from the graph's allocation");
  expect_true(word == 0x5a5a5a5a, "the graph's memset reached the allocation");
  cuuint64_t used = 0;
  expect(p_cuDeviceGetGraphMemAttribute(dev, CU_GRAPH_MEM_ATTR_USED_MEM_CURRENT, &used), CUDA_SUCCESS,
         "cuDeviceGetGraphMemAttribute");
  expect_true(used >= big, "USED_MEM_CURRENT counts the live allocation");
  CUdeviceptr half = 0;
  expect(p_cuMemAlloc_v2(&half, quota / 2), CUDA_ERROR_OUT_OF_MEMORY, "cuMemAlloc of half the quota next to it");

  must(p_cuMemFreeAsync(p, s), "cuMemFreeAsync of the graph's allocation");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  expect(p_cuMemAlloc_v2(&half, quota / 2), CUDA_SUCCESS, "cuMemAlloc of half the quota after the free");
  expect(launch_and_sync(e, s), CUDA_ERROR_OUT_OF_MEMORY, "a launch that does not fit next to it");
  expect(p_cuMemcpyDtoH_v2(&word, p, 4), CUDA_ERROR_INVALID_VALUE, "a copy from the allocation the refused launch did not make");
  must(p_cuMemFree_v2(half), "cuMemFree");
  expect(launch_and_sync(e, s), CUDA_SUCCESS, "the launch once the room is back");

  // A free node in another graph frees it; the quota comes back at the next synchronisation.
  CUgraph g2 = nullptr;
  must(p_cuGraphCreate(&g2, 0), "cuGraphCreate");
  CUgraphNode fn = nullptr;
  must(p_cuGraphAddMemFreeNode(&fn, g2, nullptr, 0, p), "cuGraphAddMemFreeNode");
  CUgraphExec e2 = nullptr;
  must(p_cuGraphInstantiateWithFlags(&e2, g2, 0), "cuGraphInstantiate (free graph)");
  expect(launch_and_sync(e2, s), CUDA_SUCCESS, "the free graph's launch");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  expect(p_cuMemAlloc_v2(&half, quota / 2), CUDA_SUCCESS, "cuMemAlloc of half the quota after the free node");
  must(p_cuMemFree_v2(half), "cuMemFree");
  must(p_cuDeviceGraphMemTrim(dev), "cuDeviceGraphMemTrim");

  // Exit holding a live graph allocation: the session's end must return it.
  expect(launch_and_sync(e, s), CUDA_SUCCESS, "a last launch, never freed");
  std::printf("%s\n", g_failures == 0 ? "PASS" : "FAIL");
  std::fflush(stdout);
  return g_failures == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 || std::atoi(argv[1]) < 8) {
    std::printf("usage: %s QUOTA_MIB (at least 8)\n", argv[0]);
    return 2;
  }
  if (!load_driver()) return 1;
  return run(static_cast<size_t>(std::atoi(argv[1])));
}
