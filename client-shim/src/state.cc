#include "state.h"

#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

#include "gpool/driver_abi/backend.h"

namespace gpool::shim {
namespace {

struct State {
  std::mutex mu;
  std::unordered_map<uint64_t, FunctionInfo> functions;
  std::map<std::pair<uint64_t, std::string>, uint64_t> by_name;
  // per session: base -> (bytes, allocation)
  std::map<uint32_t, std::map<CUdeviceptr, std::pair<size_t, bool>>> device;
  std::map<uintptr_t, std::pair<size_t, unsigned>> host;   // base -> (bytes, flags)
};

State& state() {
  static State* s = new State();
  return *s;
}

std::atomic<uint64_t> g_next{0x100};

uint32_t routed_index() { return Session::current().index(); }

using Ranges = std::map<CUdeviceptr, std::pair<size_t, bool>>;

bool find_in(const Ranges& m, CUdeviceptr p, CUdeviceptr* base, size_t* bytes) {
  auto it = m.upper_bound(p);
  if (it == m.begin()) return false;
  --it;
  if (p - it->first >= std::max<size_t>(it->second.first, 1)) return false;
  if (base) *base = it->first;
  if (bytes) *bytes = it->second.first;
  return true;
}

}  // namespace

uint64_t make_id(IdKind kind, uint32_t session) {
  return (uint64_t{static_cast<uint16_t>(kind)} << 48) | (uint64_t{session & 0xff} << 40) |
         (g_next.fetch_add(1) & ((uint64_t{1} << 40) - 1));
}

bool id_has_kind(uint64_t id) {
  switch (static_cast<IdKind>(id >> 48)) {
    case IdKind::kStream: case IdKind::kEvent: case IdKind::kModule: case IdKind::kLibrary:
    case IdKind::kKernel: case IdKind::kFunction: case IdKind::kVmmHandle: case IdKind::kMemPool:
      return true;
  }
  return false;
}

uint64_t new_id(IdKind kind) { return make_id(kind, routed_index()); }

uint64_t stream_id(CUstream s) {
  if (s == nullptr) return abi::per_thread_default_stream() ? 2 : 0;
  if (s == CU_STREAM_LEGACY) return 1;
  if (s == CU_STREAM_PER_THREAD) return 2;
  return reinterpret_cast<uint64_t>(s);
}

std::optional<FunctionInfo> find_function(uint64_t id) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.functions.find(id);
  if (it == st.functions.end()) return std::nullopt;
  return it->second;
}

void add_function(FunctionInfo f) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.by_name[{f.owner, f.name}] = f.id;
  st.functions[f.id] = std::move(f);
}

uint64_t function_by_name(uint64_t owner, const std::string& name) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.by_name.find({owner, name});
  return it == st.by_name.end() ? 0 : it->second;
}

void drop_functions_of(uint64_t owner) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  for (auto it = st.functions.begin(); it != st.functions.end();) {
    if (it->second.owner == owner) {
      st.by_name.erase({owner, it->second.name});
      it = st.functions.erase(it);
    } else {
      ++it;
    }
  }
}

void add_device_range(CUdeviceptr p, size_t bytes, bool allocation) {
  const uint32_t s = routed_index();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.device[s][p] = {bytes, allocation};
}

void add_device_range_of(uint32_t session, CUdeviceptr p, size_t bytes) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.device[session][p] = {bytes, false};
}

void remove_device_ranges(uint32_t session, CUdeviceptr p, size_t bytes) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  Ranges& m = st.device[session];
  const CUdeviceptr end = p + bytes;
  // A range that starts before p keeps its part below p; one that ends after `end` keeps its
  // part above it (split when it covers both sides).
  auto it = m.upper_bound(p);
  if (it != m.begin()) {
    auto prev = std::prev(it);
    const CUdeviceptr prev_end = prev->first + prev->second.first;
    if (prev_end > p) {
      prev->second.first = p - prev->first;
      if (prev_end > end) m[end] = {prev_end - end, prev->second.second};
    }
  }
  for (it = m.lower_bound(p); it != m.end() && it->first < end;) {
    const CUdeviceptr r_end = it->first + it->second.first;
    const bool allocation = it->second.second;
    it = m.erase(it);
    if (r_end > end) m[end] = {r_end - end, allocation};
  }
}

void remove_range_at(uint32_t session, CUdeviceptr p) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.device[session].erase(p);
}

bool remove_allocation(CUdeviceptr p) {
  const uint32_t s = routed_index();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  Ranges& m = st.device[s];
  auto it = m.find(p);
  if (it == m.end() || !it->second.second) return false;
  m.erase(it);
  return true;
}

int device_range_session(CUdeviceptr p) {
  const uint32_t s = routed_index();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (auto it = st.device.find(s); it != st.device.end() && find_in(it->second, p, nullptr, nullptr)) {
    return static_cast<int>(s);
  }
  for (const auto& [index, ranges] : st.device) {
    if (index != s && find_in(ranges, p, nullptr, nullptr)) return static_cast<int>(index);
  }
  return -1;
}

bool find_device_range(CUdeviceptr p, CUdeviceptr* base, size_t* bytes) {
  const uint32_t s = routed_index();
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  if (auto it = st.device.find(s); it != st.device.end() && find_in(it->second, p, base, bytes)) {
    return true;
  }
  for (const auto& [index, ranges] : st.device) {
    if (index != s && find_in(ranges, p, base, bytes)) return true;
  }
  return false;
}

void add_host_range(void* p, size_t bytes, unsigned flags) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.host[reinterpret_cast<uintptr_t>(p)] = {bytes, flags};
}

bool remove_host_range(void* p) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  return st.host.erase(reinterpret_cast<uintptr_t>(p)) != 0;
}

bool find_host_range(const void* p, void** base, size_t* bytes, unsigned* flags) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = st.host.upper_bound(a);
  if (it == st.host.begin()) return false;
  --it;
  if (a - it->first >= std::max<size_t>(it->second.first, 1)) return false;
  if (base) *base = reinterpret_cast<void*>(it->first);
  if (bytes) *bytes = it->second.first;
  if (flags) *flags = it->second.second;
  return true;
}

bool overlaps_host_range(const void* p, size_t bytes) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  const auto a = reinterpret_cast<uintptr_t>(p);
  auto it = st.host.lower_bound(a);
  if (it != st.host.end() && it->first - a < bytes) return true;
  if (it == st.host.begin()) return false;
  --it;
  return a - it->first < std::max<size_t>(it->second.first, 1);
}

CUresult check_ready() {
  return Pool::global().ready() ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

void reset_state_for_testing() {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.functions.clear();
  st.by_name.clear();
  st.device.clear();
  st.host.clear();
}

}  // namespace gpool::shim
