// gpool's own export table: which entry points this libcuda.so.1 really implements.
//
// Reach it with cuGetExportTable(&table, &kGpoolInfoTableUuid). The UUID is the 16 ASCII bytes
// "gpool:abi:info:1" (67 70 6f 6f 6c 3a 61 62 69 3a 69 6e 66 6f 3a 31); a real NVIDIA driver
// refuses it, which is how a tool tells gpool from NVIDIA. The layout is a plain C struct of
// pointer-sized fields, slot 0 = its size in bytes like NVIDIA's tables. Later versions only
// append fields; check `size` before reading a field.
//
// Used by tools/gpool_compat.cc (docs/compatibility.md) and by tests.
// Thread safety: the table is constant; its functions may be called from any thread.
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// "gpool:abi:info:1"
#define GPOOL_INFO_TABLE_UUID_BYTES \
  {0x67, 0x70, 0x6f, 0x6f, 0x6c, 0x3a, 0x61, 0x62, 0x69, 0x3a, 0x69, 0x6e, 0x66, 0x6f, 0x3a, 0x31}

enum gpool_entry_status {
  GPOOL_ENTRY_NOT_SUPPORTED = 0,        // returns CUDA_ERROR_NOT_SUPPORTED
  GPOOL_ENTRY_BACKEND = 1,              // implemented by the backend (gpool_impl_<name>)
  GPOOL_ENTRY_ABI = 2,                  // answered by driver-abi itself
  GPOOL_ENTRY_PER_THREAD_FALLBACK = 3,  // _ptds/_ptsz running the backend's base implementation
};

struct gpool_entry_info {
  const char* name;  // exported symbol, e.g. "cuMemAlloc_v2"
  uint32_t status;   // enum gpool_entry_status
  uint32_t reserved;
  void* address;     // the exported function
};

struct gpool_info_table {
  size_t size;                          // sizeof(struct gpool_info_table)
  size_t abi_version;                   // 1
  const char* (*backend_name)(void);    // "emulator", "shim", ...
  size_t (*entry_count)(void);          // number of exported entry points
  // Fills *out for entry `index` (0 <= index < entry_count()) and returns 0; 1 if out of range.
  int (*entry)(size_t index, struct gpool_entry_info* out);
  int cuda_header_version;              // CUDA_VERSION of the cuda.h the abi was generated from
};

#ifdef __cplusplus
}  // extern "C"
#endif
