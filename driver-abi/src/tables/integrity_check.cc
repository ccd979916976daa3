// INTEGRITY_CHECK d4082055bde6704b8d34ba123c66e1f2: 3 entries, slot 0 = 24 (facts 2.6, 3).
//   1  CUresult (uint32_t version, uint64_t unix_secs, uint64_t out[2])
//        version % 10 == 0 / 1: fixed answers; >= 2: HMAC-MD2 over the process and devices
//   2  unknown: stub returning 0.
// The hash covers this table's address, CUDART_INTERFACE's address and slot 1's address, so
// those must be the exact pointers cuGetExportTable hands out (they are: static tables).
// Device values come from the backend now; they must equal what cudart read during its
// device-property snapshot, so a backend must report stable UUIDs and PCI ids.
#include <pthread.h>
#include <unistd.h>

#include <cstring>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/integrity_hash.h"
#include "exports_registry.h"
#include "tables.h"

extern "C" CUresult gpool_unimpl_cuDeviceGetUuid(CUuuid* uuid, CUdevice dev);
extern "C" CUresult gpool_unimpl_cuDeviceGet(CUdevice* device, int ordinal);

namespace gpool::abi::tables {
namespace {

CUresult device_record(int ordinal, IntegrityDevice& out) {
  CUdevice dev = ordinal;
  if (implemented(reinterpret_cast<const void*>(&gpool_impl_cuDeviceGet),
                  reinterpret_cast<const void*>(&gpool_unimpl_cuDeviceGet))) {
    if (CUresult rc = gpool_impl_cuDeviceGet(&dev, ordinal); rc != CUDA_SUCCESS) return rc;
  }
  CUuuid uuid{};
  // cudart 13.0 asks for the v1 cuDeviceGetUuid (at 9020); use whichever the backend has.
  CUresult rc = implemented(reinterpret_cast<const void*>(&gpool_impl_cuDeviceGetUuid),
                            reinterpret_cast<const void*>(&gpool_unimpl_cuDeviceGetUuid))
                    ? gpool_impl_cuDeviceGetUuid(&uuid, dev)
                    : gpool_impl_cuDeviceGetUuid_v2(&uuid, dev);
  if (rc != CUDA_SUCCESS) return rc;
  std::memcpy(out.uuid.data(), uuid.bytes, 16);
  if ((rc = gpool_impl_cuDeviceGetAttribute(&out.pci_domain, CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID,
                                            dev)) != CUDA_SUCCESS ||
      (rc = gpool_impl_cuDeviceGetAttribute(&out.pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID, dev)) !=
          CUDA_SUCCESS ||
      (rc = gpool_impl_cuDeviceGetAttribute(&out.pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID,
                                            dev)) != CUDA_SUCCESS) {
    return rc;
  }
  return CUDA_SUCCESS;
}

CUresult integrity_slot1(uint32_t version, uint64_t unix_secs, uint64_t out[2]);

const void* const kTable[3] = {
    reinterpret_cast<const void*>(uintptr_t{3 * sizeof(void*)}),
    reinterpret_cast<const void*>(integrity_slot1),
    reinterpret_cast<const void*>(stub_return_zero),
};

CUresult integrity_slot1(uint32_t version, uint64_t unix_secs, uint64_t out[2]) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (version % 10 == 0) {
    out[0] = kIntegrityFixedAnswer0[0];
    out[1] = kIntegrityFixedAnswer0[1];
    return CUDA_SUCCESS;
  }
  if (version % 10 == 1) {
    out[0] = kIntegrityFixedAnswer1[0];
    out[1] = kIntegrityFixedAnswer1[1];
    return CUDA_SUCCESS;
  }
  auto& log = gpool::log::logger("abi");
  IntegrityInputs in;
  int driver_version = 0;
  if (CUresult rc = gpool_impl_cuDriverGetVersion(&driver_version); rc != CUDA_SUCCESS) {
    log.error("integrity check failed: cuDriverGetVersion returned {}; the backend must report "
              "its driver version", static_cast<int>(rc));
    return rc;
  }
  int count = 0;
  if (CUresult rc = gpool_impl_cuDeviceGetCount(&count); rc != CUDA_SUCCESS) {
    log.error("integrity check failed: cuDeviceGetCount returned {}", static_cast<int>(rc));
    return rc;
  }
  in.driver_version = static_cast<uint32_t>(driver_version);
  in.version = version;
  in.pid = static_cast<uint32_t>(getpid());
  in.thread = static_cast<uint32_t>(static_cast<uint64_t>(pthread_self()));  // low 32 bits
  in.cudart_table = reinterpret_cast<uintptr_t>(cudart_interface());
  in.integrity_table = reinterpret_cast<uintptr_t>(kTable);
  in.slot1_function = reinterpret_cast<uintptr_t>(kTable[1]);
  in.unix_secs = unix_secs;
  in.devices.resize(static_cast<size_t>(count > 0 ? count : 0));
  for (int i = 0; i < count; ++i) {
    if (CUresult rc = device_record(i, in.devices[static_cast<size_t>(i)]); rc != CUDA_SUCCESS) {
      log.error("integrity check failed: reading uuid and pci ids of device {} returned {}", i,
                static_cast<int>(rc));
      return rc;
    }
  }
  Md2Digest answer = integrity_answer(in);
  std::memcpy(out, answer.data(), answer.size());
  return CUDA_SUCCESS;
}

}  // namespace

const void* integrity_check() { return kTable; }

}  // namespace gpool::abi::tables
