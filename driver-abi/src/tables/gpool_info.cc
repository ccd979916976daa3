// gpool's own export table (gpool/driver_abi/info_table.h): the status of every entry point,
// computed from link-time facts (which gpool_impl_ symbols the backend defined).
#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/info_table.h"
#include "exports_registry.h"
#include "tables.h"

namespace gpool::abi::tables {
namespace {

uint32_t status_of(const ExportEntry& e) {
  switch (e.kind) {
    case ExportKind::kAbi:
      return GPOOL_ENTRY_ABI;
    case ExportKind::kNoPrototype:
      return GPOOL_ENTRY_NOT_SUPPORTED;
    case ExportKind::kBackend:
      if (implemented(e.impl, e.unimpl)) return GPOOL_ENTRY_BACKEND;
      if (e.base_impl != nullptr && implemented(e.base_impl, e.base_unimpl)) {
        return GPOOL_ENTRY_PER_THREAD_FALLBACK;
      }
      return GPOOL_ENTRY_NOT_SUPPORTED;
  }
  return GPOOL_ENTRY_NOT_SUPPORTED;
}

const char* backend_name() { return gpool_backend_name(); }

size_t entry_count() { return kExportCount; }

int entry(size_t index, gpool_entry_info* out) {
  if (index >= kExportCount || out == nullptr) return 1;
  const ExportEntry& e = kExports[index];
  out->name = e.name;
  out->status = status_of(e);
  out->reserved = 0;
  out->address = e.address;
  return 0;
}

const gpool_info_table kTable = {
    sizeof(gpool_info_table), 1, backend_name, entry_count, entry, CUDA_VERSION,
};

}  // namespace

const void* gpool_info() { return &kTable; }

}  // namespace gpool::abi::tables
