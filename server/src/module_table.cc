#include "module_table.h"

namespace gpool::server {

bool ModuleTable::add_module(uint64_t id, CUmodule m, size_t device) {
  if (!image_id_free(id)) return false;
  modules_[id] = Image<CUmodule>{m, device};
  return true;
}

bool ModuleTable::add_library(uint64_t id, CUlibrary l, size_t device) {
  if (!image_id_free(id)) return false;
  libraries_[id] = Image<CUlibrary>{l, device};
  return true;
}

CUmodule ModuleTable::module(uint64_t id) const {
  auto it = modules_.find(id);
  return it == modules_.end() ? nullptr : it->second.handle;
}

CUlibrary ModuleTable::library(uint64_t id) const {
  auto it = libraries_.find(id);
  return it == libraries_.end() ? nullptr : it->second.handle;
}

size_t ModuleTable::module_device(uint64_t id, size_t fallback) const {
  auto it = modules_.find(id);
  return it == modules_.end() ? fallback : it->second.device;
}

size_t ModuleTable::library_device(uint64_t id, size_t fallback) const {
  auto it = libraries_.find(id);
  return it == libraries_.end() ? fallback : it->second.device;
}

void ModuleTable::own_charge(uint64_t id, int device, uint64_t bytes) {
  if (bytes == 0) return;
  charges_[id] = {device, bytes};
  quota_.hold(bytes);
}

void ModuleTable::uncharge(uint64_t id) {
  auto it = charges_.find(id);
  if (it == charges_.end()) return;
  quota_.release(it->second.second);
  quota_.uncharge(it->second.first, it->second.second);
  charges_.erase(it);
}

bool ModuleTable::erase_module(uint64_t id) {
  if (modules_.erase(id) == 0) return false;
  uncharge(id);
  return true;
}

bool ModuleTable::erase_library(uint64_t id) {
  if (libraries_.erase(id) == 0) return false;
  uncharge(id);
  return true;
}

bool ModuleTable::add_function(uint64_t id, Function f) {
  if (!function_id_free(id)) return false;
  functions_[id] = std::move(f);
  return true;
}

ModuleTable::Function* ModuleTable::function(uint64_t id) {
  auto it = functions_.find(id);
  return it == functions_.end() ? nullptr : &it->second;
}

const ModuleTable::Function* ModuleTable::function_by_handle(CUfunction fn, CUkernel k, uint64_t* id) const {
  for (const auto& [fid, f] : functions_) {
    if ((fn != nullptr && f.fn == fn) || (k != nullptr && f.kernel == k)) {
      if (id != nullptr) *id = fid;
      return &f;
    }
  }
  return nullptr;
}

void ModuleTable::drop_device(size_t index) {
  std::erase_if(functions_, [&](const auto& kv) { return kv.second.device == index && kv.second.kernel == nullptr; });
  std::erase_if(modules_, [&](const auto& kv) {
    if (kv.second.device != index) return false;
    uncharge(kv.first);
    return true;
  });
}

}  // namespace gpool::server
