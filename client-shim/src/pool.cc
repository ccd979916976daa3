#include "pool.h"

#include <cstdlib>
#include <thread>

#include "contexts.h"
#include "gpool/common/log.h"
#include "gpool/registry/etcd.h"
#include "ids.h"
#include "pool_placement.h"
#include "session.h"
#include "state.h"
#include "visible_devices.h"

namespace gpool::shim {
namespace {

spdlog::logger& logger() { return log::logger("shim"); }

std::atomic<Pool*> g_pool{nullptr};

Session& unattached() {
  static Session* s = new Session("", "", 0);  // never connected: every call is NOT_INITIALIZED
  return *s;
}

}  // namespace

Pool& Pool::global() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p != nullptr) return *p;
  auto* fresh = new Pool();  // never destroyed: used from atexit paths
  if (g_pool.compare_exchange_strong(p, fresh, std::memory_order_acq_rel)) return *fresh;
  delete fresh;
  return *p;
}

Session& Session::current() { return Pool::global().routed(); }

CUresult Pool::init() {
  std::lock_guard<std::mutex> lock(mu_);
  if (init_done_) return init_result_;
  init_done_ = true;
  config_ = load_config();
  if (!config_.error.empty()) {
    logger().error("{}; cuInit fails: fix the file or unset GPOOL_CONFIG", config_.error);
    return init_result_ = CUDA_ERROR_INVALID_VALUE;
  }
  if (config_.servers.size() > kMaxSessions) {
    logger().error("GPOOL_SERVER lists {} servers; at most {} are supported", config_.servers.size(),
                   kMaxSessions);
    return init_result_ = CUDA_ERROR_INVALID_VALUE;
  }
  // Devices the program gets of each session (its first ones); all, for a list of servers.
  std::vector<size_t> take;
  const bool pooled = config_.servers.size() == 1 && registry::is_pool_url(config_.servers[0]);
  if (pooled) {
    // A pool in etcd: placement connects (and skips what is down or busy) itself.
    if (CUresult st = place_in_pool(config_.servers[0], config_.token, sessions_, take, config_.tls); st != CUDA_SUCCESS) {
      return init_result_ = st;
    }
  } else {
    for (size_t i = 0; i < config_.servers.size(); ++i) {
      if (registry::is_pool_url(config_.servers[i])) {
        logger().error("GPOOL_SERVER: an etcd:// pool must be the only entry ({}); cuInit fails",
                       config_.servers[i]);
        return init_result_ = CUDA_ERROR_INVALID_VALUE;
      }
      sessions_.push_back(std::make_unique<Session>(config_.servers[i], config_.token,
                                                    static_cast<uint32_t>(i), config_.tls));
    }
  }
  // Connect to all servers at once: an unreachable one costs one timeout, not one each.
  std::vector<CUresult> results(sessions_.size(), CUDA_SUCCESS);
  if (pooled) {
    // connected by place_in_pool
  } else if (sessions_.size() == 1) {
    results[0] = sessions_[0]->init();
  } else {
    std::vector<std::thread> threads;
    for (size_t i = 0; i < sessions_.size(); ++i) {
      threads.emplace_back([this, &results, i] { results[i] = sessions_[i]->init(); });
    }
    for (std::thread& t : threads) t.join();
  }
  for (size_t i = 0; i < sessions_.size(); ++i) {
    if (results[i] != CUDA_SUCCESS) {
      if (sessions_.size() > 1) {
        logger().error("gpool server {} of GPOOL_SERVER ({}) failed; no device of any server is "
                       "used (remove it from the list to run on the others)", i,
                       sessions_[i]->url());
      }
      for (auto& s : sessions_) s->shutdown();
      return init_result_ = results[i];
    }
  }
  // The full list: every server's devices in GPOOL_SERVER order; then CUDA_VISIBLE_DEVICES
  // picks and orders the ones the program sees (visible_devices.h).
  for (size_t i = 0; i < sessions_.size(); ++i) {
    Session* s = sessions_[i].get();
    const size_t n = pooled ? take[i] : s->devices().size();
    for (size_t d = 0; d < n; ++d) slots_.push_back({s, static_cast<int>(d)});
  }
  if (const char* spec = std::getenv("CUDA_VISIBLE_DEVICES"); spec != nullptr) {
    std::vector<std::array<uint8_t, 16>> uuids;
    for (const Slot& slot : slots_) uuids.push_back(slot.session->devices()[slot.local].uuid);
    std::string stopped;
    std::vector<Slot> shown;
    for (int i : visible_devices(spec, uuids, &stopped)) shown.push_back(slots_[static_cast<size_t>(i)]);
    if (!stopped.empty() || (shown.empty() && *spec != '\0')) {
      logger().warn("CUDA_VISIBLE_DEVICES=\"{}\": entry \"{}\" is not one of the pool's {} devices "
                    "(an index, or a GPU-... UUID prefix of exactly one) or repeats one; the list "
                    "ends there, as with the NVIDIA driver", spec, stopped, slots_.size());
    }
    if (shown.empty()) {
      logger().error("CUDA_VISIBLE_DEVICES=\"{}\" leaves none of the pool's {} devices visible; "
                     "cuInit fails with CUDA_ERROR_NO_DEVICE", spec, slots_.size());
      for (auto& s : sessions_) s->shutdown();
      slots_.clear();
      return init_result_ = CUDA_ERROR_NO_DEVICE;
    }
    slots_ = std::move(shown);
  }
  for (const Slot& slot : slots_) devices_.push_back(&slot.session->devices()[slot.local]);
  if (devices_.size() > static_cast<size_t>(kMaxDevices)) {
    logger().error("the servers in GPOOL_SERVER offer {} devices; at most {} are supported "
                   "(CUDA_VISIBLE_DEVICES can pick fewer)", devices_.size(), kMaxDevices);
    for (auto& s : sessions_) s->shutdown();
    return init_result_ = CUDA_ERROR_INVALID_VALUE;
  }
  if (sessions_.size() > 1) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      logger().info("device {}: device {} of gpool server {} ({})", i, slots_[i].local,
                    slots_[i].session->index(), slots_[i].session->url());
    }
  }
  ready_.store(true, std::memory_order_release);
  return init_result_ = CUDA_SUCCESS;
}

