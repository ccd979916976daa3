// Worker: the kernel names of a module or library (calls.toml ModuleEnumerate), for the shim's
// cuModuleGetFunctionCount/EnumerateFunctions and cuLibraryGetKernelCount/EnumerateKernels. The
// shim turns each name into its own function id with ModuleGetFunction / LibraryGetKernel, so
// no driver handle leaves the server.
#include "worker.h"

namespace gpool::server {

CUresult Worker::op_module_enumerate(Ctx& c) {
  ModuleEnumerateArgs a;
  if (!decode_args(c, a) || c.handle_count() != 1) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = c.handle_id(0);
  std::vector<const char*> names;
  if (c.handle_kind(0) == protocol::wire::HandleKind_Library) {
    const CUlibrary lib = modules_.library(id);
    if (lib == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    unsigned n = 0;
    if (CUresult st = drv_.cuLibraryGetKernelCount(&n, lib); st != CUDA_SUCCESS) return st;
    std::vector<CUkernel> ks(n);
    if (n > 0) {
      if (CUresult st = drv_.cuLibraryEnumerateKernels(ks.data(), n, lib); st != CUDA_SUCCESS) return st;
    }
    for (CUkernel k : ks) {
      const char* name = nullptr;
      if (CUresult st = drv_.cuKernelGetName(&name, k); st != CUDA_SUCCESS) return st;
      names.push_back(name);
    }
  } else if (c.handle_kind(0) == protocol::wire::HandleKind_Module) {
    const CUmodule mod = modules_.module(id);
    if (mod == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    unsigned n = 0;
    if (CUresult st = drv_.cuModuleGetFunctionCount(&n, mod); st != CUDA_SUCCESS) return st;
    std::vector<CUfunction> fs(n);
    if (n > 0) {
      if (CUresult st = drv_.cuModuleEnumerateFunctions(fs.data(), n, mod); st != CUDA_SUCCESS) return st;
    }
    for (CUfunction f : fs) {
      const char* name = nullptr;
      if (CUresult st = drv_.cuFuncGetName(&name, f); st != CUDA_SUCCESS) return st;
      names.push_back(name);
    }
  } else {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  for (const char* name : names) {
    const auto* b = reinterpret_cast<const std::byte*>(name != nullptr ? name : "");
    c.inline_out.insert(c.inline_out.end(), b, b + std::char_traits<char>::length(name != nullptr ? name : ""));
    c.inline_out.push_back(std::byte{0});
  }
  c.results = {names.size()};
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
