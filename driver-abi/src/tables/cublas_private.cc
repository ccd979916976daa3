// cuBLAS private table 21318c60971432488ca641ff7324c8f2: 64 entries, slot 0 = 512 (facts 2.7).
//   4   (void* a0, uint64_t* out, ...): must return 0; writes a0 != NULL (lupine's behaviour)
//   39  (a0, a1, uint64_t* a2, ...): writes 0 to *a2, returns 0 (lupine)
//   51  (a0, uintptr_t a1, void** a2, ...): a1 == ~0 -> CUDA_ERROR_INVALID_HANDLE; otherwise
//       *a2 = a fresh zeroed 512-byte object (kept for the life of the process) and 0 (lupine)
//   others: stub returning 0.
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "tables.h"

namespace gpool::abi::tables {
namespace {

constexpr size_t kEntries = 64;

CUresult slot4(void* a0, uint64_t* out) {
  if (out != nullptr) *out = a0 != nullptr ? 1 : 0;
  return CUDA_SUCCESS;
}

CUresult slot39(void*, void*, uint64_t* out) {
  if (out != nullptr) *out = 0;
  return CUDA_SUCCESS;
}

CUresult slot51(void*, uintptr_t a1, void** out) {
  if (a1 == ~uintptr_t{0}) return CUDA_ERROR_INVALID_HANDLE;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  struct Objects {
    std::mutex mu;
    std::vector<std::unique_ptr<uint8_t[]>> blocks;
  };
  static Objects* objects = new Objects();  // leaked on purpose: cuBLAS may use them at exit
  auto block = std::make_unique<uint8_t[]>(512);  // value-initialised: zeroed
  *out = block.get();
  std::lock_guard lock(objects->mu);
  objects->blocks.push_back(std::move(block));
  return CUDA_SUCCESS;
}

struct Table {
  const void* slots[kEntries];
  Table() {
    slots[0] = reinterpret_cast<const void*>(uintptr_t{kEntries * sizeof(void*)});
    for (size_t i = 1; i < kEntries; ++i) slots[i] = reinterpret_cast<const void*>(stub_return_zero);
    slots[4] = reinterpret_cast<const void*>(slot4);
    slots[39] = reinterpret_cast<const void*>(slot39);
    slots[51] = reinterpret_cast<const void*>(slot51);
  }
};

const Table kTable;

}  // namespace

const void* cublas_private() { return kTable.slots; }

}  // namespace gpool::abi::tables
