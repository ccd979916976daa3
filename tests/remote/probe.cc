// gpool-remote-probe: a small driver-API client for the remote tests that the example programs
// cannot express. It loads libcuda.so.1 with dlopen (run it with the shim first on
// LD_LIBRARY_PATH) and calls the driver directly.
//
//   probe forged     forged stream/event/module/function/array handles, texture objects over
//                    memory outside the session, and device pointers outside
//                    the session's allocations, passed to copies, memsets and frees: each must
//                    get a CUDA error (at the call, or at the next synchronize for calls that
//                    are async on the wire), and the context must still work afterwards.
//   probe hold MIB   allocates MIB MiB, prints "HOLDING" and then copies host->device and
//                    device->host over the whole allocation forever (the test SIGKILLs it
//                    mid-copy).
//   probe devices    every device the shim lists (several servers: their union): a kernel on
//                    (1 << ordinal) MiB of each, checked; prints "DEVICES n", "DEVICE i NAME ok",
//                    then "HOLDING" until stdin ends, then frees and prints PASS.
//   probe device1    (two devices) alloc, launch and copy back on device 1; a device-1 stream
//                    and module keep working while device 0 is current; device 0 on its own.
//   probe burn S I   launch + synchronize of a busy kernel (I iterations a thread) for S seconds;
//                    prints "LAUNCHES n" (the fairness benchmark's saturating tenant).
//   probe latency N  N launch + synchronize pairs of a tiny kernel; prints P50_US/P99_US/MEAN_US.
//   probe launches N N launches of a tiny kernel, then one synchronize; checks every one ran.
//   probe table      the call table's forwarded entry points (profiler, limits, occupancy).
//   probe vmm        virtual memory (cuMemCreate, cuMemMap, cuMemSetAccess, ...) through the
//                    shim: copies, memsets and a kernel across two mappings, and the refusals.
//   probe wait       allocates 64 MiB, prints "WAITING", then makes device->host copies until
//                    one fails; prints "ERROR <name>" and exits 0 on a CUDA error (the test
//                    kills the server meanwhile), 1 if a call hangs past 60 s (never expected).
//   probe pool_create  a created memory pool (cuMemPoolCreate & co.): attributes, allocation,
//                    data round trip, cuDeviceSetMemPool, access, trim, destroy; forged pool
//                    handles and unsupported properties are refused.
//   probe pool_quota Q  with a tenant quota of Q MiB: pool allocations over it get
//                    OUT_OF_MEMORY, frees make room again; exits holding Q/2 MiB in a pool.
//   probe managed_quota Q  with a tenant quota of Q MiB: managed allocations over it get
//                    OUT_OF_MEMORY; host/device coherence of one; holds Q/2 MiB until stdin closes.
//   probe managed_sync MIB N  microseconds per sync without device work, after a memset (pull
//                    of MIB MiB) and after a one-page host write (push).
//   probe managed_servers  managed memory on each of two servers' devices; holds until stdin closes.
//   probe global_quota Q  with a tenant quota of Q MiB: a module with 8*Q MiB of __device__ globals
//                    is refused (OUT_OF_MEMORY); Q/2 MiB of globals count in cuMemGetInfo and
//                    against allocations until unloaded; holds Q/4 MiB of globals until stdin ends.
//   probe images N KIB SEED  loads N distinct valid PTX modules of about KIB KiB (same bytes for the
//                    same arguments), each checked and unloaded.
//   probe upload MIB  uploads MIB MiB of invalid image; prints "RESULT <error>", holds until stdin ends.
//   probe managed_segv     a non-managed write fault after a managed allocation still kills the process.
//   probe managed_locked   managed memory is readable after a synchronisation, and a host read
//                          between a launch and the next synchronisation kills the process.
//   probe managed_graph_locked  the same for cuGraphLaunch: a synchronising program sees the
//                          graph's writes; a host read while the graph may run kills the process.
// Prints PASS / FAIL lines like the examples. Exit 0 on pass.
#include <cuda.h>
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include <cudaProfiler.h>

#include "driver_client.h"

namespace {

using namespace remote_client;

// An operation that must fail: either at the call, or (async on the wire) at the next synchronize.
void must_fail(CUresult at_call, const char* what) {
  DRV(cuCtxSynchronize);
  CUresult r = at_call;
  if (r == CUDA_SUCCESS) r = p_cuCtxSynchronize();
  if (r == CUDA_SUCCESS) {
    std::printf("FAIL: %s succeeded\n", what);
    ++g_failures;
  } else {
    std::printf("ok: %s -> %s\n", what, err_name(r));
  }
}

void attach() {
  DRV(cuInit);
  DRV(cuDeviceGet);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  must(p_cuInit(0), "cuInit");
  CUdevice dev = 0;
  must(p_cuDeviceGet(&dev, 0), "cuDeviceGet");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
}

int forged() {
  attach();
  DRV(cuMemAlloc_v2);
  DRV(cuMemFree_v2);
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuMemcpyDtoD_v2);
  DRV(cuMemsetD8_v2);
  DRV(cuStreamSynchronize);
  DRV(cuStreamQuery);
  DRV(cuEventSynchronize);
  DRV(cuEventRecord);
  DRV(cuModuleGetFunction);
  DRV(cuModuleUnload);
  DRV(cuLaunchKernel);
  DRV(cuMemcpyHtoDAsync_v2);
  DRV(cuArray3DCreate_v2);
  DRV(cuArrayDestroy);
  DRV(cuTexObjectCreate);
  DRV(cuTexObjectDestroy);
  DRV(cuSurfObjectCreate);
  DRV(cuMemcpy3D_v2);
  DRV(cuGraphGetNodes);
  DRV(cuGraphInstantiateWithFlags);
  DRV(cuGraphNodeGetType);
  DRV(cuGraphCreate);
  DRV(cuGraphDestroy);
  DRV(cuGraphAddMemsetNode);
  DRV(cuGraphNodeGetDependencies_v2);
  DRV(cuGraphDestroyNode);
  DRV(cuGraphClone);
  DRV(cuGraphNodeFindInClone);
  DRV(cuGraphExecGetFlags);
  DRV(cuGraphExecDestroy);
  DRV(cuGraphNodeGetEnabled);
  DRV(cuGraphMemsetNodeGetParams);
  DRV(cuGraphMemsetNodeSetParams);
  DRV(cuGraphExecMemsetNodeSetParams);
  DRV(cuGraphDebugDotPrint);
  DRV(cuGraphAddMemcpyNode);
  DRV(cuGraphMemcpyNodeSetParams);
  DRV(cuGraphExecChildGraphNodeSetParams);
  DRV(cuGraphKernelNodeGetParams_v2);

