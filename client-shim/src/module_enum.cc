// Shim: cuModuleGetFunctionCount / cuModuleEnumerateFunctions and cuLibraryGetKernelCount /
// cuLibraryEnumerateKernels. The server answers the kernel names (calls.toml ModuleEnumerate);
// each becomes a function or kernel handle through cuModuleGetFunction / cuLibraryGetKernel,
// so an enumerated handle is the same one a lookup by name gives. As the driver, enumeration
// fills min(count asked, count available) entries.
#include <string>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

CUresult names_of(uint64_t owner, bool library, std::vector<std::string>& out) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (owner == 0) return CUDA_ERROR_INVALID_HANDLE;
  const HandleRef h[] = {HandleRef(owner, library ? gpool::remote::HandleKind_Library
                                                  : gpool::remote::HandleKind_Module)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::ModuleEnumerate, {}, h, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() != 1) return CUDA_ERROR_UNKNOWN;
  out.clear();
  std::string cur;
  for (std::byte b : r.inline_data) {
    if (b == std::byte{0}) {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(b));
    }
  }
  if (!cur.empty() || out.size() != r.results[0]) return CUDA_ERROR_UNKNOWN;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuModuleGetFunctionCount(unsigned int* count, CUmodule mod) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::string> names;
  if (CUresult st = names_of(reinterpret_cast<uint64_t>(mod), false, names); st != CUDA_SUCCESS) return st;
  *count = static_cast<unsigned>(names.size());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleEnumerateFunctions(CUfunction* fns, unsigned int n, CUmodule mod) {
  if (fns == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::string> names;
  if (CUresult st = names_of(reinterpret_cast<uint64_t>(mod), false, names); st != CUDA_SUCCESS) return st;
  for (size_t i = 0; i < names.size() && i < n; ++i) {
    if (CUresult st = gpool_impl_cuModuleGetFunction(&fns[i], mod, names[i].c_str()); st != CUDA_SUCCESS) return st;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryGetKernelCount(unsigned int* count, CUlibrary lib) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::string> names;
  if (CUresult st = names_of(reinterpret_cast<uint64_t>(lib), true, names); st != CUDA_SUCCESS) return st;
  *count = static_cast<unsigned>(names.size());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryEnumerateKernels(CUkernel* kernels, unsigned int n, CUlibrary lib) {
  if (kernels == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<std::string> names;
  if (CUresult st = names_of(reinterpret_cast<uint64_t>(lib), true, names); st != CUDA_SUCCESS) return st;
  for (size_t i = 0; i < names.size() && i < n; ++i) {
    if (CUresult st = gpool_impl_cuLibraryGetKernel(&kernels[i], lib, names[i].c_str()); st != CUDA_SUCCESS) return st;
  }
  return CUDA_SUCCESS;
}
