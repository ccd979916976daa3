// Device attribute values of an emulated device.
// Thread safety: pure functions of constant device data.
#pragma once

#include "runtime.h"

namespace gpool::emu::rt {

// Writes the value of CUdevice_attribute `attr` to *out; false when `attr`
// is not an attribute of CUDA 13 (the caller returns INVALID_VALUE).
bool device_attribute(const Device& d, int attr, int* out);

struct PciIds {
  uint32_t device_vendor;  // (device id << 16) | 0x10de
  uint32_t subsystem;
};
PciIds pci_ids_for(const DeviceProfile& p);

}  // namespace gpool::emu::rt
