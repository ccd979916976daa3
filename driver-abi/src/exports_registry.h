// Internal to driver-abi: the registry of exported entry points (generated into exports.cc) and
// the scope used by the per-thread default stream fallback.
//
// Thread safety: kExports is constant after static initialisation; read it from any thread.
#pragma once

#include <cstddef>

namespace gpool::abi {

enum class ExportKind {
  kBackend,      // forwarded to gpool_impl_<name> (or, for _ptds/_ptsz, to the base as fallback)
  kAbi,          // answered by driver-abi itself
  kNoPrototype,  // exported by the driver but not declared in cuda.h: always NOT_SUPPORTED
};

struct ExportEntry {
  const char* name;   // exported symbol
  void* address;      // the exported function
  void* impl;         // &gpool_impl_<name>; nullptr unless kBackend
  void* unimpl;       // &gpool_unimpl_<name>; impl != unimpl means the backend implements it
  void* base_impl;    // for _ptds/_ptsz with a same-signature base: &gpool_impl_<base>
  void* base_unimpl;  // and &gpool_unimpl_<base>; else nullptr
  ExportKind kind;
};

// True when the backend's gpool_impl_<S> (impl) is not driver-abi's default (unimpl). The
// compiler may assume two distinct functions never share an address and fold `&a != &b` to
// true; the empty asm hides the value so the comparison happens at run time, after the linker
// has decided between the weak default and the backend's strong definition.
inline bool implemented(const void* impl, const void* unimpl) {
  asm("" : "+r"(impl));
  return impl != unimpl;
}

extern const ExportEntry kExports[];
extern const size_t kExportCount;

// Makes per_thread_default_stream() true on this thread while alive. Used by exports.cc only.
class PerThreadDefaultStreamScope {
 public:
  PerThreadDefaultStreamScope();
  ~PerThreadDefaultStreamScope();
  PerThreadDefaultStreamScope(const PerThreadDefaultStreamScope&) = delete;
  PerThreadDefaultStreamScope& operator=(const PerThreadDefaultStreamScope&) = delete;
};

}  // namespace gpool::abi