  const size_t n = 4096;
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, n), "cuMemAlloc");
  std::vector<unsigned char> host(n, 0x5a), back(n, 0);
  must(p_cuMemcpyHtoD_v2(d, host.data(), n), "a valid cuMemcpyHtoD");

  // Forged handles: values no create call returned.
  const auto fake_stream = reinterpret_cast<CUstream>(uintptr_t{0x5354000000001234});
  const auto fake_stream2 = reinterpret_cast<CUstream>(uintptr_t{0xdeadbeef});
  const auto fake_event = reinterpret_cast<CUevent>(uintptr_t{0x4556000000004321});
  const auto fake_module = reinterpret_cast<CUmodule>(uintptr_t{0x4d4f000000000077});
  const auto fake_function = reinterpret_cast<CUfunction>(uintptr_t{0x4655000000000099});
  must_fail(p_cuStreamSynchronize(fake_stream), "cuStreamSynchronize on a forged stream");
  must_fail(p_cuStreamQuery(fake_stream2), "cuStreamQuery on a forged stream");
  must_fail(p_cuMemcpyHtoDAsync_v2(d, host.data(), 16, fake_stream), "cuMemcpyHtoDAsync on a forged stream");
  must_fail(p_cuEventSynchronize(fake_event), "cuEventSynchronize on a forged event");
  must_fail(p_cuEventRecord(fake_event, nullptr), "cuEventRecord of a forged event");
  CUfunction f = nullptr;
  must_fail(p_cuModuleGetFunction(&f, fake_module, "kernel"), "cuModuleGetFunction on a forged module");
  must_fail(p_cuModuleUnload(fake_module), "cuModuleUnload of a forged module");
  must_fail(p_cuLaunchKernel(fake_function, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr),
            "cuLaunchKernel of a forged function");
  // Graph ids are chosen by the server (worker_graph.cc); these have the right kind tags and
  // small counters, but this session made no graph.
  const auto fake_graph = reinterpret_cast<CUgraph>(uintptr_t{0x4752000000000001});
  const auto fake_node = reinterpret_cast<CUgraphNode>(uintptr_t{0x474e000000000002});
  size_t nodes = 0;
  CUgraphExec exec = nullptr;
  CUgraphNodeType type;
  must_fail(p_cuGraphGetNodes(fake_graph, nullptr, &nodes), "cuGraphGetNodes of a forged graph");
  must_fail(p_cuGraphInstantiateWithFlags(&exec, fake_graph, 0), "cuGraphInstantiate of a forged graph");
  must_fail(p_cuGraphNodeGetType(fake_node, &type), "cuGraphNodeGetType of a forged node");
  const auto fake_exec = reinterpret_cast<CUgraphExec>(uintptr_t{0x4758000000000003});
  CUgraphNode other = nullptr;
  CUgraph clone = nullptr;
  cuuint64_t flags = 0;
  unsigned enabled = 0;
  CUDA_MEMSET_NODE_PARAMS mp{};
  must_fail(p_cuGraphNodeGetDependencies_v2(fake_node, nullptr, nullptr, &nodes),
            "cuGraphNodeGetDependencies of a forged node");
  must_fail(p_cuGraphDestroyNode(fake_node), "cuGraphDestroyNode of a forged node");
  must_fail(p_cuGraphClone(&clone, fake_graph), "cuGraphClone of a forged graph");
  must_fail(p_cuGraphNodeFindInClone(&other, fake_node, fake_graph), "cuGraphNodeFindInClone of forged ids");
  must_fail(p_cuGraphExecGetFlags(fake_exec, &flags), "cuGraphExecGetFlags of a forged exec");
  must_fail(p_cuGraphNodeGetEnabled(fake_exec, fake_node, &enabled), "cuGraphNodeGetEnabled of forged ids");
  must_fail(p_cuGraphMemsetNodeGetParams(fake_node, &mp), "cuGraphMemsetNodeGetParams of a forged node");
  must_fail(p_cuGraphDebugDotPrint(fake_graph, "/dev/null", 0), "cuGraphDebugDotPrint of a forged graph");
  CUDA_KERNEL_NODE_PARAMS kp{};
  must_fail(p_cuGraphKernelNodeGetParams_v2(fake_node, &kp), "cuGraphKernelNodeGetParams of a forged node");
  {
    // A memset node's new range is checked like the node's first one.
    CUgraph g = nullptr;
    must(p_cuGraphCreate(&g, 0), "cuGraphCreate");
    mp.dst = d;
    mp.value = 1;
    mp.elementSize = 4;
    mp.width = 16;
    mp.height = 1;
    CUgraphNode m = nullptr;
    must(p_cuGraphAddMemsetNode(&m, g, nullptr, 0, &mp, nullptr), "a valid cuGraphAddMemsetNode");
    must(p_cuGraphInstantiateWithFlags(&exec, g, 0), "cuGraphInstantiate");
    CUDA_MEMSET_NODE_PARAMS bad = mp;
    bad.dst = d + (CUdeviceptr{1} << 36);
    must_fail(p_cuGraphMemsetNodeSetParams(m, &bad), "cuGraphMemsetNodeSetParams outside the session");
    must_fail(p_cuGraphExecMemsetNodeSetParams(exec, m, &bad, nullptr),
              "cuGraphExecMemsetNodeSetParams outside the session");
    bad.dst = d;
    bad.width = n;  // 4 x the allocation
    must_fail(p_cuGraphExecMemsetNodeSetParams(exec, m, &bad, nullptr),
              "cuGraphExecMemsetNodeSetParams running past the allocation");
    must(p_cuGraphExecMemsetNodeSetParams(exec, m, &mp, nullptr), "a valid cuGraphExecMemsetNodeSetParams");
    must_fail(p_cuGraphExecChildGraphNodeSetParams(exec, m, fake_graph),
              "cuGraphExecChildGraphNodeSetParams with a forged graph");
    CUDA_MEMCPY3D cp{};
    cp.srcMemoryType = cp.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    cp.srcDevice = d;
    cp.dstDevice = d + n / 2;
    cp.WidthInBytes = 256;
    cp.Height = cp.Depth = 1;
    CUgraphNode copy_node = nullptr;
    must(p_cuGraphAddMemcpyNode(&copy_node, g, nullptr, 0, &cp, nullptr), "a valid cuGraphAddMemcpyNode");
    cp.srcDevice = d + (CUdeviceptr{1} << 36);
    must_fail(p_cuGraphMemcpyNodeSetParams(copy_node, &cp), "cuGraphMemcpyNodeSetParams from outside the session");
    cp.srcDevice = d;
    cp.WidthInBytes = n;  // the destination half runs past the allocation
    must_fail(p_cuGraphMemcpyNodeSetParams(copy_node, &cp), "cuGraphMemcpyNodeSetParams running past the allocation");
    must(p_cuGraphExecDestroy(exec), "cuGraphExecDestroy");
    must(p_cuGraphDestroy(g), "cuGraphDestroy");
  }

  // Arrays and texture/surface objects: a forged array handle, and texture memory outside the
  // session's allocations, are refused by the server before its driver sees them.
  const CUdeviceptr outside = d + (CUdeviceptr{1} << 36);
  {
    const auto fake_array = reinterpret_cast<CUarray>(uintptr_t{0x4152000000000055});
    must_fail(p_cuArrayDestroy(fake_array), "cuArrayDestroy of a forged array");
    CUDA_RESOURCE_DESC rd{};
    rd.resType = CU_RESOURCE_TYPE_ARRAY;
    rd.res.array.hArray = fake_array;
    CUDA_TEXTURE_DESC td{};
    td.addressMode[0] = td.addressMode[1] = td.addressMode[2] = CU_TR_ADDRESS_MODE_CLAMP;
    CUtexObject t = 0;
    CUsurfObject sf = 0;
    must_fail(p_cuTexObjectCreate(&t, &rd, &td, nullptr), "cuTexObjectCreate over a forged array");
    must_fail(p_cuSurfObjectCreate(&sf, &rd), "cuSurfObjectCreate over a forged array");
    rd = CUDA_RESOURCE_DESC{};
    rd.resType = CU_RESOURCE_TYPE_LINEAR;
    rd.res.linear.devPtr = outside;
    rd.res.linear.format = CU_AD_FORMAT_FLOAT;
    rd.res.linear.numChannels = 1;
    rd.res.linear.sizeInBytes = 256;
    must_fail(p_cuTexObjectCreate(&t, &rd, &td, nullptr), "cuTexObjectCreate over memory outside the session");
    rd.res.linear.devPtr = d;
    rd.res.linear.sizeInBytes = 2 * n;
    must_fail(p_cuTexObjectCreate(&t, &rd, &td, nullptr), "cuTexObjectCreate running past the allocation");
    rd = CUDA_RESOURCE_DESC{};
    rd.resType = CU_RESOURCE_TYPE_PITCH2D;
    rd.res.pitch2D.devPtr = d;
    rd.res.pitch2D.format = CU_AD_FORMAT_FLOAT;
    rd.res.pitch2D.numChannels = 1;
    rd.res.pitch2D.width = 64;
    rd.res.pitch2D.height = 64;  // 64 rows of 256 bytes: four times the allocation
    rd.res.pitch2D.pitchInBytes = 256;
    must_fail(p_cuTexObjectCreate(&t, &rd, &td, nullptr), "cuTexObjectCreate of a pitch-2D texture past the allocation");
    rd.res.pitch2D.height = 16;  // exactly the allocation: accepted
    must(p_cuTexObjectCreate(&t, &rd, &td, nullptr), "a valid cuTexObjectCreate over the session's memory");
    must(p_cuTexObjectDestroy(t), "cuTexObjectDestroy");
    must_fail(p_cuTexObjectDestroy(t), "a second cuTexObjectDestroy of the same object");
    CUDA_ARRAY3D_DESCRIPTOR ad{};
    ad.Width = 16;
    ad.Height = 16;
    ad.Format = CU_AD_FORMAT_FLOAT;
    ad.NumChannels = 4;
    CUarray a = nullptr;
    must(p_cuArray3DCreate_v2(&a, &ad), "a valid cuArray3DCreate");
    // Array copies: a device side outside the session, a huge pitch that would wrap the
    // extent, and a forged array are refused; a copy inside both is accepted.
    CUDA_MEMCPY3D c{};
    c.srcMemoryType = CU_MEMORYTYPE_ARRAY;
    c.srcArray = a;
    c.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    c.dstDevice = outside;
    c.dstPitch = 256;
    c.WidthInBytes = 256;
    c.Height = 4;
    c.Depth = 1;
    must_fail(p_cuMemcpy3D_v2(&c), "cuMemcpy3D from an array to memory outside the session");
    CUdeviceptr d2 = 0;
    must(p_cuMemAlloc_v2(&d2, 1024), "cuMemAlloc of a copy target");
    c.dstDevice = d2;
    c.dstPitch = 0x5555555555555556ull;  // 3 x pitch = 2^64 + 2: wraps to 2 in 64 bits
    must_fail(p_cuMemcpy3D_v2(&c), "cuMemcpy3D with a pitch that wraps the extent");
    c.dstPitch = 256;
    must(p_cuMemcpy3D_v2(&c), "a valid cuMemcpy3D from an array into the session's memory");
    c.srcArray = fake_array;
    must_fail(p_cuMemcpy3D_v2(&c), "cuMemcpy3D from a forged array");
    must(p_cuMemFree_v2(d2), "cuMemFree of the copy target");
    must(p_cuArrayDestroy(a), "cuArrayDestroy");
    must_fail(p_cuArrayDestroy(a), "a second cuArrayDestroy of the same array");
  }

  // Device ranges outside the session's allocations.
  must_fail(p_cuMemcpyDtoH_v2(back.data(), d + n - 8, 16), "cuMemcpyDtoH running past the allocation");
  must_fail(p_cuMemcpyDtoH_v2(back.data(), outside, 16), "cuMemcpyDtoH from outside the session");
  must_fail(p_cuMemcpyHtoD_v2(outside, host.data(), 16), "cuMemcpyHtoD to outside the session");
  must_fail(p_cuMemcpyDtoD_v2(outside, d, 16), "cuMemcpyDtoD to outside the session");
  must_fail(p_cuMemcpyDtoD_v2(d, outside, 16), "cuMemcpyDtoD from outside the session");
  must_fail(p_cuMemsetD8_v2(outside, 0, 16), "cuMemsetD8 outside the session");
  must_fail(p_cuMemFree_v2(outside), "cuMemFree of an address outside the session");
  must_fail(p_cuMemFree_v2(d + 16), "cuMemFree of an address inside an allocation");

  // None of that harmed the session: the allocation still holds what was written.
  must(p_cuMemcpyDtoH_v2(back.data(), d, n), "a valid cuMemcpyDtoH after the forged calls");
  if (back != host) {
    std::printf("FAIL: the allocation's contents changed\n");
    ++g_failures;
  }
  must(p_cuMemFree_v2(d), "cuMemFree of the allocation");
  must_fail(p_cuMemFree_v2(d), "a second cuMemFree of the same allocation");
  if (g_failures != 0) return 1;
  std::printf("PASS\n");
  return 0;
}

int hold(size_t mib) {
  attach();
  DRV(cuMemAlloc_v2);
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  const size_t bytes = mib << 20;
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, bytes), "cuMemAlloc");
  std::vector<unsigned char> host(bytes, 1);
  std::printf("HOLDING %zu\n", bytes);
  std::fflush(stdout);
  for (;;) {
    must(p_cuMemcpyHtoD_v2(d, host.data(), bytes), "cuMemcpyHtoD");
    must(p_cuMemcpyDtoH_v2(host.data(), d, bytes), "cuMemcpyDtoH");
  }
}

int wait_for_error() {
  attach();
  DRV(cuMemAlloc_v2);
  DRV(cuMemcpyDtoH_v2);
  const size_t bytes = size_t{64} << 20;
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, bytes), "cuMemAlloc");
  std::vector<unsigned char> host(bytes);
  std::printf("WAITING\n");
  std::fflush(stdout);
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const CUresult r = p_cuMemcpyDtoH_v2(host.data(), d, bytes);
    if (r != CUDA_SUCCESS) {
      std::printf("ERROR %s\n", err_name(r));
      return 0;
    }
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(60)) {
      std::printf("FAIL: no error within 60 s\n");
      return 1;
    }
  }
}

// probe global_quota Q: with a tenant quota of Q MiB, a module whose __device__ array is 8 * Q MiB
// must be refused with CUDA_ERROR_OUT_OF_MEMORY before the driver loads it; one of Q/2 MiB loads,
// cuMemGetInfo's free memory drops by its size, an allocation of the rest of the quota is refused,
// and unloading it gives the memory back. Prints "HOLDING" holding a Q/4 MiB module until stdin ends.
std::string global_ptx(uint64_t bytes, const char* name) {
  return ".version 7.0\n.target sm_70\n.address_size 64\n.visible .global .align 8 .b8 " + std::string(name) +
         "[" + std::to_string(bytes) + "];\n.visible .entry touch(.param .u64 p)\n{\n ret;\n}\n";
}

