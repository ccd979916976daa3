// Shim: cuLibraryGetModule (calls.toml LibraryGetModule, server/src/worker_module_alias.cc).
//
// The shim proposes a new module id; the server answers with it, or with the id this library's
// module already has, so the program gets one handle per library as from the driver. The module
// id works with every module call (cuModuleGetFunction, cuModuleGetGlobal, enumeration);
// cuModuleUnload of it is CUDA_ERROR_INVALID_HANDLE (it goes with the library).
// Thread safety: may be called from any thread.
#include <mutex>
#include <unordered_map>

#include "state.h"

using namespace gpool::shim;

namespace {

// Library id -> the module id the server gave its module, so that the functions looked up
// through that module leave the shim's cache with the library (drop_library_module).
std::mutex g_mu;
std::unordered_map<uint64_t, uint64_t>& library_modules() {
  static auto* m = new std::unordered_map<uint64_t, uint64_t>();
  return *m;
}

}  // namespace

void gpool::shim::drop_library_module(uint64_t library) {
  uint64_t module = 0;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = library_modules().find(library);
    if (it == library_modules().end()) return;
    module = it->second;
    library_modules().erase(it);
  }
  drop_functions_of(module);
}

extern "C" CUresult gpool_impl_cuLibraryGetModule(CUmodule* out, CUlibrary lib) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {HandleRef(reinterpret_cast<uint64_t>(lib), gpool::remote::HandleKind_Library),
                         HandleRef(new_id(IdKind::kModule), gpool::remote::HandleKind_Module)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::LibraryGetModule, {}, h, {}, {}, &r); st != CUDA_SUCCESS) return st;
  if (r.results.size() != 1) return CUDA_ERROR_UNKNOWN;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    library_modules()[reinterpret_cast<uint64_t>(lib)] = r.results[0];
  }
  *out = reinterpret_cast<CUmodule>(r.results[0]);
  return CUDA_SUCCESS;
}
