// Minimal stand-ins for the cudart registration hooks an nvcc-compiled host
// object calls from its static constructor. They record the
// __fatBinC_Wrapper_t pointer exactly as cudart would receive it (after the
// dynamic linker relocated it), so the loader can be tested on the real thing.
#include "cudart_stubs.h"

#include <cstddef>

namespace {
std::vector<const void*>& wrappers() {
  static std::vector<const void*> v;
  return v;
}
void* g_handle = nullptr;
}  // namespace

const std::vector<const void*>& captured_fatbin_wrappers() { return wrappers(); }

extern "C" {
void** __cudaRegisterFatBinary(void* wrapper) {
  wrappers().push_back(wrapper);
  return &g_handle;
}
void __cudaRegisterFatBinaryEnd(void**) {}
void __cudaUnregisterFatBinary(void**) {}
void __cudaRegisterFunction(void**, const char*, char*, const char*, int, void*, void*, void*, void*, int*) {}
void __cudaRegisterVar(void**, char*, char*, const char*, int, std::size_t, int, int) {}
char __cudaInitModule(void**) { return 0; }
// Never reached: the tests do not launch.
int __cudaGetKernel(void**, const void*) { return 1; }
int __cudaLaunchKernel(const void*, ...) { return 1; }
unsigned __cudaPopCallConfiguration(void*, void*, void*, void*) { return 1; }
}
