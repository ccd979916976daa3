#include "ucx_api.h"

#include <dlfcn.h>
#include <stdlib.h>

#include <fmt/format.h>

namespace gpool::transport::ucx {
namespace {

struct Loaded {
  Api api;
  std::string error;  // empty when every entry point resolved
};

Loaded load() {
  Loaded out;
#if defined(__SANITIZE_ADDRESS__)
  // UCX's memory hooks (libucm), installed when UCX is opened after start-up, make
  // LeakSanitizer's tracer fault at exit; sanitizer builds run without them unless the
  // environment says otherwise (UCX then works without its registration-cache events).
  ::setenv("UCX_MEM_EVENTS", "no", 0);
#endif
  void* ucs = ::dlopen("libucs.so.0", RTLD_NOW | RTLD_GLOBAL);
  void* ucp = ucs != nullptr ? ::dlopen("libucp.so.0", RTLD_NOW | RTLD_GLOBAL) : nullptr;
  if (ucp == nullptr) {
    const char* why = ::dlerror();
    out.error = fmt::format("ucx:// needs UCX's libucp.so.0 and libucs.so.0, which cannot be loaded ({}); "
                            "install UCX (Debian: libucx0) or use tcp://", why != nullptr ? why : "not found");
    return out;
  }
  auto resolve = [&](void* lib, const char* name, auto& slot) {
    if (!out.error.empty()) return;
    void* p = ::dlsym(lib, name);
    if (p == nullptr) {
      out.error = fmt::format("ucx:// cannot use the installed UCX: {} lacks {}; install UCX 1.12 or newer "
                              "or use tcp://", lib == ucp ? "libucp.so.0" : "libucs.so.0", name);
      return;
    }
    slot = reinterpret_cast<std::remove_reference_t<decltype(slot)>>(p);
  };
#define GPOOL_UCP_RESOLVE(name) resolve(ucp, #name, out.api.name);
#define GPOOL_UCS_RESOLVE(name) resolve(ucs, #name, out.api.name);
  GPOOL_UCP_FUNCS(GPOOL_UCP_RESOLVE)
  GPOOL_UCS_FUNCS(GPOOL_UCS_RESOLVE)
#undef GPOOL_UCP_RESOLVE
#undef GPOOL_UCS_RESOLVE
  // The libraries stay loaded for the life of the process (UCX does not support unloading).
  return out;
}

}  // namespace

const Api* api(std::string* error) {
  static const Loaded* loaded = new Loaded(load());  // never destroyed: used from exit paths
  if (!loaded->error.empty()) {
    if (error != nullptr) *error = loaded->error;
    return nullptr;
  }
  return &loaded->api;
}

}  // namespace gpool::transport::ucx
