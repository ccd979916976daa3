// The contract between driver-abi and a driver backend (the emulator, later the network shim).
//
// driver-abi is everything any `libcuda.so.1` must offer cudart: the ~640 exported `cu*` symbols
// of the CUDA 13 driver, `cuGetProcAddress`/`_v2`, `cuGetExportTable` with the private export
// tables, the integrity check, and `cuGetErrorString`/`cuGetErrorName`. A backend supplies the
// behaviour of the entry points; `gpool_add_driver_library()` (driver-abi/cmake) links the two
// into one `libcuda.so.1`.
//
// ## Implementing an entry point
//
// For every exported entry point S, impl_decls.h (generated) declares
//
//     extern "C" CUresult gpool_impl_S(<the exact cuda.h parameters of S>);
//
// A backend implements S by defining that function, e.g.
//
//     extern "C" CUresult gpool_impl_cuMemAlloc_v2(CUdeviceptr* dptr, size_t bytesize) { ... }
//     extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease(CUdevice dev) { ... }     // v1
//     extern "C" CUresult gpool_impl_cuDevicePrimaryCtxRelease_v2(CUdevice dev) { ... }
//
// No registration is needed: driver-abi gives every gpool_impl_S a weak default (an alias of a
// function that calls gpool::abi::unimplemented("S")), and the backend's strong definition
// replaces it at link time. Every ABI variant is its own symbol: `cuMemAlloc` (v1, 32-bit sizes)
// and `cuMemAlloc_v2` are different entry points, and cudart asks for old variants on purpose
// (e.g. the v1 `cuDevicePrimaryCtxRelease`), so implement each variant cudart uses.
//
// Per-thread default stream variants (`S_ptds`, `S_ptsz`): if the backend defines
// gpool_impl_S_ptsz it is called; otherwise, if it defines the base gpool_impl_S, the base is
// called with gpool::abi::per_thread_default_stream() returning true for the duration of the
// call. Otherwise the call returns CUDA_ERROR_NOT_SUPPORTED.
//
// Entry points driver-abi answers itself, never forwarded to the backend (no gpool_impl_ exists):
// cuGetProcAddress, cuGetProcAddress_v2, cuGetExportTable, cuGetErrorString, cuGetErrorName.
//
// ## Entry points driver-abi calls on the backend
//
// driver-abi calls these through gpool_impl_* (so from any thread, with no abi lock held):
//   cuCtxGetCurrent                          context-local storage with a NULL context
//   cuDriverGetVersion                       integrity hash; cuGetProcAddress's version limit
//                                            (CUDA_VERSION is assumed when not implemented)
//   cuDeviceGetCount, cuDeviceGet,           integrity hash (section 3 of cuda-driver-facts.md);
//   cuDeviceGetUuid (v1, else _v2),          the values must be the ones cudart saw earlier,
//   cuDeviceGetAttribute (PCI 50, 33, 34)    so they must not change for the process lifetime
//   cuModuleLoadData, cuModuleLoadFatBinary  CUDART_INTERFACE slots 1, 6 (wrapper) and 8 (fatbin)
//
// ## Required hooks (strong definitions; the library does not link without them)
//
//   gpool_backend_primary_context(dev, out)  see below
//   gpool_backend_name()                     see below
//
// ## Build mode of cuda.h
//
// This header includes cuda.h with __CUDA_API_VERSION_INTERNAL defined, which is what declares
// the legacy (v1) and _ptds/_ptsz prototypes and their types (CUdeviceptr_v1, CUDA_MEMCPY2D_v1,
// ...). In that mode the name `cuMemAlloc` means the v1 entry point, not `cuMemAlloc_v2`. Every
// source linked into a driver library gets the definition from gpool_add_driver_library(); a
// file that includes <cuda.h> before this header without it fails with an #error below.
//
// Thread safety: everything declared here may be called from any thread.
#pragma once

#if !defined(__CUDA_API_VERSION_INTERNAL)
#if defined(CUDA_VERSION)
#error "gpool/driver_abi/backend.h: cuda.h was included without __CUDA_API_VERSION_INTERNAL; include this header first or build the file through gpool_add_driver_library()"
#endif
#define __CUDA_API_VERSION_INTERNAL 1
#endif

#include <cuda.h>

#include "gpool/driver_abi/impl_decls.h"

// Returns the primary-context handle of `dev` in *out WITHOUT retaining it, and CUDA_SUCCESS.
// The handle must be the same one cuDevicePrimaryCtxRetain(dev) returns and must stay valid as
// a key for the life of the process (cudart stores it, passes it to cuCtxSetCurrent and uses it
// as the context-local-storage key, section 2.1 of the facts). Used by CUDART_INTERFACE slot 2,
// which cudart calls once per device during initialisation, before any retain.
// Errors: CUDA_ERROR_INVALID_DEVICE for a bad ordinal, CUDA_ERROR_INVALID_VALUE for out == NULL
// (any non-zero return makes every runtime call fail with cudaErrorInitializationError).
extern "C" CUresult gpool_backend_primary_context(CUdevice dev, CUcontext* out);

// A short lowercase name of the backend ("emulator", "shim"), used in log lines such as
// "cuMemAdvise is not supported by the gpool emulator backend". Returns a static string.
extern "C" const char* gpool_backend_name();

namespace gpool::abi {

// True while the calling thread is inside an `S_ptds`/`S_ptsz` entry point that fell back to the
// backend's base implementation gpool_impl_S. A backend then treats the NULL stream (and
// CU_STREAM_LEGACY-less default work) as the per-thread default stream instead of the legacy
// NULL stream. False everywhere else. Nested calls are counted.
bool per_thread_default_stream();

// The backend calls this when context `ctx` is destroyed (cuCtxDestroy) or a primary context is
// reset (cuDevicePrimaryCtxReset / _v2), AFTER the context is gone from the backend's tables and
// while holding NO backend locks: the abi runs the destructor that cudart stored with each
// context-local-storage entry of `ctx` (dtor(ctx, key, value)) and drops those entries.
// Destructors may call back into the driver. Calling it for a context without entries is a no-op.
void cls_context_destroyed(CUcontext ctx);

// The answer of an entry point the backend does not implement: logs
// "<name> is not supported by the gpool <backend> backend" at warn level, once per name per
// process, and returns CUDA_ERROR_NOT_SUPPORTED. Backends may call it for unsupported argument
// combinations of implemented entry points too (pass a descriptive name then).
CUresult unimplemented(const char* name);

}  // namespace gpool::abi
