#include "gpool/registry/placement.h"

#include <algorithm>
#include <tuple>

namespace gpool::registry {

namespace {

// A 64-bit mix (splitmix64's finaliser) of the URL's FNV-1a hash and the seed.
uint64_t tie_key(const std::string& url, uint64_t seed) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : url) h = (h ^ static_cast<uint8_t>(c)) * 1099511628211ull;
  uint64_t z = h ^ seed;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<size_t> rank_servers(std::span<const ServerRecord> servers, uint64_t tie_seed) {
  std::vector<size_t> order;
  for (size_t i = 0; i < servers.size(); ++i) {
    if (!servers[i].full() && !servers[i].devices.empty()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ServerRecord& x = servers[a];
    const ServerRecord& y = servers[b];
    if (x.best_free() != y.best_free()) return x.best_free() > y.best_free();
    if (x.load != y.load) return x.load < y.load;
    if (tie_seed != 0) {
      const uint64_t kx = tie_key(x.url, tie_seed), ky = tie_key(y.url, tie_seed);
      if (kx != ky) return kx < ky;
    }
    return x.url < y.url;
  });
  return order;
}

size_t total_devices(std::span<const ServerRecord> servers) {
  size_t n = 0;
  for (const ServerRecord& s : servers) n += s.devices.size();
  return n;
}

}  // namespace gpool::registry