const remote::DeviceInfo* Pool::device(int dev) const {
  if (!ready() || dev < 0 || static_cast<size_t>(dev) >= devices_.size()) return nullptr;
  return devices_[static_cast<size_t>(dev)];
}

Session* Pool::session_of(int dev) const {
  if (!ready() || dev < 0 || static_cast<size_t>(dev) >= slots_.size()) return nullptr;
  return slots_[static_cast<size_t>(dev)].session;
}

CUresult Pool::locate(int dev, Session*& session, uint64_t& local) const {
  Session* s = session_of(dev);
  if (s == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  session = s;
  local = static_cast<uint64_t>(slots_[static_cast<size_t>(dev)].local);
  return CUDA_SUCCESS;
}

CUresult Pool::append_access(const CUmemAccessDesc* desc, size_t count, const Session* owner,
                             const char* call, CUresult not_device, std::vector<uint64_t>& args) const {
  for (size_t i = 0; i < count; ++i) {
    if (desc[i].location.type != CU_MEM_LOCATION_TYPE_DEVICE) return not_device;
    Session* s = nullptr;
    uint64_t local = 0;
    if (CUresult st = locate(desc[i].location.id, s, local); st != CUDA_SUCCESS) return st;
    if (s != owner) {
      logger().warn("{}: device {} is on another gpool server than the memory; returning "
                    "CUDA_ERROR_NOT_SUPPORTED", call, desc[i].location.id);
      return CUDA_ERROR_NOT_SUPPORTED;
    }
    args.push_back(local);
    args.push_back(static_cast<uint64_t>(desc[i].flags));
  }
  return CUDA_SUCCESS;
}

Session& Pool::routed() const {
  if (!ready()) return unattached();
  const int dev = current_device();
  if (Session* s = session_of(dev < 0 ? 0 : dev)) return *s;
  return *sessions_[0];
}

void Pool::reset_for_testing() {
  if (Pool* old = g_pool.exchange(nullptr)) {
    for (auto& s : old->sessions_) s->shutdown();
    // Kept, not deleted: a test's threads may still hold a Session& of the old pool. Kept
    // reachable so the leak checker does not count it.
    static auto* retired = new std::vector<Pool*>();
    retired->push_back(old);
  }
  reset_contexts_for_testing();
  reset_state_for_testing();
}

}  // namespace gpool::shim
