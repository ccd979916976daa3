#include "gpool/registry/placement.h"

#include <algorithm>
#include <tuple>

namespace gpool::registry {

std::vector<size_t> rank_servers(std::span<const ServerRecord> servers) {
  std::vector<size_t> order;
  for (size_t i = 0; i < servers.size(); ++i) {
    if (!servers[i].full() && !servers[i].devices.empty()) order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ServerRecord& x = servers[a];
    const ServerRecord& y = servers[b];
    if (x.best_free() != y.best_free()) return x.best_free() > y.best_free();
    if (x.load != y.load) return x.load < y.load;
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
