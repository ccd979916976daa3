#include "ucx_worker.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "ucx_api.h"

namespace gpool::transport::ucx {
namespace {

spdlog::logger& logger() { return log::logger("transport"); }

struct ProcessContext {
  std::mutex mu;
  pid_t pid = 0;
  ucp_context_h ctx = nullptr;
  Status error;  // why ucp_init failed in this process
};

ProcessContext& process_context() {
  static ProcessContext* p = new ProcessContext;  // never destroyed: workers may outlive statics
  return *p;
}

std::chrono::microseconds spin_time() {
  static const auto us = std::chrono::microseconds(env::get_int("GPOOL_UCX_SPIN_US", 20));
  return us;
}

}  // namespace

std::string status_text(ucs_status_t status) {
  if (api() == nullptr) return fmt::format("ucs status {}", static_cast<int>(status));
  return fmt::format("{} ({})", U().ucs_status_string(status), static_cast<int>(status));
}

Status context(ucp_context_h& out) {
  ProcessContext& p = process_context();
  std::lock_guard<std::mutex> lock(p.mu);
  const pid_t self = ::getpid();
  if (p.pid != self) {
    // First use in this process, or a context inherited across fork(): start afresh.
    p.pid = self;
    p.ctx = nullptr;
    p.error = Status::success();
    std::string missing;
    if (api(&missing) == nullptr) {  // UCX's libraries are opened on this first use (ucx_api.h)
      p.error = Status::make(Code::kUnavailable, missing);
      logger().warn("{}", missing);
      return p.error;
    }
    ucp_config_t* config = nullptr;
    ucs_status_t st = U().ucp_config_read(nullptr, nullptr, &config);
    // Sends of up to a few MiB must complete while the receiver has not asked for them yet
    // (as they do on TCP, into socket buffers): eager up to 4 MiB, rendezvous (zero-copy where
    // the transport allows) above, unless UCX_RNDV_THRESH says otherwise.
    if (st == UCS_OK && !env::get("UCX_RNDV_THRESH")) (void)U().ucp_config_modify(config, "RNDV_THRESH", "4m");
    if (st == UCS_OK) {
      ucp_params_t params{};
      params.field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_ESTIMATED_NUM_EPS;
      params.features = UCP_FEATURE_TAG | UCP_FEATURE_WAKEUP;
      params.estimated_num_eps = 1;
      st = U().ucp_init_version(UCP_API_MAJOR, UCP_API_MINOR, &params, config, &p.ctx);
      U().ucp_config_release(config);
    }
    if (st != UCS_OK) {
      p.ctx = nullptr;
      p.error = Status::make(Code::kUnavailable,
                             fmt::format("ucx is unavailable: ucp_init failed: {}; check the UCX_* "
                                         "variables (UCX_TLS) or use tcp://",
                                         status_text(st)));
      logger().warn("{}", p.error.text);
    } else {
      logger().info("ucx transport: ucp context ready (ucx {})", U().ucp_get_version_string());
    }
  }
  if (p.ctx == nullptr) return p.error;
  out = p.ctx;
  return Status::success();
}

Status Worker::create(std::unique_ptr<Worker>& out) {
  ucp_context_h ctx = nullptr;
  if (Status s = context(ctx); !s.ok()) return s;
  std::unique_ptr<Worker> w(new Worker);
  ucp_worker_params_t params{};
  params.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
  params.thread_mode = UCS_THREAD_MODE_SERIALIZED;
  if (ucs_status_t st = U().ucp_worker_create(ctx, &params, &w->worker_); st != UCS_OK) {
    w->worker_ = nullptr;
    return Status::make(Code::kIo, "ucp_worker_create failed: " + status_text(st));
  }
  if (ucs_status_t st = U().ucp_worker_get_efd(w->worker_, &w->efd_); st != UCS_OK) {
    return Status::make(Code::kIo, "ucp_worker_get_efd failed: " + status_text(st));
  }
  w->wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (w->wake_fd_ < 0) {
    const int err = errno;
    return Status::make(Code::kIo, fmt::format("eventfd for a ucx worker failed: {}", std::strerror(err)), err);
  }
  w->thread_ = std::thread([p = w.get()] { p->background(); });
  out = std::move(w);
  return Status::success();
}

void Worker::background() {
  while (!stop_.load()) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      unsigned progressed = 0;
      while (U().ucp_worker_progress(worker_) != 0) ++progressed;
      if (progressed != 0 && sleepers_ > 0) wake();
      if (U().ucp_worker_arm(worker_) == UCS_ERR_BUSY) continue;
    }
    pollfd p{efd_, POLLIN, 0};
    ::poll(&p, 1, 100);
  }
}

Worker::~Worker() {
  stop_.store(true);
  if (thread_.joinable()) thread_.join();
  if (worker_ != nullptr) U().ucp_worker_destroy(worker_);
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

Status Worker::address(std::vector<std::byte>& out) {
  ucp_address_t* addr = nullptr;
  size_t len = 0;
  if (ucs_status_t st = U().ucp_worker_get_address(worker_, &addr, &len); st != UCS_OK) {
    return Status::make(Code::kIo, "ucp_worker_get_address failed: " + status_text(st));
  }
  const auto* p = reinterpret_cast<const std::byte*>(addr);
  out.assign(p, p + len);
  U().ucp_worker_release_address(worker_, addr);
  return Status::success();
}

void Worker::wake() {
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof one);
}

Status Worker::wait(const std::function<bool()>& done, const std::function<Status()>& check,
                    const Deadline& deadline, int watch_fd, std::atomic<bool>* watch_fired) {
  const auto spin_until = std::chrono::steady_clock::now() + spin_time();
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      unsigned progressed = 0;
      while (U().ucp_worker_progress(worker_) != 0) ++progressed;
      // Our progress may have completed a request another thread sleeps on.
      if (progressed != 0 && sleepers_ > 0) wake();
      if (done()) return Status::success();
      if (Status s = check(); !s.ok()) return s;
      if (deadline.passed()) return Status::make(Code::kTimeout, "timed out");
      if (std::chrono::steady_clock::now() < spin_until) continue;
      const ucs_status_t st = U().ucp_worker_arm(worker_);
      if (st == UCS_ERR_BUSY) continue;  // events arrived meanwhile: progress again
      if (st != UCS_OK) return Status::make(Code::kIo, "ucp_worker_arm failed: " + status_text(st));
      ++sleepers_;
    }
    pollfd fds[3];
    nfds_t n = 0;
    fds[n++] = {efd_, POLLIN, 0};
    fds[n++] = {wake_fd_, POLLIN, 0};
    const bool watching = watch_fd >= 0 && watch_fired != nullptr && !watch_fired->load();
    if (watching) fds[n++] = {watch_fd, POLLIN | POLLRDHUP, 0};
    int rc = ::poll(fds, n, deadline.poll_ms());
    const int err = errno;
    {
      std::lock_guard<std::mutex> lock(mu_);
      --sleepers_;
    }
    if (rc < 0 && err != EINTR) {
      return Status::make(Code::kIo, fmt::format("poll on a ucx worker failed: {}", std::strerror(err)), err);
    }
    if (rc > 0) {
      if (fds[1].revents != 0) {
        uint64_t v = 0;
        [[maybe_unused]] ssize_t r = ::read(wake_fd_, &v, sizeof v);
      }
      if (watching && fds[2].revents != 0) watch_fired->store(true);
    }
  }
}

}  // namespace gpool::transport::ucx
