#include "cuda_api.h"

#include <dlfcn.h>

namespace diff {

#define DIFF_STR2(x) #x
#define DIFF_STR(x) DIFF_STR2(x)  // expands cuda.h's version macros first: "cuMemAlloc_v2"

bool CudaApi::load(const std::string& path, std::string& error) {
  void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = ::dlerror();
    error = "cannot load " + path + ": " + (why ? why : "unknown dlopen error");
    return false;
  }
#define DIFF_LOOKUP(name)                                                                  \
  name = reinterpret_cast<decltype(name)>(::dlsym(lib, DIFF_STR(name)));                   \
  if (name == nullptr) {                                                                   \
    error = path + " does not export " DIFF_STR(name);                                     \
    return false;                                                                          \
  }
  DIFF_DRIVER_CALLS(DIFF_LOOKUP)
#undef DIFF_LOOKUP
  return true;
}

std::string CudaApi::error_name(CUresult r) const {
  const char* s = nullptr;
  if (cuGetErrorName != nullptr && cuGetErrorName(r, &s) == CUDA_SUCCESS && s != nullptr) return s;
  return "CUresult " + std::to_string(static_cast<int>(r));
}

CudaApi& api() {
  static CudaApi instance;
  return instance;
}

}  // namespace diff