int global_quota(uint64_t quota_mib) {
  attach();
  DRV(cuModuleLoadData);
  DRV(cuModuleUnload);
  DRV(cuMemGetInfo_v2);
  DRV(cuMemAlloc_v2);
  DRV(cuMemFree_v2);
  DRV(cuModuleGetGlobal_v2);
  const uint64_t mib = 1 << 20;
  CUmodule big = nullptr;
  const std::string huge = global_ptx(8 * quota_mib * mib, "huge");
  const CUresult r = p_cuModuleLoadData(&big, huge.c_str());
  if (r != CUDA_ERROR_OUT_OF_MEMORY) {
    std::printf("FAIL: a module with a %llu MiB __device__ array under a %llu MiB quota gave %s\n",
                static_cast<unsigned long long>(8 * quota_mib), static_cast<unsigned long long>(quota_mib), err_name(r));
    ++g_failures;
  } else {
    std::printf("ok: %llu MiB of module globals over a %llu MiB quota -> CUDA_ERROR_OUT_OF_MEMORY\n",
                static_cast<unsigned long long>(8 * quota_mib), static_cast<unsigned long long>(quota_mib));
  }
  size_t free0 = 0, total = 0;
  must(p_cuMemGetInfo_v2(&free0, &total), "cuMemGetInfo");
  CUmodule half = nullptr;
  const std::string half_ptx = global_ptx(quota_mib / 2 * mib, "half");
  must(p_cuModuleLoadData(&half, half_ptx.c_str()), "cuModuleLoadData of a module with Q/2 MiB of globals");
  CUdeviceptr g = 0;
  size_t gsize = 0;
  must(p_cuModuleGetGlobal_v2(&g, &gsize, half, "half"), "cuModuleGetGlobal");
  size_t free1 = 0;
  must(p_cuMemGetInfo_v2(&free1, &total), "cuMemGetInfo after the load");
  if (free0 - free1 < quota_mib / 2 * mib) {
    std::printf("FAIL: cuMemGetInfo's free memory dropped by %zu bytes after loading %llu MiB of globals\n",
                free0 - free1, static_cast<unsigned long long>(quota_mib / 2));
    ++g_failures;
  } else {
    std::printf("ok: cuMemGetInfo free %zu -> %zu after loading Q/2 MiB of globals\n", free0, free1);
  }
  CUdeviceptr d = 0;
  const CUresult ra = p_cuMemAlloc_v2(&d, (quota_mib / 2 + 1) * mib);
  if (ra != CUDA_ERROR_OUT_OF_MEMORY) {
    std::printf("FAIL: an allocation past what the module's globals left of the quota gave %s\n", err_name(ra));
    ++g_failures;
    if (ra == CUDA_SUCCESS) p_cuMemFree_v2(d);
  }
  must(p_cuModuleUnload(half), "cuModuleUnload");
  size_t free2 = 0;
  must(p_cuMemGetInfo_v2(&free2, &total), "cuMemGetInfo after the unload");
  if (free2 != free0) {
    std::printf("FAIL: after the unload cuMemGetInfo's free memory is %zu, not %zu\n", free2, free0);
    ++g_failures;
  }
  CUmodule quarter = nullptr;
  const std::string quarter_ptx = global_ptx(quota_mib / 4 * mib, "quarter");
  must(p_cuModuleLoadData(&quarter, quarter_ptx.c_str()), "cuModuleLoadData of Q/4 MiB of globals");
  std::printf("HOLDING\n");
  std::fflush(stdout);
  int ch;
  while ((ch = std::getchar()) != EOF) {
  }
  if (g_failures == 0) std::printf("PASS\n");
  return g_failures == 0 ? 0 : 1;
}

// probe upload MIB: cuModuleLoadData of MIB MiB of text that is not PTX (an invalid image the
// server must receive whole before it can tell); prints "RESULT <error name>", then "HOLDING"
// until stdin ends (the test reads the worker's memory meanwhile).
int upload(uint64_t mib) {
  attach();
  DRV(cuModuleLoadData);
  std::vector<char> junk(mib << 20, 'x');
  junk.back() = '\0';
  for (size_t i = 0; i + 1 < junk.size(); i += 4096) junk[i] = static_cast<char>('a' + (i / 4096) % 26);
  std::memcpy(junk.data(), "// not PTX\n", 11);  // passes the shim's own check (a comment first)
  CUmodule m = nullptr;
  const CUresult r = p_cuModuleLoadData(&m, junk.data());
  std::printf("RESULT %s\nHOLDING\n", err_name(r));
  std::fflush(stdout);
  int ch;
  while ((ch = std::getchar()) != EOF) {
  }
  std::printf("PASS\n");
  return 0;
}

// probe images N KIB SEED: loads N valid PTX modules of about KIB KiB each (a kernel, padded with
// a comment), distinct per (SEED, index) and the same for the same arguments; checks each loads
// and gives its kernel, then unloads them. (The image cache tests count what crossed the wire.)
int images(unsigned n, unsigned kib, unsigned seed) {
  attach();
  DRV(cuModuleLoadData);
  DRV(cuModuleGetFunction);
  DRV(cuModuleUnload);
  for (unsigned i = 0; i < n; ++i) {
    std::string ptx = ".version 7.0\n.target sm_70\n.address_size 64\n// image " + std::to_string(seed) + "." +
                      std::to_string(i) + "\n";
    while (ptx.size() < size_t{kib} * 1024) ptx += "// padding padding padding padding padding padding padding\n";
    ptx += ".visible .entry k(.param .u64 p)\n{\n ret;\n}\n";
    CUmodule m = nullptr;
    must(p_cuModuleLoadData(&m, ptx.c_str()), "cuModuleLoadData");
    CUfunction f = nullptr;
    must(p_cuModuleGetFunction(&f, m, "k"), "cuModuleGetFunction");
    must(p_cuModuleUnload(m), "cuModuleUnload");
  }
  std::printf("LOADED %u\nPASS\n", n);
  return 0;
}

}  // namespace

// Virtual memory (cuMemCreate & co.) on device 0: `bytes` (a multiple of the granularity)
// reserved, backed by one physical allocation, mapped and made READWRITE. vmm_free undoes it.
struct VmmBlock {
  CUdeviceptr base = 0;
  size_t bytes = 0;
  CUmemGenericAllocationHandle handle = 0;
};

CUmemAllocationProp device0_prop() {
  CUmemAllocationProp prop{};
  prop.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  prop.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  prop.location.id = 0;
  return prop;
}

CUresult vmm_alloc(size_t bytes, VmmBlock& out) {
  DRV(cuMemAddressReserve);
  DRV(cuMemAddressFree);
  DRV(cuMemCreate);
  DRV(cuMemRelease);
  DRV(cuMemMap);
  DRV(cuMemSetAccess);
  const CUmemAllocationProp prop = device0_prop();
  out.bytes = bytes;
  if (CUresult r = p_cuMemAddressReserve(&out.base, bytes, 0, 0, 0); r != CUDA_SUCCESS) return r;
  CUresult r = p_cuMemCreate(&out.handle, bytes, &prop, 0);
  if (r == CUDA_SUCCESS) r = p_cuMemMap(out.base, bytes, 0, out.handle, 0);
  if (r == CUDA_SUCCESS) {
    CUmemAccessDesc d{};
    d.location = prop.location;
    d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
    r = p_cuMemSetAccess(out.base, bytes, &d, 1);
  }
  if (r != CUDA_SUCCESS) {
    if (out.handle != 0) (void)p_cuMemRelease(out.handle);
    (void)p_cuMemAddressFree(out.base, bytes);
  }
  return r;
}

CUresult vmm_free(const VmmBlock& b) {
  DRV(cuMemUnmap);
  DRV(cuMemRelease);
  DRV(cuMemAddressFree);
  CUresult r = p_cuMemUnmap(b.base, b.bytes);
  if (r == CUDA_SUCCESS) r = p_cuMemRelease(b.handle);
  if (r == CUDA_SUCCESS) r = p_cuMemAddressFree(b.base, b.bytes);
  return r;
}

// probe tenant: a line-driven client for the tenant tests (tests/remote/tenants.py). Attaches,
// prints "READY", then answers one line per command read from stdin until it ends:
//   alloc N | alloc_async N | alloc_pitch W H   -> "ALLOC ok 0xPTR" or "ALLOC <error name>"
//   alloc_vmm N (N a multiple of 2 MiB)         -> the same through cuMemCreate + cuMemMap
//   free PTR | free_async PTR | free_vmm PTR    -> "FREE ok" / "FREE <error>"
//   info                                        -> "MEMINFO <free> <total>" (cuMemGetInfo)
//   total                                       -> "TOTAL <bytes>" (cuDeviceTotalMem)
//   fill PTR N BYTE                             -> "FILL ok" (memset + synchronize)
//   check PTR N BYTE                            -> "CHECK ok" when all N bytes equal BYTE
//   use PTR                                     -> "USE ok" or "USE <error>": memset of 4 bytes at
//                                                  PTR, then a device->host read, synchronized
//   writeval PTR V | waitval PTR V              -> "WRITEVAL ok" / "WAITVAL ok" or the error:
//                                                  cuStreamWriteValue32 / cuStreamWaitValue32 (GEQ)
//                                                  at PTR on the NULL stream, then synchronized
namespace {

int tenant_client() {
  attach();
  DRV(cuMemAlloc_v2);
  DRV(cuMemAllocAsync);
  DRV(cuMemAllocPitch_v2);
  DRV(cuMemFree_v2);
  DRV(cuMemFreeAsync);
  DRV(cuMemGetInfo_v2);
  DRV(cuDeviceTotalMem_v2);
  DRV(cuMemsetD8_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuCtxSynchronize);
  DRV(cuStreamWriteValue32_v2);
  DRV(cuStreamWaitValue32_v2);
  auto say = [](const char* what, CUresult r, const std::string& ok_text = "ok") {
    std::printf("%s %s\n", what, r == CUDA_SUCCESS ? ok_text.c_str() : err_name(r));
    std::fflush(stdout);
  };
  std::map<CUdeviceptr, VmmBlock> vmm_blocks;
  std::printf("READY\n");
  std::fflush(stdout);
  char line[256];
  while (std::fgets(line, sizeof line, stdin) != nullptr) {
    char cmd[32] = {};
    unsigned long long a = 0, b = 0, c = 0;
    const int n = std::sscanf(line, "%31s %lli %lli %lli", cmd, &a, &b, &c);
    const std::string op = n >= 1 ? cmd : "";
    CUdeviceptr p = 0;
    char hex[32];
    if (op == "alloc" || op == "alloc_async" || op == "alloc_pitch") {
      size_t pitch = 0;
      CUresult r = op == "alloc"       ? p_cuMemAlloc_v2(&p, a)
                   : op == "alloc_async" ? p_cuMemAllocAsync(&p, a, nullptr)
                                         : p_cuMemAllocPitch_v2(&p, &pitch, a, b, 4);
      if (r == CUDA_SUCCESS && op == "alloc_async") r = p_cuCtxSynchronize();
      std::snprintf(hex, sizeof hex, "ok 0x%llx", static_cast<unsigned long long>(p));
      say("ALLOC", r, hex);
    } else if (op == "alloc_vmm") {
      VmmBlock blk;
      const CUresult r = vmm_alloc(a, blk);
      if (r == CUDA_SUCCESS) vmm_blocks[blk.base] = blk;
      std::snprintf(hex, sizeof hex, "ok 0x%llx", static_cast<unsigned long long>(blk.base));
      say("ALLOC", r, hex);
    } else if (op == "free_vmm") {
      auto it = vmm_blocks.find(a);
      CUresult r = it == vmm_blocks.end() ? CUDA_ERROR_INVALID_VALUE : vmm_free(it->second);
      if (r == CUDA_SUCCESS) vmm_blocks.erase(it);
      say("FREE", r);
    } else if (op == "free" || op == "free_async") {
      CUresult r = op == "free" ? p_cuMemFree_v2(a) : p_cuMemFreeAsync(a, nullptr);
      if (r == CUDA_SUCCESS) r = p_cuCtxSynchronize();
      say("FREE", r);
    } else if (op == "info") {
      size_t f = 0, t = 0;
      const CUresult r = p_cuMemGetInfo_v2(&f, &t);
      say("MEMINFO", r, std::to_string(f) + " " + std::to_string(t));
    } else if (op == "total") {
      size_t t = 0;
      const CUresult r = p_cuDeviceTotalMem_v2(&t, 0);
      say("TOTAL", r, std::to_string(t));
    } else if (op == "fill") {
      CUresult r = p_cuMemsetD8_v2(a, static_cast<unsigned char>(c), b);
      if (r == CUDA_SUCCESS) r = p_cuCtxSynchronize();
      say("FILL", r);
    } else if (op == "check") {
      std::vector<unsigned char> host(b, 0);
      const CUresult r = p_cuMemcpyDtoH_v2(host.data(), a, b);
      const bool same = std::all_of(host.begin(), host.end(),
                                    [&](unsigned char v) { return v == static_cast<unsigned char>(c); });
      say("CHECK", r, same ? "ok" : "differs");
    } else if (op == "use") {
      CUresult r = p_cuMemsetD8_v2(a, 0x11, 4);
      if (r == CUDA_SUCCESS) r = p_cuCtxSynchronize();
      unsigned char back[4];
      if (r == CUDA_SUCCESS) r = p_cuMemcpyDtoH_v2(back, a, 4);
      say("USE", r);
    } else if (op == "writeval" || op == "waitval") {
      CUresult r = op == "writeval" ? p_cuStreamWriteValue32_v2(nullptr, a, static_cast<cuuint32_t>(b), 0)
                                    : p_cuStreamWaitValue32_v2(nullptr, a, static_cast<cuuint32_t>(b), 0);
      if (r == CUDA_SUCCESS) r = p_cuCtxSynchronize();
      say(op == "writeval" ? "WRITEVAL" : "WAITVAL", r);
    } else {
      std::printf("UNKNOWN %s", line);
      std::fflush(stdout);
    }
  }
  return 0;
}

// --- several devices and servers (client shim): devices ------------------------------------

// scale_add(p, n, a, b): p[i] = p[i] * a + b.
const char kDevicesPtx[] = R"(
.version 7.0
.target sm_50
.address_size 64
.visible .entry scale_add(.param .u64 p, .param .u32 n, .param .u32 a, .param .u32 b)
{
  .reg .pred %pr;
  .reg .b32 %r<9>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [p];
  ld.param.u32 %r1, [n];
  ld.param.u32 %r2, [a];
  ld.param.u32 %r7, [b];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r3, %r3, %r4, %r5;
  setp.ge.u32 %pr, %r3, %r1;
  @%pr bra DONE;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r3, 4;
  add.s64 %rd2, %rd2, %rd3;
  ld.global.u32 %r6, [%rd2];
  mad.lo.s32 %r6, %r6, %r2, %r7;
  st.global.u32 [%rd2], %r6;
DONE:
  ret;
}
)";

