// cuGetExportTable: hands out the private tables of section 1-2 of cuda-driver-facts.md and
// gpool's own info table. Known UUID: *ppExportTable = the table (always the same pointer),
// CUDA_SUCCESS. Unknown UUID, including f8cff951... which cudart asks for first and must be
// refused: *ppExportTable = NULL, CUDA_ERROR_NOT_FOUND.
#include <cstring>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/info_table.h"
#include "tables/tables.h"

namespace {

struct KnownTable {
  unsigned char uuid[16];
  const void* (*table)();
  const char* name;
};

const KnownTable kKnown[] = {
    {{0x6b, 0xd5, 0xfb, 0x6c, 0x5b, 0xf4, 0xe7, 0x4a, 0x89, 0x87, 0xd9, 0x39, 0x12, 0xfd, 0x9d,
      0xf9},
     gpool::abi::tables::cudart_interface, "CUDART_INTERFACE"},
    {{0xa0, 0x94, 0x79, 0x8c, 0x2e, 0x74, 0x2e, 0x74, 0x93, 0xf2, 0x08, 0x00, 0x20, 0x0c, 0x0a,
      0x66},
     gpool::abi::tables::tools_runtime_callback_hooks, "TOOLS_RUNTIME_CALLBACK_HOOKS"},
    {{0x42, 0xd8, 0x5a, 0x81, 0x23, 0xf6, 0xcb, 0x47, 0x82, 0x98, 0xf6, 0xe7, 0x8a, 0x3a, 0xec,
      0xdc},
     gpool::abi::tables::tools_tls, "TOOLS_TLS"},
    {{0xc6, 0x93, 0x33, 0x6e, 0x11, 0x21, 0xdf, 0x11, 0xa8, 0xc3, 0x68, 0xf3, 0x55, 0xd8, 0x95,
      0x93},
     gpool::abi::tables::context_local_storage, "CONTEXT_LOCAL_STORAGE"},
    {{0x26, 0x3e, 0x88, 0x60, 0x7c, 0xd2, 0x61, 0x43, 0x92, 0xf6, 0xbb, 0xd5, 0x00, 0x6d, 0xfa,
      0x7e},
     gpool::abi::tables::context_checks, "CONTEXT_CHECKS"},
    {{0xd4, 0x08, 0x20, 0x55, 0xbd, 0xe6, 0x70, 0x4b, 0x8d, 0x34, 0xba, 0x12, 0x3c, 0x66, 0xe1,
      0xf2},
     gpool::abi::tables::integrity_check, "INTEGRITY_CHECK"},
    {{0x21, 0x31, 0x8c, 0x60, 0x97, 0x14, 0x32, 0x48, 0x8c, 0xa6, 0x41, 0xff, 0x73, 0x24, 0xc8,
      0xf2},
     gpool::abi::tables::cublas_private, "cuBLAS 21318c60"},
    {{0x6e, 0x16, 0x3f, 0xbe, 0xb9, 0x58, 0x44, 0x4d, 0x83, 0x5c, 0xe1, 0x82, 0xaf, 0xf1, 0x99,
      0x1e},
     gpool::abi::tables::cufft_private, "cuFFT 6e163fbe"},
    {GPOOL_INFO_TABLE_UUID_BYTES, gpool::abi::tables::gpool_info, "gpool info"},
};

}  // namespace

extern "C" __attribute__((visibility("default"))) CUresult cuGetExportTable(
    const void** ppExportTable, const CUuuid* pExportTableId) {
  if (ppExportTable == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *ppExportTable = nullptr;
  if (pExportTableId == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (const KnownTable& t : kKnown) {
    if (std::memcmp(t.uuid, pExportTableId->bytes, 16) == 0) {
      *ppExportTable = t.table();
      return CUDA_SUCCESS;
    }
  }
  const auto* b = reinterpret_cast<const unsigned char*>(pExportTableId->bytes);
  gpool::log::logger("abi").debug(
      "cuGetExportTable: refusing unknown table {:02x}{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}"
      "{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
      b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
      b[14], b[15]);
  return CUDA_ERROR_NOT_FOUND;
}
