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
  std::map<CUdeviceptr, std::pair<size_t, bool>> device;   // base -> (bytes, allocation)
  std::map<uintptr_t, std::pair<size_t, unsigned>> host;   // base -> (bytes, flags)
};

State& state() {
  static State* s = new State();
  return *s;
}

std::atomic<uint64_t> g_next{0x100};
struct PrimaryContext { int unused; } g_primary;

}  // namespace

uint64_t new_id(IdKind kind) {
  return (uint64_t{static_cast<uint16_t>(kind)} << 48) | g_next.fetch_add(1);
}

bool id_is(uint64_t id, IdKind kind) { return (id >> 48) == static_cast<uint16_t>(kind); }

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
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.device[p] = {bytes, allocation};
}

bool remove_allocation(CUdeviceptr p) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.device.find(p);
  if (it == st.device.end() || !it->second.second) return false;
  st.device.erase(it);
  return true;
}

bool find_device_range(CUdeviceptr p, CUdeviceptr* base, size_t* bytes) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.device.upper_bound(p);
  if (it == st.device.begin()) return false;
  --it;
  if (p - it->first >= std::max<size_t>(it->second.first, 1)) return false;
  if (base) *base = it->first;
  if (bytes) *bytes = it->second.first;
  return true;
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

CUcontext primary_context() { return reinterpret_cast<CUcontext>(&g_primary); }

CUresult check_ready() {
  return Session::instance().ready() ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED;
}

}  // namespace gpool::shim
