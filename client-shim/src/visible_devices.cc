#include "visible_devices.h"

#include <algorithm>
#include <cctype>
#include <optional>

namespace gpool::shim {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The device `entry` names, or nullopt when it names none (or more than one).
std::optional<int> resolve(std::string_view entry, std::span<const std::array<uint8_t, 16>> uuids) {
  if (entry.empty()) return std::nullopt;
  if (std::all_of(entry.begin(), entry.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    if (entry.size() > 6) return std::nullopt;  // far beyond any device count
    const int index = std::stoi(std::string(entry));
    if (index >= static_cast<int>(uuids.size())) return std::nullopt;
    return index;
  }
  if (entry.size() <= 4 || entry.substr(0, 4) != "GPU-") return std::nullopt;
  std::string prefix;
  for (char c : entry) prefix.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  prefix.replace(0, 4, "GPU-");
  std::optional<int> found;
  for (size_t i = 0; i < uuids.size(); ++i) {
    if (uuid_text(uuids[i]).compare(0, prefix.size(), prefix) != 0) continue;
    if (found) return std::nullopt;  // ambiguous prefix
    found = static_cast<int>(i);
  }
  return found;
}

}  // namespace

std::string uuid_text(const std::array<uint8_t, 16>& uuid) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "GPU-";
  for (size_t i = 0; i < uuid.size(); ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
    out.push_back(kHex[uuid[i] >> 4]);
    out.push_back(kHex[uuid[i] & 0xf]);
  }
  return out;
}

std::vector<int> visible_devices(std::string_view spec, std::span<const std::array<uint8_t, 16>> uuids,
                                 std::string* stopped_at) {
  std::vector<int> out;
  if (stopped_at != nullptr) stopped_at->clear();
  if (trim(spec).empty()) return out;
  while (true) {
    const size_t comma = spec.find(',');
    const std::string_view entry = trim(spec.substr(0, comma));
    const std::optional<int> dev = resolve(entry, uuids);
    if (!dev || std::find(out.begin(), out.end(), *dev) != out.end()) {
      if (stopped_at != nullptr) *stopped_at = std::string(entry);
      return out;
    }
    out.push_back(*dev);
    if (comma == std::string_view::npos) return out;
    spec.remove_prefix(comma + 1);
  }
}

}  // namespace gpool::shim
