// The INTEGRITY_CHECK answer (section 3 of cuda-driver-facts.md) as a pure function of explicit
// inputs, so it can be tested against the worked examples and reused by any driver.
//
//   answer = HMAC-MD2(K, process record (48 bytes) || one 28-byte record per device)
//
// Thread safety: pure; call from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "gpool/driver_abi/md2.h"

namespace gpool::abi {

// One device as cudart saw it during its device-property snapshot.
struct IntegrityDevice {
  std::array<uint8_t, 16> uuid{};  // cuDeviceGetUuid bytes
  int32_t pci_domain = 0;          // CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID (50)
  int32_t pci_bus = 0;             // CU_DEVICE_ATTRIBUTE_PCI_BUS_ID (33)
  int32_t pci_device = 0;          // CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID (34)
};

struct IntegrityInputs {
  uint32_t driver_version = 0;   // what cuDriverGetVersion reports
  uint32_t version = 0;          // slot-1 argument 1 (e.g. 13002)
  uint32_t pid = 0;              // getpid()
  uint32_t thread = 0;           // low 32 bits of pthread_self() of the calling thread
  uint64_t cudart_table = 0;     // address of the CUDART_INTERFACE table handed to cudart
  uint64_t integrity_table = 0;  // address of the INTEGRITY_CHECK table
  uint64_t slot1_function = 0;   // INTEGRITY_CHECK slot 1
  uint64_t unix_secs = 0;        // slot-1 argument 2
  std::vector<IntegrityDevice> devices;  // every device cuDeviceGetCount reports, in order
};

// The fixed 16-byte key K.
extern const std::array<uint8_t, 16> kIntegrityKey;

// The hashed message M: 48 + 28 * devices bytes, little endian.
std::vector<uint8_t> integrity_message(const IntegrityInputs& in);

// HMAC-MD2(K, M): the 16 bytes to store at `out` (out[0] = bytes 0..7 little endian).
Md2Digest integrity_answer(const IntegrityInputs& in);

// The fixed answers for version % 10 == 0 and == 1 (cudart 13.0 does not check them).
extern const std::array<uint64_t, 2> kIntegrityFixedAnswer0;
extern const std::array<uint64_t, 2> kIntegrityFixedAnswer1;

}  // namespace gpool::abi
