// The per-thread default stream flag set while a _ptds/_ptsz entry point runs a base
// implementation (see backend.h).
#include "exports_registry.h"
#include "gpool/driver_abi/backend.h"

namespace gpool::abi {
namespace {
thread_local int t_per_thread_depth = 0;
}  // namespace

bool per_thread_default_stream() { return t_per_thread_depth > 0; }

PerThreadDefaultStreamScope::PerThreadDefaultStreamScope() { ++t_per_thread_depth; }
PerThreadDefaultStreamScope::~PerThreadDefaultStreamScope() { --t_per_thread_depth; }

}  // namespace gpool::abi
