// The driver backend a worker executes calls on: a libcuda.so.1 loaded with dlopen (the real
// NVIDIA driver on GPU nodes, or gpool's emulator). Only the exact exported entry points listed
// by the call table are used, resolved by name with dlsym.
//
// Ownership: a Driver is owned by one worker process and never unloaded (driver libraries do
// not support dlclose). Thread safety: the function pointers are constant after load().
#pragma once

#include <cuda.h>

#include <string>

#include "calls_backend.h"

namespace gpool::server {

// GPOOL_DRIVER_FUNCS(X): every entry point the worker calls, generated from the call table
// (protocol/calls/calls.toml: its backend_symbols plus each pass-through row's symbol).
struct Driver {
// Deprecated entry points (cuCtxSetSharedMemConfig, ...) are forwarded like any other.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#define GPOOL_DRIVER_MEMBER(name) decltype(&::name) name = nullptr;
  GPOOL_DRIVER_FUNCS(GPOOL_DRIVER_MEMBER)
#undef GPOOL_DRIVER_MEMBER
#pragma GCC diagnostic pop

  // dlopens `path` and resolves every entry point. Returns false with `error` naming the
  // library and the first missing symbol.
  bool load(const std::string& path, std::string& error);
};

}  // namespace gpool::server
