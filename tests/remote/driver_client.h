// What the remote test clients (probe.cc, copy_check.cc) share: libcuda.so.1 loaded with dlopen
// (run them with the shim first on LD_LIBRARY_PATH), driver entry points looked up by name, and
// failing fast with the error's name. Single-threaded test programs; one definition a program.
#pragma once

#include <cuda.h>
#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>

namespace remote_client {

inline void* g_lib = nullptr;  // the loaded libcuda.so.1
inline int g_failures = 0;     // checks that failed so far

// Loads libcuda.so.1; prints a FAIL line and returns false when it cannot.
inline bool load_driver() {
  g_lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (g_lib == nullptr) std::printf("FAIL: cannot load libcuda.so.1: %s\n", ::dlerror());
  return g_lib != nullptr;
}

// The entry point `name` as type F; a missing one fails the program.
template <typename F>
F sym(const char* name) {
  void* p = ::dlsym(g_lib, name);
  if (p == nullptr) {
    std::printf("FAIL: libcuda.so.1 does not export %s\n", name);
    std::exit(1);
  }
  return reinterpret_cast<F>(p);
}

// DRV(cuMemAlloc_v2) declares p_cuMemAlloc_v2, looked up once.
#define DRV(name) static auto p_##name = ::remote_client::sym<decltype(&name)>(#name)

inline const char* err_name(CUresult r) {
  DRV(cuGetErrorName);
  const char* s = nullptr;
  return p_cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "?";
}

// A call that must succeed: otherwise a FAIL line and exit 1.
inline void must(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) {
    std::printf("FAIL: %s returned %s\n", what, err_name(r));
    std::exit(1);
  }
}

}  // namespace remote_client