// One device's work: a module, (1 << dev) MiB filled with dev + 1, p = p * 3 + dev on a stream
// of that device, checked on the host. Returns the allocation (kept until the end).
CUdeviceptr devices_work(int dev, CUcontext ctx) {
  DRV(cuCtxSetCurrent);
  DRV(cuModuleLoadData);
  DRV(cuModuleGetFunction);
  DRV(cuMemAlloc_v2);
  DRV(cuMemsetD32_v2);
  DRV(cuStreamCreate);
  DRV(cuStreamSynchronize);
  DRV(cuStreamDestroy_v2);
  DRV(cuLaunchKernel);
  DRV(cuMemcpyDtoH_v2);
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  CUmodule mod = nullptr;
  must(p_cuModuleLoadData(&mod, kDevicesPtx), "cuModuleLoadData");
  CUfunction f = nullptr;
  must(p_cuModuleGetFunction(&f, mod, "scale_add"), "cuModuleGetFunction");
  const size_t bytes = size_t{1} << (20 + dev);
  unsigned n = static_cast<unsigned>(bytes / 4);
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, bytes), "cuMemAlloc");
  must(p_cuMemsetD32_v2(d, static_cast<unsigned>(dev + 1), n), "cuMemsetD32");
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, 0), "cuStreamCreate");
  unsigned a = 3, b = static_cast<unsigned>(dev);
  void* args[] = {&d, &n, &a, &b};
  must(p_cuLaunchKernel(f, (n + 255) / 256, 1, 1, 256, 1, 1, 0, s, args, nullptr), "cuLaunchKernel");
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  must(p_cuStreamDestroy_v2(s), "cuStreamDestroy");
  std::vector<int> back(n, -1);
  must(p_cuMemcpyDtoH_v2(back.data(), d, bytes), "cuMemcpyDtoH");
  const int want = (dev + 1) * 3 + dev;
  for (unsigned i = 0; i < n; ++i) {
    if (back[i] != want) {
      std::printf("FAIL: device %d: element %u is %d, expected %d\n", dev, i, back[i], want);
      std::exit(1);
    }
  }
  return d;
}

// Every device the shim offers: its name, then devices_work() through its primary context, and
// once more through a created context of the last device. Prints "DEVICES n", one
// "DEVICE i <name> ok" line each, then "HOLDING" while every allocation is kept; reads stdin to
// its end (the test checks the servers' status meanwhile), frees everything and prints PASS.
int devices() {
  DRV(cuInit);
  DRV(cuDeviceGetCount);
  DRV(cuDeviceGetName);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxCreate_v4);
  DRV(cuCtxDestroy_v2);
  DRV(cuCtxGetDevice);
  DRV(cuCtxSetCurrent);
  DRV(cuMemFree_v2);
  must(p_cuInit(0), "cuInit");
  int count = 0;
  must(p_cuDeviceGetCount(&count), "cuDeviceGetCount");
  std::printf("DEVICES %d\n", count);
  std::vector<CUcontext> ctxs(static_cast<size_t>(count));
  std::vector<CUdeviceptr> held(static_cast<size_t>(count));
  for (int dev = 0; dev < count; ++dev) {
    char name[128] = {};
    must(p_cuDeviceGetName(name, sizeof name, dev), "cuDeviceGetName");
    must(p_cuDevicePrimaryCtxRetain(&ctxs[static_cast<size_t>(dev)], dev), "cuDevicePrimaryCtxRetain");
    held[static_cast<size_t>(dev)] = devices_work(dev, ctxs[static_cast<size_t>(dev)]);
    CUdevice cur = -1;
    must(p_cuCtxGetDevice(&cur), "cuCtxGetDevice");
    if (cur != dev) {
      std::printf("FAIL: device %d current, cuCtxGetDevice says %d\n", dev, cur);
      return 1;
    }
    std::printf("DEVICE %d %s ok\n", dev, name);
  }
  // A created context of the last device reaches the same device (and frees what it made).
  CUcontext mine = nullptr;
  must(p_cuCtxCreate_v4(&mine, nullptr, 0, count - 1), "cuCtxCreate");
  const CUdeviceptr extra = devices_work(count - 1, mine);
  must(p_cuMemFree_v2(extra), "cuMemFree in a created context");
  must(p_cuCtxDestroy_v2(mine), "cuCtxDestroy");
  std::printf("HOLDING\n");
  std::fflush(stdout);
  char buf[64];
  while (std::fread(buf, 1, sizeof buf, stdin) > 0) {
  }
  for (int dev = 0; dev < count; ++dev) {
    must(p_cuCtxSetCurrent(ctxs[static_cast<size_t>(dev)]), "cuCtxSetCurrent");
    must(p_cuMemFree_v2(held[static_cast<size_t>(dev)]), "cuMemFree");
  }
  std::printf("PASS\n");
  return 0;
}

// --- scheduling and devices (issue 4): device1 | burn S I | latency COUNT | launches COUNT -------

// add_value(p, n, v): p[i] += v for i < n. burn(p, iters): each thread adds 1 `iters` times.
const char kSchedPtx[] = R"(
.version 7.0
.target sm_50
.address_size 64
.visible .entry add_value(.param .u64 p, .param .u32 n, .param .u32 v)
{
  .reg .pred %pr;
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [p];
  ld.param.u32 %r1, [n];
  ld.param.u32 %r2, [v];
  mov.u32 %r3, %ctaid.x;
  mov.u32 %r4, %ntid.x;
  mov.u32 %r5, %tid.x;
  mad.lo.s32 %r3, %r3, %r4, %r5;
  setp.ge.s32 %pr, %r3, %r1;
  @%pr bra DONE;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.s32 %rd3, %r3, 4;
  add.s64 %rd2, %rd2, %rd3;
  ld.global.u32 %r6, [%rd2];
  add.s32 %r6, %r6, %r2;
  st.global.u32 [%rd2], %r6;
DONE:
  ret;
}
.visible .entry burn(.param .u64 p, .param .u32 iters)
{
  .reg .pred %pr;
  .reg .b32 %r<8>;
  .reg .b64 %rd<4>;
  ld.param.u64 %rd1, [p];
  ld.param.u32 %r1, [iters];
  mov.u32 %r2, 0;
  mov.u32 %r3, 0;
LOOP:
  setp.ge.u32 %pr, %r3, %r1;
  @%pr bra END;
  add.s32 %r2, %r2, 1;
  add.s32 %r3, %r3, 1;
  bra LOOP;
END:
  mov.u32 %r4, %ctaid.x;
  mov.u32 %r5, %ntid.x;
  mov.u32 %r6, %tid.x;
  mad.lo.s32 %r4, %r4, %r5, %r6;
  cvta.to.global.u64 %rd2, %rd1;
  mul.wide.u32 %rd3, %r4, 4;
  add.s64 %rd2, %rd2, %rd3;
  st.global.u32 [%rd2], %r2;
  ret;
}
)";

// Makes device `ordinal`'s primary context current and loads the scheduling kernels there.
CUmodule sched_attach(int ordinal) {
  DRV(cuInit);
  DRV(cuDeviceGet);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  DRV(cuModuleLoadData);
  must(p_cuInit(0), "cuInit");
  CUdevice dev = 0;
  must(p_cuDeviceGet(&dev, ordinal), "cuDeviceGet");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  CUmodule mod = nullptr;
  must(p_cuModuleLoadData(&mod, kSchedPtx), "cuModuleLoadData");
  return mod;
}

// Adds `v` to n ints at `d` on the current device with a launch on `stream`.
CUresult add_value(CUmodule mod, CUdeviceptr d, unsigned n, unsigned v, CUstream stream) {
  DRV(cuModuleGetFunction);
  DRV(cuLaunchKernel);
  CUfunction f = nullptr;
  if (CUresult r = p_cuModuleGetFunction(&f, mod, "add_value"); r != CUDA_SUCCESS) return r;
  void* args[] = {&d, &n, &v};
  return p_cuLaunchKernel(f, (n + 127) / 128, 1, 1, 128, 1, 1, 0, stream, args, nullptr);
}

bool check_values(CUdeviceptr d, unsigned n, int want, const char* what) {
  DRV(cuMemcpyDtoH_v2);
  std::vector<int> back(n, -1);
  must(p_cuMemcpyDtoH_v2(back.data(), d, n * sizeof(int)), "cuMemcpyDtoH");
  for (unsigned i = 0; i < n; ++i) {
    if (back[i] != want) {
      std::printf("FAIL: %s: element %u is %d, expected %d\n", what, i, back[i], want);
      ++g_failures;
      return false;
    }
  }
  std::printf("ok: %s\n", what);
  return true;
}

