// driver_api: a program that uses the CUDA driver API only (no cudart kernels). Demonstrates
// cuInit, the primary context, loading a PTX text file with cuModuleLoad and a fatbin with
// cuModuleLoadData, cuModuleGetFunction, cuModuleGetGlobal, and cuLaunchKernel with both ways of
// passing arguments: kernelParams (an array of pointers) and `extra` with
// CU_LAUNCH_PARAM_BUFFER_POINTER (one hand-packed buffer).
//
// Build: nvcc -o driver_api driver_api.cu -L$CUDA_HOME/lib64/stubs -lcuda
//        nvcc -ptx -o driver_api_kernels.ptx driver_api_kernels.cu
//        nvcc -fatbin -o driver_api_kernels.fatbin driver_api_kernels.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./driver_api driver_api_kernels.ptx driver_api_kernels.fatbin
#include <cuda.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

[[noreturn]] static void fail(const char* what, CUresult r, int line) {
  const char* name = nullptr;
  const char* text = nullptr;
  cuGetErrorName(r, &name);
  cuGetErrorString(r, &text);
  std::printf("FAIL: %s returned %s (%s) at line %d\n", what, name ? name : "?", text ? text : "?", line);
  std::exit(1);
}

#define DRV(call)                                  \
  do {                                             \
    CUresult drv_r_ = (call);                      \
    if (drv_r_ != CUDA_SUCCESS) fail(#call, drv_r_, __LINE__); \
  } while (0)

[[noreturn]] static void fail_msg(const char* message) {
  std::printf("FAIL: %s\n", message);
  std::exit(1);
}

static std::vector<char> read_file(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::printf("FAIL: cannot read %s\n", path);
    std::exit(1);
  }
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Runs saxpy and mixed from `module`; `use_extra` selects how arguments are passed.
static void exercise(CUmodule module, bool use_extra, const char* what) {
  CUfunction saxpy = nullptr, mixed = nullptr;
  DRV(cuModuleGetFunction(&saxpy, module, "saxpy"));
  DRV(cuModuleGetFunction(&mixed, module, "mixed"));
  CUfunction missing = nullptr;
  if (cuModuleGetFunction(&missing, module, "no_such_kernel") != CUDA_ERROR_NOT_FOUND)
    fail_msg("cuModuleGetFunction of a missing kernel did not return CUDA_ERROR_NOT_FOUND");

  CUdeviceptr launches = 0;
  size_t launches_size = 0;
  DRV(cuModuleGetGlobal(&launches, &launches_size, module, "launches"));
  if (launches_size != sizeof(unsigned)) fail_msg("cuModuleGetGlobal gave the wrong size for launches");
  DRV(cuMemsetD32(launches, 0, 1));

  const int n = 5000;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = static_cast<float>(i);
    y[i] = static_cast<float>(2 * i);
  }
  CUdeviceptr d_x = 0, d_y = 0, d_i = 0, d_d = 0;
  DRV(cuMemAlloc(&d_x, n * sizeof(float)));
  DRV(cuMemAlloc(&d_y, n * sizeof(float)));
  DRV(cuMemAlloc(&d_i, sizeof(int)));
  DRV(cuMemAlloc(&d_d, sizeof(double)));
  DRV(cuMemcpyHtoD(d_x, x.data(), n * sizeof(float)));
  DRV(cuMemcpyHtoD(d_y, y.data(), n * sizeof(float)));

  float a = 3.0f;
  int count = n;
  char c = 5;
  double d = 1.25;
  short s = -300;
  const unsigned blocks = (n + 255) / 256;
  if (!use_extra) {
    void* saxpy_args[] = {&a, &d_x, &d_y, &count};
    DRV(cuLaunchKernel(saxpy, blocks, 1, 1, 256, 1, 1, 0, nullptr, saxpy_args, nullptr));
    void* mixed_args[] = {&c, &d, &s, &d_i, &d_d};
    DRV(cuLaunchKernel(mixed, 1, 1, 1, 32, 1, 1, 0, nullptr, mixed_args, nullptr));
  } else {
    alignas(8) unsigned char saxpy_buf[28] = {};
    std::memcpy(saxpy_buf + 0, &a, sizeof(a));
    std::memcpy(saxpy_buf + 8, &d_x, sizeof(d_x));
    std::memcpy(saxpy_buf + 16, &d_y, sizeof(d_y));
    std::memcpy(saxpy_buf + 24, &count, sizeof(count));
    size_t saxpy_size = sizeof(saxpy_buf);
    void* saxpy_extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, saxpy_buf, CU_LAUNCH_PARAM_BUFFER_SIZE,
                           &saxpy_size, CU_LAUNCH_PARAM_END};
    DRV(cuLaunchKernel(saxpy, blocks, 1, 1, 256, 1, 1, 0, nullptr, nullptr, saxpy_extra));

    alignas(8) unsigned char mixed_buf[40] = {};
    std::memcpy(mixed_buf + 0, &c, sizeof(c));
    std::memcpy(mixed_buf + 8, &d, sizeof(d));
    std::memcpy(mixed_buf + 16, &s, sizeof(s));
    std::memcpy(mixed_buf + 24, &d_i, sizeof(d_i));
    std::memcpy(mixed_buf + 32, &d_d, sizeof(d_d));
    size_t mixed_size = sizeof(mixed_buf);
    void* mixed_extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, mixed_buf, CU_LAUNCH_PARAM_BUFFER_SIZE,
                           &mixed_size, CU_LAUNCH_PARAM_END};
    DRV(cuLaunchKernel(mixed, 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, mixed_extra));
  }
  DRV(cuCtxSynchronize());

  DRV(cuMemcpyDtoH(y.data(), d_y, n * sizeof(float)));
  int out_i = 0;
  double out_d = 0.0;
  unsigned launch_count = 0;
  DRV(cuMemcpyDtoH(&out_i, d_i, sizeof(out_i)));
  DRV(cuMemcpyDtoH(&out_d, d_d, sizeof(out_d)));
  DRV(cuMemcpyDtoH(&launch_count, launches, sizeof(launch_count)));
  for (int i = 0; i < n; ++i) {
    const float want = 3.0f * static_cast<float>(i) + static_cast<float>(2 * i);
    if (y[i] != want) {
      std::printf("FAIL: %s: saxpy y[%d] = %g, expected %g\n", what, i, y[i], want);
      std::exit(1);
    }
  }
  if (out_i != 5 - 300) {
    std::printf("FAIL: %s: mixed out_i = %d, expected -295\n", what, out_i);
    std::exit(1);
  }
  if (out_d != 7.5) {
    std::printf("FAIL: %s: mixed out_d = %g, expected 7.5\n", what, out_d);
    std::exit(1);
  }
  if (launch_count != 2) {
    std::printf("FAIL: %s: launches = %u, expected 2\n", what, launch_count);
    std::exit(1);
  }
  DRV(cuMemFree(d_x));
  DRV(cuMemFree(d_y));
  DRV(cuMemFree(d_i));
  DRV(cuMemFree(d_d));
  std::printf("%s: ok\n", what);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    std::printf("FAIL: usage: %s <kernels.ptx> <kernels.fatbin>\n", argv[0]);
    return 1;
  }
  DRV(cuInit(0));
  int driver_version = 0;
  DRV(cuDriverGetVersion(&driver_version));
  CUdevice dev = 0;
  DRV(cuDeviceGet(&dev, 0));
  char name[256] = {};
  DRV(cuDeviceGetName(name, sizeof(name), dev));
  std::printf("driver %d, device %s\n", driver_version, name);

  CUcontext ctx = nullptr;
  DRV(cuDevicePrimaryCtxRetain(&ctx, dev));
  DRV(cuCtxSetCurrent(ctx));

  CUmodule from_ptx = nullptr;
  DRV(cuModuleLoad(&from_ptx, argv[1]));
  exercise(from_ptx, false, "ptx file, kernelParams");
  exercise(from_ptx, true, "ptx file, extra buffer");

  const std::vector<char> fatbin = read_file(argv[2]);
  CUmodule from_fatbin = nullptr;
  DRV(cuModuleLoadData(&from_fatbin, fatbin.data()));
  exercise(from_fatbin, true, "fatbin data, extra buffer");
  exercise(from_fatbin, false, "fatbin data, kernelParams");

  DRV(cuModuleUnload(from_ptx));
  DRV(cuModuleUnload(from_fatbin));
  DRV(cuDevicePrimaryCtxRelease(dev));
  std::puts("PASS");
  return 0;
}
