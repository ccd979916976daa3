// CUDA_VISIBLE_DEVICES on the shim's device list, as the NVIDIA driver applies it on a GPU host.
//
// `spec` is a comma-separated list. Each entry is a device index into the full list (all
// servers' devices in GPOOL_SERVER order, pool.h) or a UUID as nvidia-smi prints it
// ("GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"; any unique prefix after "GPU-" is enough).
// The visible devices are the listed ones, in the order listed, numbered from 0. As with the
// driver, the list ends at the first entry that is not valid (out of range, unknown or ambiguous
// UUID, repeated, empty or malformed): the entries before it stay visible. An empty `spec` leaves
// no device visible.
// Pure functions; any thread.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gpool::shim {

// "GPU-" followed by the UUID's 16 bytes as 8-4-4-4-12 lowercase hex digits.
std::string uuid_text(const std::array<uint8_t, 16>& uuid);

// The indices into `uuids` (the full device list) that `spec` makes visible, in order.
// `stopped_at` (optional) receives the first entry that ended the list, or "" when none did.
std::vector<int> visible_devices(std::string_view spec, std::span<const std::array<uint8_t, 16>> uuids,
                                 std::string* stopped_at = nullptr);

}  // namespace gpool::shim