// Device 1 of two: alloc, launch, copy back there; a stream and module made on device 1 keep
// working after switching to device 0; device 0 works on its own; a bad ordinal is refused.
int device1() {
  DRV(cuDeviceGetCount);
  DRV(cuDeviceGet);
  DRV(cuCtxGetDevice);
  DRV(cuMemAlloc_v2);
  DRV(cuMemsetD32_v2);
  DRV(cuStreamCreate);
  DRV(cuStreamSynchronize);
  DRV(cuCtxSetCurrent);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSynchronize);
  CUmodule mod1 = sched_attach(1);
  int count = 0;
  must(p_cuDeviceGetCount(&count), "cuDeviceGetCount");
  std::printf("devices %d\n", count);
  CUdevice cur = -1;
  must(p_cuCtxGetDevice(&cur), "cuCtxGetDevice");
  if (cur != 1) {
    std::printf("FAIL: current device is %d after selecting device 1\n", cur);
    return 1;
  }
  const unsigned n = 1000;
  CUdeviceptr d1 = 0;
  must(p_cuMemAlloc_v2(&d1, n * sizeof(int)), "cuMemAlloc on device 1");
  must(p_cuMemsetD32_v2(d1, 5, n), "cuMemsetD32 on device 1");
  must(add_value(mod1, d1, n, 7, nullptr), "launch on device 1");
  check_values(d1, n, 12, "kernel on device 1 gives 5 + 7");
  CUstream s1 = nullptr;
  must(p_cuStreamCreate(&s1, 0), "cuStreamCreate on device 1");

  // Switch to device 0: its own module and memory work, and device 1's stream still works.
  CUdevice dev0 = 0;
  must(p_cuDeviceGet(&dev0, 0), "cuDeviceGet 0");
  CUcontext ctx0 = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx0, dev0), "cuDevicePrimaryCtxRetain 0");
  must(p_cuCtxSetCurrent(ctx0), "cuCtxSetCurrent 0");
  DRV(cuModuleLoadData);
  CUmodule mod0 = nullptr;
  must(p_cuModuleLoadData(&mod0, kSchedPtx), "cuModuleLoadData on device 0");
  CUdeviceptr d0 = 0;
  must(p_cuMemAlloc_v2(&d0, n * sizeof(int)), "cuMemAlloc on device 0");
  must(p_cuMemsetD32_v2(d0, 1, n), "cuMemsetD32 on device 0");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize after the memset on device 0");
  must(add_value(mod0, d0, n, 2, nullptr), "launch on device 0");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize after the launch on device 0");
  check_values(d0, n, 3, "kernel on device 0 gives 1 + 2");
  must(add_value(mod1, d1, n, 100, s1), "launch of a device-1 kernel on a device-1 stream from device 0");
  must(p_cuStreamSynchronize(s1), "cuStreamSynchronize of the device-1 stream");
  check_values(d1, n, 112, "device-1 stream used while device 0 is current");
  check_values(d0, n, 3, "device 0 memory untouched by the device-1 launch");

  CUdevice bad = 0;
  const CUresult r = p_cuDeviceGet(&bad, count);
  if (r == CUDA_SUCCESS) {
    std::printf("FAIL: cuDeviceGet(%d) succeeded with %d devices\n", count, count);
    ++g_failures;
  }
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  if (g_failures == 0) std::printf("PASS\n");
  return g_failures == 0 ? 0 : 1;
}

// Launch + synchronize of a `burn` kernel (ITERS loop iterations per thread, 4 blocks of 128)
// in a loop for SECONDS; prints "LAUNCHES <n>". The fairness benchmark's saturating tenant.
int burn(double seconds, unsigned iters) {
  CUmodule mod = sched_attach(0);
  DRV(cuModuleGetFunction);
  DRV(cuLaunchKernel);
  DRV(cuCtxSynchronize);
  DRV(cuMemAlloc_v2);
  CUfunction f = nullptr;
  must(p_cuModuleGetFunction(&f, mod, "burn"), "cuModuleGetFunction burn");
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, 512 * sizeof(int)), "cuMemAlloc");
  void* args[] = {&d, &iters};
  std::printf("BURNING\n");
  std::fflush(stdout);
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  uint64_t launches = 0;
  while (std::chrono::steady_clock::now() < end) {
    must(p_cuLaunchKernel(f, 4, 1, 1, 128, 1, 1, 0, nullptr, args, nullptr), "cuLaunchKernel burn");
    must(p_cuCtxSynchronize(), "cuCtxSynchronize");
    ++launches;
  }
  std::printf("LAUNCHES %llu\nPASS\n", static_cast<unsigned long long>(launches));
  return 0;
}

// For latency and launches: the scheduling module on device 0 and 128 zeroed ints that add_value
// launches count up.
struct Counters {
  CUmodule mod;
  CUdeviceptr d;
  unsigned n;
};
Counters counters() {
  CUmodule mod = sched_attach(0);
  DRV(cuMemAlloc_v2);
  DRV(cuMemsetD32_v2);
  const unsigned n = 128;
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, n * sizeof(int)), "cuMemAlloc");
  must(p_cuMemsetD32_v2(d, 0, n), "cuMemsetD32");
  return {mod, d, n};
}

// COUNT launches of a one-block add_value kernel, each followed by a synchronize; prints the
// launch + synchronize latency "P50_US <x> P99_US <y> MEAN_US <z>".
int latency(unsigned count) {
  DRV(cuCtxSynchronize);
  const auto [mod, d, n] = counters();
  must(add_value(mod, d, n, 1, nullptr), "warm-up launch");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  std::vector<double> us;
  for (unsigned i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    must(add_value(mod, d, n, 1, nullptr), "cuLaunchKernel");
    must(p_cuCtxSynchronize(), "cuCtxSynchronize");
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  if (!check_values(d, n, static_cast<int>(count) + 1, "every launch ran")) return 1;
  std::vector<double> sorted = us;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : us) sum += v;
  std::printf("P50_US %.1f P99_US %.1f MEAN_US %.1f\nPASS\n", sorted[sorted.size() / 2],
              sorted[std::min(sorted.size() - 1, sorted.size() * 99 / 100)], sum / double(us.size()));
  return 0;
}

// COUNT launches of the one-block add_value kernel without waiting, then one synchronize: every
// launch must have run. Prints "LAUNCHES <count>". (The events-metering test's steady tenant:
// its launches arrive together and the server meters them in batched turns.)
int launches(unsigned count) {
  DRV(cuCtxSynchronize);
  const auto [mod, d, n] = counters();
  for (unsigned i = 0; i < count; ++i) must(add_value(mod, d, n, 1, nullptr), "cuLaunchKernel");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  if (!check_values(d, n, static_cast<int>(count), "every launch ran")) return 1;
  std::printf("LAUNCHES %u\nPASS\n", count);
  return 0;
}

// probe table: the entry points the call table forwards (protocol/calls/calls.toml), run the
// same way directly on the emulator and through the shim (remote.table_calls.*): profiler
// start/stop, context limits and cache configs set and read back, occupancy (the per-block-size
// query, the best block size with and without a callback and a limit, the dynamic shared
// memory available), and refusals (an unknown limit, a NULL out-pointer).
size_t g_smem_per_thread = 0;
size_t smem_for(int block) { return g_smem_per_thread * static_cast<size_t>(block); }

int table_calls() {
  DRV(cuProfilerStart);
  DRV(cuProfilerStop);
  DRV(cuCtxGetLimit);
  DRV(cuCtxSetLimit);
  DRV(cuCtxGetCacheConfig);
  DRV(cuCtxSetCacheConfig);
  DRV(cuModuleGetFunction);
  DRV(cuDeviceGetAttribute);
  DRV(cuOccupancyMaxActiveBlocksPerMultiprocessor);
  DRV(cuOccupancyMaxPotentialBlockSize);
  DRV(cuOccupancyAvailableDynamicSMemPerBlock);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"  // still exported; forwarded as is
  DRV(cuFuncSetSharedMemConfig);
#pragma GCC diagnostic pop
  CUmodule mod = sched_attach(0);
  must(p_cuProfilerStart(), "cuProfilerStart");
  must(p_cuProfilerStop(), "cuProfilerStop");

  size_t stack = 0;
  must(p_cuCtxSetLimit(CU_LIMIT_STACK_SIZE, 4096), "cuCtxSetLimit(STACK_SIZE, 4096)");
  must(p_cuCtxGetLimit(&stack, CU_LIMIT_STACK_SIZE), "cuCtxGetLimit(STACK_SIZE)");
  if (stack < 4096) {
    std::printf("FAIL: the stack limit reads back as %zu after setting 4096\n", stack);
    ++g_failures;
  }
  size_t fifo = 0;
  must(p_cuCtxGetLimit(&fifo, CU_LIMIT_PRINTF_FIFO_SIZE), "cuCtxGetLimit(PRINTF_FIFO_SIZE)");
  if (fifo == 0) {
    std::printf("FAIL: the printf FIFO limit is 0\n");
    ++g_failures;
  }
  must_fail(p_cuCtxGetLimit(&fifo, static_cast<CUlimit>(0x7fff)), "cuCtxGetLimit of an unknown limit");
  must_fail(p_cuCtxGetLimit(nullptr, CU_LIMIT_STACK_SIZE), "cuCtxGetLimit into NULL");
  CUfunc_cache cache = CU_FUNC_CACHE_PREFER_NONE;
  must(p_cuCtxSetCacheConfig(CU_FUNC_CACHE_PREFER_SHARED), "cuCtxSetCacheConfig(PREFER_SHARED)");
  must(p_cuCtxGetCacheConfig(&cache), "cuCtxGetCacheConfig");
  std::printf("CACHE_CONFIG %d\n", static_cast<int>(cache));

  CUfunction f = nullptr;
  must(p_cuModuleGetFunction(&f, mod, "add_value"), "cuModuleGetFunction add_value");
  int sms = 0;
  must(p_cuDeviceGetAttribute(&sms, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, 0), "SM count");
  int grid = 0, block = 0, blocks = 0;
  must(p_cuOccupancyMaxPotentialBlockSize(&grid, &block, f, nullptr, 0, 0), "cuOccupancyMaxPotentialBlockSize");
  must(p_cuOccupancyMaxActiveBlocksPerMultiprocessor(&blocks, f, block, 0), "blocks at the best size");
  std::printf("BEST_BLOCK %d MIN_GRID %d\n", block, grid);
  if (block <= 0 || block % 32 != 0 || grid != blocks * sms) {
    std::printf("FAIL: best block %d, min grid %d (blocks %d x SMs %d)\n", block, grid, blocks, sms);
    ++g_failures;
  }
  must(p_cuOccupancyMaxPotentialBlockSize(&grid, &block, f, nullptr, 0, 64), "with a 64-thread limit");
  if (block <= 0 || block > 64) {
    std::printf("FAIL: best block %d under a limit of 64\n", block);
    ++g_failures;
  }
  g_smem_per_thread = 64;
  must(p_cuOccupancyMaxPotentialBlockSize(&grid, &block, f, smem_for, 0, 0), "with a shared-memory callback");
  std::printf("BEST_BLOCK_SMEM %d MIN_GRID %d\n", block, grid);
  size_t avail = 0;
  must(p_cuOccupancyAvailableDynamicSMemPerBlock(&avail, f, 1, 128), "cuOccupancyAvailableDynamicSMemPerBlock");
  std::printf("DYNAMIC_SMEM %zu\n", avail);
  if (avail == 0) {
    std::printf("FAIL: no dynamic shared memory available for one block of 128\n");
    ++g_failures;
  }
  must(p_cuFuncSetSharedMemConfig(f, CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE), "cuFuncSetSharedMemConfig");
  if (g_failures != 0) return 1;
  std::printf("PASS\n");
  return 0;
}

