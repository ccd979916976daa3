// Worker: a library's module (calls.toml LibraryGetModule, op 414) for cuLibraryGetModule.
//
// The module belongs to its library: it gets a client module id (the one the shim proposed, or
// the one this library's module already has, so that the program sees one handle as with the
// driver) in the module table, usable with every module call (functions, globals, enumeration), and is
// recorded in library_modules_. ModuleUnload of such an id is CUDA_ERROR_INVALID_HANDLE (the
// emulator's answer: a library's module goes with the library; a driver would free what the
// library still uses), and LibraryUnload drops the id (worker_module.cc).
#include "worker.h"

namespace gpool::server {

CUresult Worker::op_library_get_module(Ctx& c) {
  LibraryGetModuleArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  if (c.handle_count() != 2 || c.handle_kind(0) != protocol::wire::HandleKind_Library ||
      c.handle_kind(1) != protocol::wire::HandleKind_Module) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  const uint64_t lib_id = c.handle_id(0), id = c.handle_id(1);
  const CUlibrary lib = modules_.library(lib_id);
  if (lib == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  for (auto it = library_modules_.begin(); it != library_modules_.end(); ++it) {
    if (it->second != lib_id) continue;
    if (modules_.module(it->first) != nullptr) {
      c.results = {it->first};
      return CUDA_SUCCESS;
    }
    library_modules_.erase(it);  // dropped by a device reset: look it up again
    break;
  }
  if (!modules_.image_id_free(id)) return CUDA_ERROR_INVALID_HANDLE;
  CUmodule mod = nullptr;
  if (CUresult st = drv_.cuLibraryGetModule(&mod, lib); st != CUDA_SUCCESS) return st;
  modules_.add_module(id, mod, modules_.library_device(lib_id, current_));
  library_modules_[id] = lib_id;
  c.results = {id};
  return CUDA_SUCCESS;
}

void Worker::forget_library_modules(uint64_t lib_id) {
  for (auto it = library_modules_.begin(); it != library_modules_.end();) {
    if (it->second == lib_id) {
      modules_.erase_module(it->first);  // no charge of its own: the library's globals are the library's
      it = library_modules_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace gpool::server
