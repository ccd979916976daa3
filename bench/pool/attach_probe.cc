// gpool-bench-attach: how long a client waits from "connect" to its first usable device memory.
//
//   gpool-bench-attach            (run with the client shim first on LD_LIBRARY_PATH)
//
// dlopens libcuda.so.1 (not timed: the program's own start), then times cuInit (the shim
// connects, says Hello and attaches there) + cuDeviceGet + cuDevicePrimaryCtxRetain +
// cuCtxSetCurrent + the first cuMemAlloc of 1 MiB, and prints one JSON line:
//   {"bench":"attach","init_us":..,"alloc_us":..,"total_us":..}
// Exit 1 (with a FAIL line) when any call fails. One attach per process: bench/pool/run.py
// starts it many times.
#include <cuda.h>
#include <dlfcn.h>

#include <chrono>
#include <cstdio>

namespace {

template <typename F>
F sym(void* lib, const char* name) {
  return reinterpret_cast<F>(::dlsym(lib, name));
}

double us_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main() {
  void* lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    std::printf("FAIL: dlopen libcuda.so.1: %s\n", ::dlerror());
    return 1;
  }
  auto init = sym<decltype(&cuInit)>(lib, "cuInit");
  auto device_get = sym<decltype(&cuDeviceGet)>(lib, "cuDeviceGet");
  auto retain = sym<decltype(&cuDevicePrimaryCtxRetain)>(lib, "cuDevicePrimaryCtxRetain");
  auto set_current = sym<decltype(&cuCtxSetCurrent)>(lib, "cuCtxSetCurrent");
  auto alloc = sym<decltype(&cuMemAlloc_v2)>(lib, "cuMemAlloc_v2");
  auto free_mem = sym<decltype(&cuMemFree_v2)>(lib, "cuMemFree_v2");
  if (!init || !device_get || !retain || !set_current || !alloc || !free_mem) {
    std::printf("FAIL: libcuda.so.1 lacks a driver entry point\n");
    return 1;
  }
  const auto t0 = std::chrono::steady_clock::now();
  CUresult st = init(0);
  const double init_us = us_since(t0);
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  CUdeviceptr p = 0;
  if (st == CUDA_SUCCESS) st = device_get(&dev, 0);
  if (st == CUDA_SUCCESS) st = retain(&ctx, dev);
  if (st == CUDA_SUCCESS) st = set_current(ctx);
  if (st == CUDA_SUCCESS) st = alloc(&p, 1 << 20);
  const double total_us = us_since(t0);
  if (st != CUDA_SUCCESS) {
    std::printf("FAIL: attach failed with CUresult %d\n", static_cast<int>(st));
    return 1;
  }
  free_mem(p);
  std::printf("{\"bench\":\"attach\",\"init_us\":%.1f,\"alloc_us\":%.1f,\"total_us\":%.1f}\n", init_us,
              total_us - init_us, total_us);
  return 0;
}
