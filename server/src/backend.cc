#include "backend.h"

#include <dlfcn.h>

#include <fmt/format.h>

namespace gpool::server {

bool Driver::load(const std::string& path, std::string& error) {
  void* lib = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    error = fmt::format("cannot load driver backend {}: {}", path, ::dlerror());
    return false;
  }
#define GPOOL_DRIVER_RESOLVE(fn)                                                       \
  fn = reinterpret_cast<decltype(fn)>(::dlsym(lib, #fn));                              \
  if (fn == nullptr) {                                                                 \
    error = fmt::format("driver backend {} does not export {}", path, #fn);            \
    return false;                                                                      \
  }
  GPOOL_DRIVER_FUNCS(GPOOL_DRIVER_RESOLVE)
#undef GPOOL_DRIVER_RESOLVE
  return true;
}

}  // namespace gpool::server
