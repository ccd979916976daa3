// Message layout and key of the INTEGRITY_CHECK answer (cuda-driver-facts.md section 3.2).
#include "gpool/driver_abi/integrity_hash.h"

namespace gpool::abi {

const std::array<uint8_t, 16> kIntegrityKey = {0x14, 0x6a, 0xdd, 0xae, 0x53, 0xa9, 0xa7, 0x52,
                                               0xaa, 0x08, 0x41, 0x36, 0x0b, 0xf5, 0x5a, 0x9f};

const std::array<uint64_t, 2> kIntegrityFixedAnswer0 = {0x3341181C03CB675CULL,
                                                        0x8ED383AA1F4CD1E8ULL};
const std::array<uint64_t, 2> kIntegrityFixedAnswer1 = {0x1841181C03CB675CULL,
                                                        0x8ED383AA1F4CD1E8ULL};

namespace {

void put_le(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace

std::vector<uint8_t> integrity_message(const IntegrityInputs& in) {
  std::vector<uint8_t> m;
  m.reserve(48 + 28 * in.devices.size());
  put_le(m, in.driver_version, 4);
  put_le(m, in.version, 4);
  put_le(m, in.pid, 4);
  put_le(m, in.thread, 4);
  put_le(m, in.cudart_table, 8);
  put_le(m, in.integrity_table, 8);
  put_le(m, in.slot1_function, 8);
  put_le(m, in.unix_secs, 8);
  for (const IntegrityDevice& d : in.devices) {
    m.insert(m.end(), d.uuid.begin(), d.uuid.end());
    put_le(m, static_cast<uint32_t>(d.pci_domain), 4);
    put_le(m, static_cast<uint32_t>(d.pci_bus), 4);
    put_le(m, static_cast<uint32_t>(d.pci_device), 4);
  }
  return m;
}

Md2Digest integrity_answer(const IntegrityInputs& in) {
  return hmac_md2(kIntegrityKey, integrity_message(in));
}

}  // namespace gpool::abi
