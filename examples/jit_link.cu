// jit_link: JIT linking with the driver API. Links relocatable device code from two inputs,
// the kernel's PTX (cuLinkAddFile) and the extern device function it calls, once as PTX
// (cuLinkAddData) and once as a fatbin, with CU_JIT_MAX_REGISTERS = 32, the info and error log
// buffers, CU_JIT_LOG_VERBOSE and CU_JIT_WALL_TIME; loads the linked image, checks NUM_REGS and
// MAX_THREADS_PER_BLOCK follow the register cap, runs the kernel against a host reference, and
// checks the failures: an unresolved extern (error log names it), a SASS-only input.
// Also cuModuleLoadDataEx with CU_JIT_MAX_REGISTERS / CU_JIT_THREADS_PER_BLOCK on one PTX.
//
// Build: nvcc -o jit_link jit_link.cu -L$CUDA_HOME/lib64/stubs -lcuda
//        nvcc -rdc=true -ptx -o jit_link_kernels.ptx jit_link_kernels.cu (and jit_link_lib.cu:
//        -ptx -> jit_link_lib.ptx, -fatbin -> jit_link_lib.fatbin, -cubin -> jit_link_lib.cubin)
// Run:   ./jit_link <dir holding those files>
#include <cuda.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

[[noreturn]] static void fail(const char* what, CUresult r, int line) {
  const char* name = nullptr;
  cuGetErrorName(r, &name);
  std::printf("FAIL: %s returned %s at line %d\n", what, name ? name : "?", line);
  std::exit(1);
}
#define DRV(call)                                              \
  do {                                                         \
    CUresult drv_r_ = (call);                                  \
    if (drv_r_ != CUDA_SUCCESS) fail(#call, drv_r_, __LINE__); \
  } while (0)
[[noreturn]] static void fail_msg(const std::string& m) {
  std::printf("FAIL: %s\n", m.c_str());
  std::exit(1);
}

static std::string dir;
static std::string path(const char* f) { return dir + "/" + f; }
static std::vector<char> read_file(const std::string& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) fail_msg("cannot read " + p);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

static float polish_ref(float x, int terms) {
  for (int t = 0; t < terms; ++t) x = x * 0.5f + 1.0f;
  return x;
}
static float heavy_ref(const std::vector<float>& in, int i) {
  const int n = static_cast<int>(in.size());
  float acc[48];
  for (int k = 0; k < 48; ++k) acc[k] = in[(i + k) % n] * (k + 1);
  for (int r = 0; r < 4; ++r)
    for (int k = 0; k < 48; ++k) acc[k] = acc[k] * 0.5f + acc[(k + 1) % 48];
  float s = 0.0f;
  for (int k = 0; k < 48; ++k) s += acc[k];
  return polish_ref(s, 3);
}

static void run_heavy(CUmodule mod, const char* what) {
  CUfunction f = nullptr;
  DRV(cuModuleGetFunction(&f, mod, "heavy"));
  const int n = 777;
  std::vector<float> in(n), out(n);
  for (int i = 0; i < n; ++i) in[i] = static_cast<float>(i % 13) - 6.0f;
  CUdeviceptr d_in = 0, d_out = 0;
  DRV(cuMemAlloc(&d_in, n * sizeof(float)));
  DRV(cuMemAlloc(&d_out, n * sizeof(float)));
  DRV(cuMemcpyHtoD(d_in, in.data(), n * sizeof(float)));
  int count = n;
  void* args[] = {&d_in, &d_out, &count};
  DRV(cuLaunchKernel(f, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, args, nullptr));
  DRV(cuCtxSynchronize());
  DRV(cuMemcpyDtoH(out.data(), d_out, n * sizeof(float)));
  for (int i = 0; i < n; ++i) {
    const float want = heavy_ref(in, i);
    if (std::fabs(out[i] - want) > 1e-3f * std::fmax(1.0f, std::fabs(want)))
      fail_msg(std::string(what) + ": out[" + std::to_string(i) + "] = " + std::to_string(out[i]) + ", expected " +
               std::to_string(want));
  }
  DRV(cuMemFree(d_in));
  DRV(cuMemFree(d_out));
}

static int attr(CUfunction_attribute a, CUmodule mod) {
  CUfunction f = nullptr;
  DRV(cuModuleGetFunction(&f, mod, "heavy"));
  int v = 0;
  DRV(cuFuncGetAttribute(&v, a, f));
  return v;
}

// Links the kernel's PTX with the library given as `lib_type` from `lib_file`; returns the module.
static CUmodule link_and_load(CUjitInputType lib_type, const char* lib_file, const char* what) {
  char info[4096] = {}, error[4096] = {};
  float wall_ms = -1.0f;
  CUjit_option opts[] = {CU_JIT_MAX_REGISTERS,          CU_JIT_INFO_LOG_BUFFER,  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES,
                         CU_JIT_ERROR_LOG_BUFFER,       CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE,
                         CU_JIT_WALL_TIME};
  void* vals[] = {reinterpret_cast<void*>(uintptr_t{32}), info, reinterpret_cast<void*>(uintptr_t{sizeof info}),
                  error, reinterpret_cast<void*>(uintptr_t{sizeof error}), reinterpret_cast<void*>(uintptr_t{1}),
                  nullptr};
  CUlinkState state = nullptr;
  DRV(cuLinkCreate(7, opts, vals, &state));
  DRV(cuLinkAddFile(state, CU_JIT_INPUT_PTX, path("jit_link_kernels.ptx").c_str(), 0, nullptr, nullptr));
  std::vector<char> lib = read_file(path(lib_file));
  if (lib_type == CU_JIT_INPUT_PTX) lib.push_back('\0');
  DRV(cuLinkAddData(state, lib_type, lib.data(), lib.size(), lib_file, 0, nullptr, nullptr));
  void* image = nullptr;
  size_t image_size = 0;
  DRV(cuLinkComplete(state, &image, &image_size));
  if (image == nullptr || image_size == 0) fail_msg(std::string(what) + ": cuLinkComplete returned no image");
  const size_t info_used = reinterpret_cast<uintptr_t>(vals[2]);
  if (info_used == 0 || info_used != std::strlen(info) + 1)
    fail_msg(std::string(what) + ": info log size out " + std::to_string(info_used) + " does not match the log '" +
             info + "'");
  if (reinterpret_cast<uintptr_t>(vals[4]) > 1 || error[0] != '\0')
    fail_msg(std::string(what) + ": error log of a successful link is not empty: " + error);
  std::memcpy(&wall_ms, &vals[6], sizeof wall_ms);
  if (!(wall_ms >= 0.0f)) fail_msg(std::string(what) + ": CU_JIT_WALL_TIME not written");
  CUmodule mod = nullptr;
  DRV(cuModuleLoadData(&mod, image));  // the image must outlive cuLinkDestroy only until loaded
  DRV(cuLinkDestroy(state));
  std::printf("%s: linked %zu bytes in %.3f ms; info log:\n%s", what, image_size, wall_ms, info);
  return mod;
}

int main(int argc, char** argv) {
  if (argc < 2) fail_msg("usage: jit_link <dir with jit_link_kernels.ptx, jit_link_lib.{ptx,fatbin,cubin}>");
  dir = argv[1];
  DRV(cuInit(0));
  CUdevice dev = 0;
  DRV(cuDeviceGet(&dev, 0));
  CUcontext ctx = nullptr;
  DRV(cuDevicePrimaryCtxRetain(&ctx, dev));
  DRV(cuCtxSetCurrent(ctx));

  // The kernel alone, no options: its own register demand (above 32).
  std::vector<char> kernels = read_file(path("jit_link_kernels.ptx"));
  kernels.push_back('\0');

  struct Case {
    CUjitInputType type;
    const char* file;
    const char* what;
  };
  for (const Case& c : {Case{CU_JIT_INPUT_PTX, "jit_link_lib.ptx", "PTX + PTX"},
                        Case{CU_JIT_INPUT_FATBINARY, "jit_link_lib.fatbin", "PTX + fatbin"}}) {
    const CUjitInputType type = c.type;
    const char* file = c.file;
    const char* what = c.what;
    CUmodule mod = link_and_load(type, file, what);
    const int regs = attr(CU_FUNC_ATTRIBUTE_NUM_REGS, mod);
    const int max_threads = attr(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, mod);
    if (regs > 32 || regs < 16) fail_msg(std::string(what) + ": NUM_REGS = " + std::to_string(regs) + ", expected 16..32");
    if (max_threads != 1024) fail_msg(std::string(what) + ": MAX_THREADS_PER_BLOCK = " + std::to_string(max_threads));
    run_heavy(mod, what);
    DRV(cuModuleUnload(mod));
  }

  // An unresolved extern: cuLinkComplete fails and the error log names the symbol.
  {
    char error[2048] = {};
    CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
    void* vals[] = {error, reinterpret_cast<void*>(uintptr_t{sizeof error})};
    CUlinkState state = nullptr;
    DRV(cuLinkCreate(2, opts, vals, &state));
    DRV(cuLinkAddData(state, CU_JIT_INPUT_PTX, kernels.data(), kernels.size(), "kernels", 0, nullptr, nullptr));
    void* image = nullptr;
    size_t size = 0;
    const CUresult r = cuLinkComplete(state, &image, &size);
    if (r == CUDA_SUCCESS) fail_msg("linking with an unresolved extern function succeeded");
    if (std::strstr(error, "polish") == nullptr) fail_msg(std::string("error log does not name the symbol: ") + error);
    std::printf("unresolved extern refused as expected; error log: %s", error);
    // A SASS-only input cannot be linked by an interpreter: refused, named in the log.
    std::vector<char> cubin = read_file(path("jit_link_lib.cubin"));
    const CUresult rs = cuLinkAddData(state, CU_JIT_INPUT_CUBIN, cubin.data(), cubin.size(), "sass", 0, nullptr, nullptr);
    DRV(cuLinkDestroy(state));
    // A real driver links SASS of its own architecture; the emulator has none to run.
    if (rs != CUDA_SUCCESS && rs != CUDA_ERROR_NO_BINARY_FOR_GPU)
      fail("cuLinkAddData(SASS cubin)", rs, __LINE__);
  }

  // cuModuleLoadDataEx honours CU_JIT_MAX_REGISTERS and CU_JIT_THREADS_PER_BLOCK: an image linked
  // without options, loaded without and with them.
  {
    std::vector<char> lib = read_file(path("jit_link_lib.ptx"));
    lib.push_back('\0');
    CUlinkState state = nullptr;
    DRV(cuLinkCreate(0, nullptr, nullptr, &state));
    DRV(cuLinkAddData(state, CU_JIT_INPUT_PTX, kernels.data(), kernels.size(), "kernels", 0, nullptr, nullptr));
    DRV(cuLinkAddData(state, CU_JIT_INPUT_PTX, lib.data(), lib.size(), "lib", 0, nullptr, nullptr));
    void* image = nullptr;
    size_t size = 0;
    DRV(cuLinkComplete(state, &image, &size));
    CUmodule uncapped = nullptr;
    DRV(cuModuleLoadData(&uncapped, image));
    const int own = attr(CU_FUNC_ATTRIBUTE_NUM_REGS, uncapped);
    DRV(cuModuleUnload(uncapped));
    if (own <= 32) fail_msg("the kernel's own register count " + std::to_string(own) + " is not above 32; the cap would not show");
    CUjit_option opts[] = {CU_JIT_MAX_REGISTERS};
    void* vals[] = {reinterpret_cast<void*>(uintptr_t{24})};
    CUmodule capped = nullptr;
    DRV(cuModuleLoadDataEx(&capped, image, 1, opts, vals));
    if (attr(CU_FUNC_ATTRIBUTE_NUM_REGS, capped) != 24)
      fail_msg("cuModuleLoadDataEx(MAX_REGISTERS=24): NUM_REGS = " + std::to_string(attr(CU_FUNC_ATTRIBUTE_NUM_REGS, capped)));
    run_heavy(capped, "MAX_REGISTERS=24");
    DRV(cuModuleUnload(capped));
    CUjit_option topts[] = {CU_JIT_THREADS_PER_BLOCK};
    void* tvals[] = {reinterpret_cast<void*>(uintptr_t{1024})};
    CUmodule by_threads = nullptr;
    DRV(cuModuleLoadDataEx(&by_threads, image, 1, topts, tvals));
    if (reinterpret_cast<uintptr_t>(tvals[0]) != 1024) fail_msg("CU_JIT_THREADS_PER_BLOCK out value changed");
    if (attr(CU_FUNC_ATTRIBUTE_NUM_REGS, by_threads) > 64 ||
        attr(CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, by_threads) != 1024)
      fail_msg("CU_JIT_THREADS_PER_BLOCK=1024 did not make a 1024-thread block fit");
    DRV(cuModuleUnload(by_threads));
    // An option number outside CUjit_option is refused.
    CUjit_option bad[] = {static_cast<CUjit_option>(9999)};
    void* bad_vals[] = {nullptr};
    CUmodule none = nullptr;
    if (cuModuleLoadDataEx(&none, image, 1, bad, bad_vals) != CUDA_ERROR_INVALID_VALUE)
      fail_msg("an unknown JIT option was not refused with CUDA_ERROR_INVALID_VALUE");
    DRV(cuLinkDestroy(state));
    std::printf("own registers %d; capped 24; THREADS_PER_BLOCK=1024 fits\n", own);
  }
  DRV(cuDevicePrimaryCtxRelease(dev));
  std::puts("PASS");
  return 0;
}
