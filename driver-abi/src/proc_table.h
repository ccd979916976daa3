// Internal to driver-abi: the generated cuGetProcAddress table (proc_table.cc).
//
// One row per PFN_<base>_v<version>[_ptds|_ptsz] typedef of the toolkit's cudaTypedefs.h (and
// the GL/EGL/VDPAU/Profiler typedef headers). Rows are sorted by base name (strcmp order), then
// by version, then plain before per-thread. `symbol`/`address` are null where the driver does not
// export the variant (GL, EGL, VDPAU interop): requests resolving to such a row are not found.
//
// Thread safety: constant data, read from any thread.
#pragma once

#include <cstddef>

namespace gpool::abi {

enum class PerThread { kNo, kPtds, kPtsz };

struct ProcTableRow {
  const char* base;     // name cudart asks for, e.g. "cuMemcpyHtoD"
  int version;          // CUDA version that introduced this ABI variant, e.g. 3020
  PerThread per_thread; // kNo for the plain variant, else the per-thread variant's suffix
  const char* symbol;   // exported symbol answering it, e.g. "cuMemcpyHtoD_v2"; null if none
  void* address;        // that symbol's address; null if none
};

extern const ProcTableRow kProcTable[];
extern const size_t kProcTableSize;

}  // namespace gpool::abi