// probe vmm: virtual memory through the shim. Two physical allocations of one granularity each,
// mapped back to back into one reservation and made READWRITE in one call; a copy, a memset and
// a kernel that all cross the boundary between them; the access flags; refusals (cuMemFree on a
// mapped address, a forged handle, an unmap that splits a mapping, freeing a reservation still
// mapped); a handle released while mapped stays usable until its unmap. Prints PASS.
int vmm() {
  attach();
  DRV(cuMemGetAllocationGranularity);
  DRV(cuMemAddressReserve);
  DRV(cuMemAddressFree);
  DRV(cuMemCreate);
  DRV(cuMemRelease);
  DRV(cuMemMap);
  DRV(cuMemUnmap);
  DRV(cuMemSetAccess);
  DRV(cuMemGetAccess);
  DRV(cuMemFree_v2);
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuMemsetD32_v2);
  DRV(cuModuleLoadData);
  DRV(cuModuleGetFunction);
  DRV(cuLaunchKernel);
  DRV(cuCtxSynchronize);
  const CUmemAllocationProp prop = device0_prop();
  size_t g = 0;
  must(p_cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM), "cuMemGetAllocationGranularity");
  std::printf("granularity %zu\n", g);
  CUdeviceptr base = 0;
  must(p_cuMemAddressReserve(&base, 3 * g, 0, 0, 0), "cuMemAddressReserve");
  CUmemGenericAllocationHandle h1 = 0, h2 = 0;
  must(p_cuMemCreate(&h1, g, &prop, 0), "cuMemCreate 1");
  must(p_cuMemCreate(&h2, g, &prop, 0), "cuMemCreate 2");
  must(p_cuMemMap(base, g, 0, h1, 0), "cuMemMap 1");
  must(p_cuMemMap(base + g, g, 0, h2, 0), "cuMemMap 2");
  must_fail(p_cuMemMap(base + 2 * g, g, 0, h2 ^ 0x5a5a, 0), "cuMemMap with a forged handle");
  CUmemAccessDesc d{};
  d.location = prop.location;
  d.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  must(p_cuMemSetAccess(base, 2 * g, &d, 1), "cuMemSetAccess");
  unsigned long long flags = 0;
  must(p_cuMemGetAccess(&flags, &prop.location, base + g), "cuMemGetAccess");
  if (flags != CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
    std::printf("FAIL: cuMemGetAccess says %llu, expected READWRITE\n", flags);
    ++g_failures;
  }
  // A copy across the boundary, then a memset across it, then a kernel over both mappings.
  const unsigned n = static_cast<unsigned>(2 * g / 4);
  must(p_cuMemsetD32_v2(base, 5, n), "cuMemsetD32 over both mappings");
  std::vector<int> pattern(2048);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<int>(i) + 100;
  const CUdeviceptr cross = base + g - 4096;
  must(p_cuMemcpyHtoD_v2(cross, pattern.data(), pattern.size() * 4), "cuMemcpyHtoD across the boundary");
  CUmodule mod = nullptr;
  must(p_cuModuleLoadData(&mod, kDevicesPtx), "cuModuleLoadData");
  CUfunction f = nullptr;
  must(p_cuModuleGetFunction(&f, mod, "scale_add"), "cuModuleGetFunction");
  unsigned a = 2, b = 1;
  CUdeviceptr p = base;
  unsigned count = n;
  void* args[] = {&p, &count, &a, &b};
  must(p_cuLaunchKernel(f, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr), "cuLaunchKernel");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  std::vector<int> back(n, -1);
  must(p_cuMemcpyDtoH_v2(back.data(), base, 2 * g), "cuMemcpyDtoH of both mappings");
  const size_t first = (g - 4096) / 4;
  for (unsigned i = 0; i < n; ++i) {
    const bool in_pattern = i >= first && i < first + pattern.size();
    const int want = (in_pattern ? pattern[i - first] : 5) * 2 + 1;
    if (back[i] != want) {
      std::printf("FAIL: element %u is %d, expected %d\n", i, back[i], want);
      ++g_failures;
      break;
    }
  }
  std::printf("ok: copy, memset and kernel across two mappings\n");
  must_fail(p_cuMemFree_v2(base), "cuMemFree of a mapped address");
  must_fail(p_cuMemUnmap(base, g / 2), "cuMemUnmap of half a mapping");
  must_fail(p_cuMemAddressFree(base, 3 * g), "cuMemAddressFree while mapped");
  // Released while mapped: the memory stays until the unmap.
  must(p_cuMemRelease(h1), "cuMemRelease while mapped");
  must_fail(p_cuMemRelease(h1), "a second cuMemRelease of the same handle");
  int one = 0;
  must(p_cuMemcpyDtoH_v2(&one, base, 4), "cuMemcpyDtoH after the release");
  must(p_cuMemUnmap(base, 2 * g), "cuMemUnmap of both mappings");
  must_fail(p_cuMemcpyDtoH_v2(&one, base, 4), "cuMemcpyDtoH after the unmap");
  must(p_cuMemRelease(h2), "cuMemRelease after the unmap");
  must(p_cuMemAddressFree(base, 3 * g), "cuMemAddressFree");
  if (g_failures != 0) return 1;
  std::printf("PASS\n");
  return 0;
}


// --- memory pools (cuMemPoolCreate & co.): pool_create, pool_quota -----------------------------

CUmemPoolProps device0_pool_props() {
  CUmemPoolProps props{};
  props.allocType = CU_MEM_ALLOCATION_TYPE_PINNED;
  props.handleTypes = CU_MEM_HANDLE_TYPE_NONE;
  props.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  props.location.id = 0;
  return props;
}

void expect_u64(uint64_t got, uint64_t want, const char* what) {
  if (got != want) {
    std::printf("FAIL: %s is %llu, expected %llu\n", what, static_cast<unsigned long long>(got),
                static_cast<unsigned long long>(want));
    ++g_failures;
  } else {
    std::printf("ok: %s is %llu\n", what, static_cast<unsigned long long>(got));
  }
}

void expect_error(CUresult r, CUresult want, const char* what) {
  if (r != want) {
    std::printf("FAIL: %s -> %s, expected %s\n", what, err_name(r), err_name(want));
    ++g_failures;
  } else {
    std::printf("ok: %s -> %s\n", what, err_name(r));
  }
}

// A created pool through the shim: attributes, a stream-ordered allocation whose data
// round-trips, cuDeviceSetMemPool, access, trim, destroy; forged and unsupported handles.
int pool_create() {
  attach();
  DRV(cuMemPoolCreate);
  DRV(cuMemPoolDestroy);
  DRV(cuMemPoolSetAttribute);
  DRV(cuMemPoolGetAttribute);
  DRV(cuMemPoolTrimTo);
  DRV(cuMemPoolSetAccess);
  DRV(cuMemPoolGetAccess);
  DRV(cuMemAllocFromPoolAsync);
  DRV(cuMemAllocAsync);
  DRV(cuMemFreeAsync);
  DRV(cuDeviceGetDefaultMemPool);
  DRV(cuDeviceGetMemPool);
  DRV(cuDeviceSetMemPool);
  DRV(cuStreamCreate);
  DRV(cuStreamSynchronize);
  DRV(cuStreamDestroy_v2);
  DRV(cuMemsetD32Async);
  DRV(cuMemcpyHtoDAsync_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuCtxSynchronize);

  CUmemPoolProps props = device0_pool_props();
  CUmemoryPool pool = nullptr;
  must(p_cuMemPoolCreate(&pool, &props), "cuMemPoolCreate");
  int reuse = 1;
  must(p_cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &reuse), "set REUSE_ALLOW_OPPORTUNISTIC");
  reuse = -1;
  must(p_cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_REUSE_ALLOW_OPPORTUNISTIC, &reuse), "get REUSE_ALLOW_OPPORTUNISTIC");
  expect_u64(static_cast<uint64_t>(reuse), 1, "REUSE_ALLOW_OPPORTUNISTIC");
  cuuint64_t threshold = 1ull << 30;
  must(p_cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold), "set RELEASE_THRESHOLD");
  threshold = 0;
  must(p_cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold), "get RELEASE_THRESHOLD");
  expect_u64(threshold, 1ull << 30, "RELEASE_THRESHOLD as the application set it");

  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, 0), "cuStreamCreate");
  const size_t n = 256 * 1024;  // ints: 1 MiB
  CUdeviceptr d = 0;
  must(p_cuMemAllocFromPoolAsync(&d, n * 4, pool, s), "cuMemAllocFromPoolAsync");
  must(p_cuMemsetD32Async(d, 0x01020304u, n, s), "cuMemsetD32Async");
  std::vector<unsigned> pattern(4096);
  for (size_t i = 0; i < pattern.size(); ++i) pattern[i] = static_cast<unsigned>(i * 2654435761u);
  must(p_cuMemcpyHtoDAsync_v2(d + 4096, pattern.data(), pattern.size() * 4, s), "cuMemcpyHtoDAsync");
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  std::vector<unsigned> back(n, 0);
  must(p_cuMemcpyDtoH_v2(back.data(), d, n * 4), "cuMemcpyDtoH");
  bool same = true;
  for (size_t i = 0; i < n && same; ++i) {
    const bool in = i >= 1024 && i < 1024 + pattern.size();
    same = back[i] == (in ? pattern[i - 1024] : 0x01020304u);
  }
  if (!same) {
    std::printf("FAIL: the pool allocation does not hold what was written\n");
    ++g_failures;
  } else {
    std::printf("ok: memset and copy round-trip through a pool allocation\n");
  }
  cuuint64_t used = 0;
  must(p_cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used), "get USED_MEM_CURRENT");
  if (used < n * 4) {
    std::printf("FAIL: USED_MEM_CURRENT %llu < %zu\n", static_cast<unsigned long long>(used), n * 4);
    ++g_failures;
  }
  CUmemLocation loc = props.location;
  CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_NONE;
  must(p_cuMemPoolGetAccess(&flags, pool, &loc), "cuMemPoolGetAccess");
  expect_u64(flags, CU_MEM_ACCESS_FLAGS_PROT_READWRITE, "the pool's access from its own device");
  CUmemAccessDesc desc{};
  desc.location = loc;
  desc.flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE;
  must(p_cuMemPoolSetAccess(pool, &desc, 1), "cuMemPoolSetAccess");

  // The device's current pool: allocations of cuMemAllocAsync come from it.
  CUmemoryPool def = nullptr, cur = nullptr;
  must(p_cuDeviceGetDefaultMemPool(&def, 0), "cuDeviceGetDefaultMemPool");
  must(p_cuDeviceSetMemPool(0, pool), "cuDeviceSetMemPool");
  must(p_cuDeviceGetMemPool(&cur, 0), "cuDeviceGetMemPool");
  expect_u64(cur == pool, 1, "cuDeviceGetMemPool returns the pool set");
  CUdeviceptr d2 = 0;
  must(p_cuMemAllocAsync(&d2, 1 << 20, s), "cuMemAllocAsync from the current pool");
  cuuint64_t used2 = 0;
  must(p_cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used2), "get USED_MEM_CURRENT");
  if (used2 < used + (1 << 20)) {  // a real driver may round the use up, never down
    std::printf("FAIL: cuMemAllocAsync of 1 MiB grew the set pool's use from %llu to %llu\n",
                static_cast<unsigned long long>(used), static_cast<unsigned long long>(used2));
    ++g_failures;
  } else {
    std::printf("ok: cuMemAllocAsync allocated from the pool set by cuDeviceSetMemPool\n");
  }
  must(p_cuMemFreeAsync(d2, s), "cuMemFreeAsync");
  must(p_cuDeviceSetMemPool(0, def), "cuDeviceSetMemPool back to the default pool");
  // The default pool is a pool like the others (attributes, allocation).
  CUdeviceptr d3 = 0;
  must(p_cuMemAllocFromPoolAsync(&d3, 4096, def, s), "cuMemAllocFromPoolAsync on the default pool");
  must(p_cuMemFreeAsync(d3, s), "cuMemFreeAsync of the default pool's allocation");
  threshold = 7;
  must(p_cuMemPoolSetAttribute(def, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &threshold), "set the default pool's RELEASE_THRESHOLD");

  must(p_cuMemFreeAsync(d, s), "cuMemFreeAsync");
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  must(p_cuMemPoolTrimTo(pool, 0), "cuMemPoolTrimTo");
  cuuint64_t reserved = 1;
  must(p_cuMemPoolGetAttribute(pool, CU_MEMPOOL_ATTR_RESERVED_MEM_CURRENT, &reserved), "get RESERVED_MEM_CURRENT");
  expect_u64(reserved, 0, "memory the pool keeps after the frees (threshold kept at 0 by the server)");

  // Forged and foreign handles never reach a pool.
  CUdeviceptr x = 0;
  const auto forged = reinterpret_cast<CUmemoryPool>(reinterpret_cast<uintptr_t>(pool) ^ 0x5a5a);
  must_fail(p_cuMemAllocFromPoolAsync(&x, 4096, forged, s), "cuMemAllocFromPoolAsync on a forged pool");
  must_fail(p_cuMemPoolGetAttribute(forged, CU_MEMPOOL_ATTR_USED_MEM_CURRENT, &used), "cuMemPoolGetAttribute on a forged pool");
  must_fail(p_cuMemPoolDestroy(forged), "cuMemPoolDestroy of a forged pool");
  must_fail(p_cuMemPoolDestroy(def), "cuMemPoolDestroy of the default pool");
  must_fail(p_cuMemPoolCreate(&cur, nullptr), "cuMemPoolCreate without properties");
  CUmemPoolProps ipc = props;
  ipc.handleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  expect_error(p_cuMemPoolCreate(&cur, &ipc), CUDA_ERROR_NOT_SUPPORTED, "cuMemPoolCreate with IPC handle types");
  CUmemPoolProps host = props;
  host.location.type = CU_MEM_LOCATION_TYPE_HOST;
  expect_error(p_cuMemPoolCreate(&cur, &host), CUDA_ERROR_NOT_SUPPORTED, "cuMemPoolCreate on the host");
  CUmemPoolProps bad_dev = props;
  bad_dev.location.id = 4096;
  must_fail(p_cuMemPoolCreate(&cur, &bad_dev), "cuMemPoolCreate on a device that does not exist");

  must(p_cuMemPoolDestroy(pool), "cuMemPoolDestroy");
  must_fail(p_cuMemPoolDestroy(pool), "a second cuMemPoolDestroy");
  must_fail(p_cuMemAllocFromPoolAsync(&x, 4096, pool, s), "cuMemAllocFromPoolAsync on a destroyed pool");
  must(p_cuStreamDestroy_v2(s), "cuStreamDestroy");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize (the context still works)");
  std::printf(g_failures ? "FAIL\n" : "PASS\n");
  return g_failures ? 1 : 0;
}

