#include "pool.h"

#include <thread>

#include "contexts.h"
#include "gpool/common/log.h"
#include "ids.h"
#include "session.h"
#include "state.h"

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
  for (size_t i = 0; i < config_.servers.size(); ++i) {
    sessions_.push_back(std::make_unique<Session>(config_.servers[i], config_.token,
                                                  static_cast<uint32_t>(i)));
  }
  // Connect to all servers at once: an unreachable one costs one timeout, not one each.
  std::vector<CUresult> results(sessions_.size(), CUDA_SUCCESS);
  if (sessions_.size() == 1) {
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
  int base = 0;
  for (auto& s : sessions_) {
    s->set_device_base(base);
    for (size_t d = 0; d < s->devices().size(); ++d) {
      slots_.push_back({s.get(), static_cast<int>(d)});
      devices_.push_back(&s->devices()[d]);
    }
    base += static_cast<int>(s->devices().size());
  }
  if (devices_.size() > static_cast<size_t>(kMaxDevices)) {
    logger().error("the servers in GPOOL_SERVER offer {} devices; at most {} are supported",
                   devices_.size(), kMaxDevices);
    for (auto& s : sessions_) s->shutdown();
    return init_result_ = CUDA_ERROR_INVALID_VALUE;
  }
  if (sessions_.size() > 1) {
    for (auto& s : sessions_) {
      logger().info("gpool server {} ({}): devices {}..{}", s->index(), s->url(), s->device_base(),
                    s->device_base() + static_cast<int>(s->devices().size()) - 1);
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
  local = static_cast<uint64_t>(dev - s->device_base());
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
