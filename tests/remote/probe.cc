// gpool-remote-probe: a small driver-API client for the remote tests that the example programs
// cannot express. It loads libcuda.so.1 with dlopen (run it with the shim first on
// LD_LIBRARY_PATH) and calls the driver directly.
//
//   probe forged     forged stream/event/module/function handles and device pointers outside
//                    the session's allocations, passed to copies, memsets and frees: each must
//                    get a CUDA error (at the call, or at the next synchronize for calls that
//                    are async on the wire), and the context must still work afterwards.
//   probe hold MIB   allocates MIB MiB, prints "HOLDING" and then copies host->device and
//                    device->host over the whole allocation forever (the test SIGKILLs it
//                    mid-copy).
//   probe devices    every device the shim lists (several servers: their union): a kernel on
//                    (1 << ordinal) MiB of each, checked; prints "DEVICES n", "DEVICE i NAME ok",
//                    then "HOLDING" until stdin ends, then frees and prints PASS.
//   probe wait       allocates 64 MiB, prints "WAITING", then makes device->host copies until
//                    one fails; prints "ERROR <name>" and exits 0 on a CUDA error (the test
//                    kills the server meanwhile), 1 if a call hangs past 60 s (never expected).
// Prints PASS / FAIL lines like the examples. Exit 0 on pass.
#include <cuda.h>
#include <dlfcn.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

void* g_lib = nullptr;
int g_failures = 0;

template <typename F>
F sym(const char* name) {
  void* p = ::dlsym(g_lib, name);
  if (p == nullptr) {
    std::printf("FAIL: libcuda.so.1 does not export %s\n", name);
    std::exit(1);
  }
  return reinterpret_cast<F>(p);
}

#define DRV(name) static auto p_##name = sym<decltype(&name)>(#name)

const char* err_name(CUresult r) {
  DRV(cuGetErrorName);
  const char* s = nullptr;
  return p_cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "?";
}

void must(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) {
    std::printf("FAIL: %s returned %s\n", what, err_name(r));
    std::exit(1);
  }
}

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

  // Device ranges outside the session's allocations.
  const CUdeviceptr outside = d + (CUdeviceptr{1} << 36);
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

}  // namespace

// probe tenant: a line-driven client for the tenant tests (tests/remote/tenants.py). Attaches,
// prints "READY", then answers one line per command read from stdin until it ends:
//   alloc N | alloc_async N | alloc_pitch W H   -> "ALLOC ok 0xPTR" or "ALLOC <error name>"
//   free PTR | free_async PTR                   -> "FREE ok" / "FREE <error>"
//   info                                        -> "MEMINFO <free> <total>" (cuMemGetInfo)
//   total                                       -> "TOTAL <bytes>" (cuDeviceTotalMem)
//   fill PTR N BYTE                             -> "FILL ok" (memset + synchronize)
//   check PTR N BYTE                            -> "CHECK ok" when all N bytes equal BYTE
//   use PTR                                     -> "USE ok" or "USE <error>": memset of 4 bytes at
//                                                  PTR, then a device->host read, synchronized
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
  auto say = [](const char* what, CUresult r, const std::string& ok_text = "ok") {
    std::printf("%s %s\n", what, r == CUDA_SUCCESS ? ok_text.c_str() : err_name(r));
    std::fflush(stdout);
  };
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

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s forged | hold MIB | wait\n", argv[0]);
    return 2;
  }
  g_lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (g_lib == nullptr) {
    std::printf("FAIL: cannot load libcuda.so.1: %s\n", ::dlerror());
    return 1;
  }
  const std::string mode = argv[1];
  if (mode == "forged") return forged();
  if (mode == "hold" && argc > 2) return hold(std::strtoull(argv[2], nullptr, 10));
  if (mode == "wait") return wait_for_error();
  if (mode == "tenant") return tenant_client();
  if (mode == "devices") return devices();
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