// Quota through a created pool (run with a tenant whose quota is QUOTA_MIB): over-quota
// allocations fail with OUT_OF_MEMORY, frees make room again, and a last allocation is left
// held when the program exits (the test checks that the server returns it).
int pool_quota(uint64_t quota_mib) {
  attach();
  DRV(cuMemPoolCreate);
  DRV(cuMemAllocFromPoolAsync);
  DRV(cuMemAllocAsync);
  DRV(cuMemFreeAsync);
  DRV(cuMemFree_v2);
  DRV(cuMemPoolSetAttribute);
  DRV(cuMemGetInfo_v2);
  DRV(cuCtxSynchronize);
  const uint64_t MiB = 1 << 20, quota = quota_mib * MiB;
  CUmemPoolProps props = device0_pool_props();
  CUmemoryPool pool = nullptr;
  must(p_cuMemPoolCreate(&pool, &props), "cuMemPoolCreate");
  cuuint64_t keep_all = ~0ull;  // asks the pool to keep everything; the server keeps 0
  must(p_cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep_all), "set RELEASE_THRESHOLD");
  CUdeviceptr a = 0, b = 0, c = 0;
  must(p_cuMemAllocFromPoolAsync(&a, 3 * quota / 4, pool, nullptr), "cuMemAllocFromPoolAsync of 3/4 of the quota");
  // The tenant's free memory (cuMemGetInfo) must be `want`.
  auto expect_free = [&](uint64_t want, const char* what) {
    size_t free_bytes = 0, total = 0;
    must(p_cuMemGetInfo_v2(&free_bytes, &total), "cuMemGetInfo");
    expect_u64(free_bytes, want, what);
  };
  expect_free(quota / 4, "free memory after the pool allocation");
  expect_error(p_cuMemAllocFromPoolAsync(&b, quota / 2, pool, nullptr), CUDA_ERROR_OUT_OF_MEMORY,
               "cuMemAllocFromPoolAsync over the quota");
  expect_error(p_cuMemAllocAsync(&b, quota / 2, nullptr), CUDA_ERROR_OUT_OF_MEMORY,
               "cuMemAllocAsync over the quota while the pool holds 3/4");
  must(p_cuMemAllocFromPoolAsync(&b, quota / 4, pool, nullptr), "cuMemAllocFromPoolAsync of the last quarter");
  expect_error(p_cuMemAllocFromPoolAsync(&c, 4096, pool, nullptr), CUDA_ERROR_OUT_OF_MEMORY,
               "one more page from the pool at a full quota");
  must(p_cuMemFreeAsync(a, nullptr), "cuMemFreeAsync of 3/4");
  must(p_cuMemFree_v2(b), "cuMemFree of the last quarter (a pool allocation)");
  // A stream-ordered free stays charged until the device synchronizes (a pool may hold the
  // memory until then); a synchronous free is returned at once.
  expect_free(quota / 4, "free memory after cuMemFreeAsync, before a synchronize");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  expect_free(quota, "free memory after the frees");
  must(p_cuMemAllocFromPoolAsync(&a, quota, pool, nullptr), "cuMemAllocFromPoolAsync of the whole quota after the frees");
  must(p_cuMemFreeAsync(a, nullptr), "cuMemFreeAsync of the whole quota");
  expect_free(0, "free memory right after cuMemFreeAsync of the whole quota");
  // Left held at exit, with the pool: the server returns both. It does not fit until the freed
  // quota is settled, which the server does by synchronizing the device itself.
  must(p_cuMemAllocFromPoolAsync(&c, quota / 2, pool, nullptr),
       "cuMemAllocFromPoolAsync after a stream-ordered free of the whole quota, no synchronize");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  std::printf(g_failures ? "FAIL\n" : "PASS\n");
  return g_failures ? 1 : 0;
}
// --- managed memory (cuMemAllocManaged): managed_quota --------------------------------------

