#include "vmm_table.h"

#include <algorithm>
#include <iterator>

namespace gpool::server {
namespace {

// The entry of `m` whose range [first, first + size) contains p, or m.end().
template <typename Map, typename SizeOf>
typename Map::const_iterator containing(const Map& m, CUdeviceptr p, SizeOf size_of) {
  auto it = m.upper_bound(p);
  if (it == m.begin()) return m.end();
  --it;
  return p - it->first < size_of(it->second) ? it : m.end();
}

uint64_t itself(uint64_t s) { return s; }

}  // namespace

bool VmmTable::is_reservation(CUdeviceptr p, uint64_t size) const {
  auto r = reserved_.find(p);
  return r != reserved_.end() && r->second == size;
}

bool VmmTable::in_reservation(CUdeviceptr p) const {
  return containing(reserved_, p, itself) != reserved_.end();
}

bool VmmTable::fits_reservation(CUdeviceptr p, uint64_t size) const {
  auto r = containing(reserved_, p, itself);
  return r != reserved_.end() && size != 0 && size <= r->second - (p - r->first);
}

bool VmmTable::mapped_in(CUdeviceptr p, uint64_t size) const {
  auto m = maps_.lower_bound(p);
  return m != maps_.end() && m->first - p < size;
}

bool VmmTable::erase_reservation(CUdeviceptr p, uint64_t size) {
  if (!is_reservation(p, size) || mapped_in(p, size)) return false;
  reserved_.erase(p);
  return true;
}

void VmmTable::add_handle(uint64_t handle, uint64_t size, int device) {
  handles_[handle] = Handle{size, device, false};
  quota_.hold(size);
}

bool VmmTable::handle_live(uint64_t handle) const {
  auto h = handles_.find(handle);
  return h != handles_.end() && !h->second.released;
}

bool VmmTable::release(uint64_t handle) {
  auto h = handles_.find(handle);
  if (h == handles_.end() || h->second.released) return false;
  h->second.released = true;
  if (!mapped(handle)) free_physical(h);
  return true;
}

bool VmmTable::mapped(uint64_t handle) const {
  return std::any_of(maps_.begin(), maps_.end(), [&](const auto& m) { return m.second.handle == handle; });
}

void VmmTable::free_physical(std::map<uint64_t, Handle>::iterator it) {
  quota_.release(it->second.size);
  quota_.uncharge(it->second.device, it->second.size);
  handles_.erase(it);
}

std::vector<VmmTable::MapIt> VmmTable::tiling(CUdeviceptr p, uint64_t size) {
  std::vector<MapIt> out;
  auto it = maps_.find(p);
  CUdeviceptr at = p;
  const CUdeviceptr end = p + size;
  while (size > 0 && end > p && it != maps_.end() && it->first == at && at < end) {
    out.push_back(it);
    at += it->second.size;
    ++it;
  }
  if (at != end) out.clear();
  return out;
}

bool VmmTable::whole_mappings(CUdeviceptr p, uint64_t size) const {
  auto it = maps_.find(p);
  CUdeviceptr at = p;
  const CUdeviceptr end = p + size;
  while (size > 0 && end > p && it != maps_.end() && it->first == at && at < end) {
    at += it->second.size;
    ++it;
  }
  return size > 0 && end > p && at == end;
}

bool VmmTable::unmap(CUdeviceptr p, uint64_t size) {
  const std::vector<MapIt> maps = tiling(p, size);
  if (maps.empty()) return false;
  std::vector<uint64_t> handles;
  for (MapIt m : maps) {
    handles.push_back(m->second.handle);
    maps_.erase(m);
  }
  for (uint64_t handle : handles) {
    auto h = handles_.find(handle);
    if (h != handles_.end() && h->second.released && !mapped(handle)) free_physical(h);
  }
  return true;
}

bool VmmTable::set_access(CUdeviceptr p, uint64_t size, bool readwrite) {
  const std::vector<MapIt> maps = tiling(p, size);
  for (MapIt m : maps) m->second.accessible = readwrite;
  return !maps.empty();
}

bool VmmTable::accessible(CUdeviceptr p, uint64_t bytes) const {
  // Walks mappings that lie back to back from the one holding p; all must be READWRITE.
  auto it = containing(maps_, p, [](const Mapping& m) { return m.size; });
  if (it == maps_.end()) return false;
  const CUdeviceptr end = p + bytes;
  if (end < p) return false;
  for (;;) {
    if (!it->second.accessible) return false;
    const CUdeviceptr map_end = it->first + it->second.size;
    if (end <= map_end) return true;
    auto next = std::next(it);
    if (next == maps_.end() || next->first != map_end) return false;
    it = next;
  }
}

}  // namespace gpool::server
