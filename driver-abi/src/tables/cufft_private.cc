// cuFFT's private table 6e163fbeb958444d835ce182aff1991e (libcufft.so.12 of CUDA 13.0).
//
// How it was worked out (docs/emulator.md, "CUDA libraries"): libcufft's driver loader calls
// cuInit, then asks for two tables, 21318c60... (the cuBLAS table, slot 4 used) and this one, and
// gives up with CUFFT_INTERNAL_ERROR (loader status 5) when either is refused. The only use of
// this table in the library reads slot 0 (the size word; anything below 56 counts as missing)
// and calls slot 7 as
//
//     int slot7(CUcontext ctx, CUmodule mod, void (*cb)(void* user, CUfunction f), void* user)
//
// from the helper that fetches "the" kernel of a module cuFFT has just loaded
// (cuModuleLoadData) when it has no kernel name; the callback stores f into *user, and cuFFT
// treats a return of 1 as success. When it has a name it calls cuModuleGetFunction instead. The
// answer here enumerates the module's functions through the backend (cuModuleGetFunctionCount /
// cuModuleEnumerateFunctions), calls cb once per function and returns how many it reported, so
// a one-kernel module gives cuFFT its kernel and 1; a failing query returns 0 (cuFFT's failure).
// Slots 1-6 and 8-15 were never seen called: they log their number and return
// CUDA_ERROR_NOT_SUPPORTED rather than pretend.
#include <cstdint>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "tables.h"

namespace gpool::abi::tables {
namespace {

constexpr size_t kEntries = 16;

using FunctionCallback = void (*)(void* user, CUfunction f);

int enumerate_module_functions(CUcontext ctx, CUmodule mod, FunctionCallback cb, void* user) {
  auto& log = gpool::log::logger("abi");
  if (mod == nullptr || cb == nullptr) {
    log.warn("cuFFT table 6e163fbe slot 7: module {} / callback {} missing", static_cast<void*>(mod),
             reinterpret_cast<void*>(cb));
    return 0;
  }
  unsigned count = 0;
  if (CUresult r = gpool_impl_cuModuleGetFunctionCount(&count, mod); r != CUDA_SUCCESS) {
    log.warn("cuFFT table 6e163fbe slot 7: cuModuleGetFunctionCount failed ({})", static_cast<int>(r));
    return 0;
  }
  std::vector<CUfunction> fns(count);
  if (count > 0) {
    if (CUresult r = gpool_impl_cuModuleEnumerateFunctions(fns.data(), count, mod); r != CUDA_SUCCESS) {
      log.warn("cuFFT table 6e163fbe slot 7: cuModuleEnumerateFunctions failed ({})", static_cast<int>(r));
      return 0;
    }
  }
  log.debug("cuFFT table 6e163fbe slot 7: context {} module {}: {} function(s)", static_cast<void*>(ctx),
            static_cast<void*>(mod), count);
  for (CUfunction f : fns) cb(user, f);
  return static_cast<int>(count);
}

template <int N>
CUresult unknown_slot() {
  gpool::log::logger("abi").warn("cuFFT table 6e163fbe slot {} called: its meaning is unknown; returning "
                                 "CUDA_ERROR_NOT_SUPPORTED", N);
  return CUDA_ERROR_NOT_SUPPORTED;
}

template <int... N>
struct Table {
  const void* slots[kEntries];
  Table() {
    slots[0] = reinterpret_cast<const void*>(uintptr_t{kEntries * sizeof(void*)});
    ((slots[N] = reinterpret_cast<const void*>(unknown_slot<N>)), ...);
    slots[7] = reinterpret_cast<const void*>(enumerate_module_functions);
  }
};

const Table<1, 2, 3, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15> kTable;

}  // namespace

const void* cufft_private() { return kTable.slots; }

}  // namespace gpool::abi::tables