// With a tenant quota of `quota_mib` MiB: a managed allocation over it gets OUT_OF_MEMORY; one of
// half the quota holds data written on the host, seen by the device, changed by a memset and
// seen again on the host; prefetch to the GPU is refused as on a device without concurrent
// managed access. Then prints "HOLDING <bytes>" and keeps the allocation until stdin closes.
int managed_quota(size_t quota_mib) {
  attach();
  DRV(cuDeviceGetAttribute);
  DRV(cuMemAllocManaged);
  DRV(cuMemFree_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuMemsetD32_v2);
  DRV(cuCtxSynchronize);
  DRV(cuPointerGetAttribute);
  DRV(cuMemPrefetchAsync_v2);
  int attr = -1;
  must(p_cuDeviceGetAttribute(&attr, CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY, 0), "MANAGED_MEMORY");
  expect_u64(static_cast<uint64_t>(attr), 1, "CU_DEVICE_ATTRIBUTE_MANAGED_MEMORY");
  must(p_cuDeviceGetAttribute(&attr, CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS, 0), "CONCURRENT_MANAGED_ACCESS");
  expect_u64(static_cast<uint64_t>(attr), 0, "CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS");

  const size_t quota = quota_mib << 20;
  CUdeviceptr m = 0;
  expect_error(p_cuMemAllocManaged(&m, quota + (size_t{1} << 20), CU_MEM_ATTACH_GLOBAL),
               CUDA_ERROR_OUT_OF_MEMORY, "cuMemAllocManaged over the quota");
  const size_t bytes = quota / 2;
  must(p_cuMemAllocManaged(&m, bytes, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged of half the quota");
  CUdeviceptr again = 0;
  expect_error(p_cuMemAllocManaged(&again, bytes + (size_t{1} << 20), CU_MEM_ATTACH_GLOBAL),
               CUDA_ERROR_OUT_OF_MEMORY, "a second managed allocation past the quota");
  unsigned managed = 0;
  must(p_cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, m + 100), "IS_MANAGED");
  expect_u64(managed, 1, "CU_POINTER_ATTRIBUTE_IS_MANAGED of a managed pointer");

  // Host writes (every 4th page), then the device's view through a D2H copy into plain memory.
  auto* h = reinterpret_cast<uint32_t*>(m);
  const size_t n = bytes / 4;
  for (size_t i = 0; i < n; i += 4096) h[i] = static_cast<uint32_t>(i ^ 0x5a5a5a5au);
  std::vector<uint32_t> plain(n);
  must(p_cuMemcpyDtoH_v2(plain.data(), m, bytes), "cuMemcpyDtoH of managed memory");
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t want = i % 4096 == 0 ? static_cast<uint32_t>(i ^ 0x5a5a5a5au) : 0u;
    bad += plain[i] != want;
  }
  expect_u64(bad, 0, "words the device sees differently from the host's writes");
  // A device memset over the first half, seen by the host after the synchronize.
  must(p_cuMemsetD32_v2(m, 0x77, n / 2), "cuMemsetD32 on managed memory");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  bad = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t want = i < n / 2 ? 0x77u : i % 4096 == 0 ? static_cast<uint32_t>(i ^ 0x5a5a5a5au) : 0u;
    bad += h[i] != want;
  }
  expect_u64(bad, 0, "words the host sees differently from the device after the memset");

  CUmemLocation gpu{};
  gpu.type = CU_MEM_LOCATION_TYPE_DEVICE;
  gpu.id = 0;
  expect_error(p_cuMemPrefetchAsync_v2(m, bytes, gpu, 0, nullptr), CUDA_ERROR_INVALID_DEVICE,
               "cuMemPrefetchAsync to the GPU (no concurrent managed access)");
  CUmemLocation cpu{};
  cpu.type = CU_MEM_LOCATION_TYPE_HOST;
  expect_error(p_cuMemPrefetchAsync_v2(m, bytes, cpu, 0, nullptr), CUDA_SUCCESS, "cuMemPrefetchAsync to the CPU");

  // Freed: the quota comes back (a full-quota allocation fits), then half is held until exit.
  must(p_cuMemFree_v2(m), "cuMemFree of managed memory");
  must(p_cuMemAllocManaged(&m, quota, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged of the whole quota after the free");
  must(p_cuMemFree_v2(m), "cuMemFree of the whole quota");
  must(p_cuMemAllocManaged(&m, bytes, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged kept until exit");
  std::memset(reinterpret_cast<void*>(m), 1, 4096);
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  std::printf("HOLDING %zu\n", bytes);
  std::fflush(stdout);
  while (std::getchar() != EOF) {
  }
  std::printf(g_failures ? "FAIL\n" : "PASS\n");
  return g_failures ? 1 : 0;
}

// What coherence costs (numbers for docs/architecture.md "Managed memory"): with MIB MiB of
// managed memory, N rounds each of (a) cuCtxSynchronize alone, (b) a 4-byte device memset then
// cuCtxSynchronize (a pull of every managed byte), (c) a host write to one page then
// cuCtxSynchronize (a push of that page). Prints microseconds per round; exits 0.
int managed_sync(size_t mib, unsigned rounds) {
  attach();
  DRV(cuMemAllocManaged);
  DRV(cuMemsetD32_v2);
  DRV(cuCtxSynchronize);
  DRV(cuMemFree_v2);
  CUdeviceptr m = 0;
  must(p_cuMemAllocManaged(&m, mib << 20, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
  auto* h = reinterpret_cast<volatile uint32_t*>(m);
  auto time_us = [&](auto&& round) {
    const auto t0 = std::chrono::steady_clock::now();
    for (unsigned i = 0; i < rounds; ++i) round(i);
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / rounds;
  };
  const double idle = time_us([&](unsigned) { must(p_cuCtxSynchronize(), "cuCtxSynchronize"); });
  const double pull = time_us([&](unsigned i) {
    must(p_cuMemsetD32_v2(m, i, 1), "cuMemsetD32");
    must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  });
  if (h[0] != rounds - 1) {
    std::printf("FAIL: the host sees %u after the memsets, expected %u\n", h[0], rounds - 1);
    ++g_failures;
  }
  const double push = time_us([&](unsigned i) {
    h[1024 * (i % (mib * 256))] = i;
    must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  });
  std::printf("managed %zu MiB: sync alone %.1f us, memset+sync (pull) %.1f us, one-page host write+sync (push) %.1f us\n",
              mib, idle, pull, push);
  must(p_cuMemFree_v2(m), "cuMemFree");
  std::printf(g_failures ? "FAIL\n" : "PASS\n");
  return g_failures ? 1 : 0;
}

// Managed memory on two servers (GPOOL_SERVER lists two, one device each): on each device a
// managed allocation (3 MiB on device 0, 5 MiB on device 1) written on the host, set in part by a
// device memset and read back on the host; prints "HOLDING <bytes0> <bytes1>" and keeps both
// until stdin closes.
int managed_servers() {
  DRV(cuInit);
  DRV(cuDeviceGetCount);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  DRV(cuMemAllocManaged);
  DRV(cuMemsetD32_v2);
  DRV(cuCtxSynchronize);
  must(p_cuInit(0), "cuInit");
  int count = 0;
  must(p_cuDeviceGetCount(&count), "cuDeviceGetCount");
  if (count != 2) {
    std::printf("FAIL: %d devices, expected 2 (one per server)\n", count);
    return 1;
  }
  size_t bytes[2] = {size_t{3} << 20, size_t{5} << 20};
  for (int d = 0; d < 2; ++d) {
    CUcontext ctx = nullptr;
    must(p_cuDevicePrimaryCtxRetain(&ctx, d), "cuDevicePrimaryCtxRetain");
    must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
    CUdeviceptr m = 0;
    must(p_cuMemAllocManaged(&m, bytes[d], CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
    auto* h = reinterpret_cast<uint32_t*>(m);
    const size_t n = bytes[d] / 4;
    for (size_t i = 0; i < n; i += 1024) h[i] = static_cast<uint32_t>(d * 1000 + i);
    must(p_cuMemsetD32_v2(m + bytes[d] / 2, 0xd0 + static_cast<unsigned>(d), n / 2), "cuMemsetD32");
    must(p_cuCtxSynchronize(), "cuCtxSynchronize");
    size_t bad = 0;
    for (size_t i = 0; i < n; ++i) {
      const uint32_t want = i >= n / 2 ? 0xd0u + static_cast<unsigned>(d)
                                       : i % 1024 == 0 ? static_cast<uint32_t>(d * 1000 + i) : 0u;
      bad += h[i] != want;
    }
    std::printf(bad ? "FAIL: device %d: %zu words differ\n" : "ok: device %d: host writes and the device memset agree\n", d, bad);
    g_failures += bad != 0;
  }
  std::printf("HOLDING %zu %zu\n", bytes[0], bytes[1]);
  std::fflush(stdout);
  while (std::getchar() != EOF) {
  }
  std::printf(g_failures ? "FAIL\n" : "PASS\n");
  return g_failures ? 1 : 0;
}

// A write to read-only memory that is not managed, after a managed allocation installed the
// shim's SIGSEGV handler: the fault must reach the previous handler (the default: the process
// dies of SIGSEGV). Prints "WRITING" first; returning at all is a failure.
int managed_segv() {
  attach();
  DRV(cuMemAllocManaged);
  CUdeviceptr m = 0;
  must(p_cuMemAllocManaged(&m, 4096, CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
  *reinterpret_cast<volatile int*>(m) = 1;  // a managed write: handled, goes on
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  std::printf("WRITING\n");
  std::fflush(stdout);
  *static_cast<volatile int*>(ro) = 1;
  std::printf("FAIL: a write to read-only memory did not fault\n");
  return 1;
}

// --- managed memory locked while kernels may run: managed_locked ---------------------------

// No concurrent managed access (the shim reports CONCURRENT_MANAGED_ACCESS = 0): after a launch
// the host reads the kernel's result only after a synchronisation; a read before it must fault
// (tests/remote/managed.py --mode locked expects SIGSEGV after "TOUCHING").
int managed_locked() {
  DRV(cuMemAllocManaged);
  DRV(cuCtxSynchronize);
  CUmodule mod = sched_attach(0);
  constexpr unsigned kN = 1024;
  CUdeviceptr m = 0;
  must(p_cuMemAllocManaged(&m, kN * sizeof(int), CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
  auto* host = reinterpret_cast<volatile int*>(m);
  for (unsigned i = 0; i < kN; ++i) host[i] = static_cast<int>(i);
  must(add_value(mod, m, kN, 5, nullptr), "launch add_value on managed memory");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  for (unsigned i = 0; i < kN; ++i) {
    if (host[i] != static_cast<int>(i) + 5) {
      std::printf("FAIL: after the synchronisation element %u is %d, expected %u\n", i, host[i], i + 5);
      return 1;
    }
  }
  std::printf("ok: the kernel's writes are visible after the synchronisation\n");
  must(add_value(mod, m, kN, 1, nullptr), "a second launch");
  std::printf("TOUCHING\n");
  std::fflush(stdout);
  const int seen = host[0];  // must fault: the kernel may be running
  std::printf("FAIL: the host read managed memory (%d) between a launch and a synchronisation\n", seen);
  return 1;
}

// --- managed memory locked while a graph may run: managed_graph_locked ---------------------

// A graph launch locks managed memory out of the host like a kernel launch: a program that
// synchronises after cuGraphLaunch sees the graph's writes; a host read between the graph
// launch and the next synchronisation must fault (tests/remote/managed.py --mode graph_locked
// expects SIGSEGV after "TOUCHING").
int managed_graph_locked() {
  DRV(cuMemAllocManaged);
  DRV(cuStreamCreate);
  DRV(cuStreamSynchronize);
  DRV(cuStreamBeginCapture_v2);
  DRV(cuStreamEndCapture);
  DRV(cuGraphInstantiateWithFlags);
  DRV(cuGraphLaunch);
  CUmodule mod = sched_attach(0);
  constexpr unsigned kN = 1024;
  CUdeviceptr m = 0;
  must(p_cuMemAllocManaged(&m, kN * sizeof(int), CU_MEM_ATTACH_GLOBAL), "cuMemAllocManaged");
  auto* host = reinterpret_cast<volatile int*>(m);
  for (unsigned i = 0; i < kN; ++i) host[i] = static_cast<int>(i);
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  must(p_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL), "cuStreamBeginCapture");
  must(add_value(mod, m, kN, 3, s), "capture add_value on managed memory");
  CUgraph g = nullptr;
  must(p_cuStreamEndCapture(s, &g), "cuStreamEndCapture");
  CUgraphExec e = nullptr;
  must(p_cuGraphInstantiateWithFlags(&e, g, 0), "cuGraphInstantiate");
  for (int round = 1; round <= 2; ++round) {
    must(p_cuGraphLaunch(e, s), "cuGraphLaunch");
    must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
    for (unsigned i = 0; i < kN; ++i) {
      if (host[i] != static_cast<int>(i) + 3) {
        std::printf("FAIL: after graph launch %d element %u is %d, expected %u\n", round, i, host[i], i + 3);
        return 1;
      }
      host[i] = static_cast<int>(i);  // host writes between launches: pushed before the next one
    }
  }
  std::printf("ok: the graph's writes are visible after each synchronisation\n");
  must(p_cuGraphLaunch(e, s), "a third graph launch");
  std::printf("TOUCHING\n");
  std::fflush(stdout);
  const int seen = host[0];  // must fault: the graph's kernel may be running
  std::printf("FAIL: the host read managed memory (%d) between a graph launch and a synchronisation\n", seen);
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s forged | hold MIB | wait | devices | device1 | burn S I | latency N | tenant | vmm | pool_create | pool_quota QUOTA_MIB | managed_quota QUOTA_MIB | managed_sync MIB N | managed_servers | managed_segv | managed_locked | managed_graph_locked | table\n", argv[0]);
    return 2;
  }
  if (!load_driver()) return 1;
  const std::string mode = argv[1];
  if (mode == "forged") return forged();
  if (mode == "global_quota" && argc > 2) return global_quota(std::strtoull(argv[2], nullptr, 10));
  if (mode == "images" && argc > 4) return images(static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)), static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)), static_cast<unsigned>(std::strtoul(argv[4], nullptr, 10)));
  if (mode == "upload" && argc > 2) return upload(std::strtoull(argv[2], nullptr, 10));
  if (mode == "hold" && argc > 2) return hold(std::strtoull(argv[2], nullptr, 10));
  if (mode == "wait") return wait_for_error();
  if (mode == "device1") return device1();
  if (mode == "burn" && argc > 3) return burn(std::strtod(argv[2], nullptr), static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)));
  if (mode == "latency" && argc > 2) return latency(static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)));
  if (mode == "launches" && argc > 2) return launches(static_cast<unsigned>(std::strtoul(argv[2], nullptr, 10)));
  if (mode == "tenant") return tenant_client();
  if (mode == "devices") return devices();
  if (mode == "vmm") return vmm();
  if (mode == "table") return table_calls();
  if (mode == "pool_create") return pool_create();
  if (mode == "pool_quota" && argc > 2) return pool_quota(std::strtoull(argv[2], nullptr, 10));
  if (mode == "managed_quota" && argc > 2) return managed_quota(std::strtoull(argv[2], nullptr, 10));
  if (mode == "managed_servers") return managed_servers();
  if (mode == "managed_segv") return managed_segv();
  if (mode == "managed_locked") return managed_locked();
  if (mode == "managed_graph_locked") return managed_graph_locked();
  if (mode == "managed_sync" && argc > 3) return managed_sync(std::strtoull(argv[2], nullptr, 10), static_cast<unsigned>(std::strtoul(argv[3], nullptr, 10)));
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
