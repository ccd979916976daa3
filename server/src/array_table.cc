#include "array_table.h"

namespace gpool::server {

uint64_t ArrayTable::add_array(CUarray arr, uint64_t bytes, int device) {
  const uint64_t h = reinterpret_cast<uint64_t>(arr);
  arrays_[h] = Array{arr, bytes, device, 0};
  return h;
}

uint64_t ArrayTable::add_level(CUarray arr, uint64_t mipmap) {
  const Mipmap* m = find_mipmap(mipmap);
  const uint64_t h = reinterpret_cast<uint64_t>(arr);
  arrays_[h] = Array{arr, 0, m != nullptr ? m->device : 0, mipmap};  // charged with the mipmap
  return h;
}

const ArrayTable::Array* ArrayTable::find_array(uint64_t h) const {
  auto it = arrays_.find(h);
  return it == arrays_.end() ? nullptr : &it->second;
}

bool ArrayTable::erase_array(uint64_t h) {
  auto it = arrays_.find(h);
  if (it == arrays_.end() || it->second.mipmap != 0) return false;
  quota_.uncharge(it->second.device, it->second.bytes);
  arrays_.erase(it);
  return true;
}

uint64_t ArrayTable::add_mipmap(CUmipmappedArray m, uint64_t bytes, int device, unsigned levels) {
  const uint64_t h = reinterpret_cast<uint64_t>(m);
  mipmaps_[h] = Mipmap{m, bytes, device, levels};
  return h;
}

const ArrayTable::Mipmap* ArrayTable::find_mipmap(uint64_t h) const {
  auto it = mipmaps_.find(h);
  return it == mipmaps_.end() ? nullptr : &it->second;
}

bool ArrayTable::erase_mipmap(uint64_t h) {
  auto it = mipmaps_.find(h);
  if (it == mipmaps_.end()) return false;
  std::erase_if(arrays_, [&](const auto& kv) { return kv.second.mipmap == h; });
  quota_.uncharge(it->second.device, it->second.bytes);
  mipmaps_.erase(it);
  return true;
}

void ArrayTable::drop_device(int device) {
  std::erase_if(arrays_, [&](const auto& kv) {
    if (kv.second.device != device) return false;
    if (kv.second.mipmap == 0) quota_.uncharge(device, kv.second.bytes);
    return true;
  });
  std::erase_if(mipmaps_, [&](const auto& kv) {
    if (kv.second.device != device) return false;
    quota_.uncharge(device, kv.second.bytes);
    return true;
  });
  tex_.clear();
  surf_.clear();
}

}  // namespace gpool::server
