#include "worker_pool.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <new>

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("server"); }

constexpr char kReady = 'R';

}  // namespace

PoolStats* PoolStats::create_shared() {
  void* p = ::mmap(nullptr, sizeof(PoolStats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    logger().critical("mmap of the pool statistics failed: {}", std::strerror(errno));
    throw std::bad_alloc();
  }
  return new (p) PoolStats();
}

int member_await_session(int sock, int& fd, Handoff& h) {
  // A failed send is not the end: a session handed off while we attached is still queued.
  (void)::send(sock, &kReady, 1, MSG_NOSIGNAL);
  return recv_handoff(sock, fd, h);
}

int run_warm_worker(int sock, const WarmContext& ctx) {
  Attachment a;
  attach_backend(ctx.backend_path, a);
  if (!a.ok) {
    logger().error("pool worker {}: {}; check the backend setting", ::getpid(), a.error);
    return 3;
  }
  if (ctx.stats != nullptr) {
    ctx.stats->device_count.store(static_cast<uint32_t>(a.contexts.size()));
    publish_devices(ctx.stats->catalog, a);
  }

  Handoff h;
  int fd = -1;
  const int rc = member_await_session(sock, fd, h);
  ::close(sock);
  if (rc == -ECONNRESET) return 0;  // closed unused (server stopping)
  if (rc != 0) {
    logger().error("pool worker {}: bad hand-off message from the supervisor: {}", ::getpid(),
                   std::strerror(-rc));
    return 1;
  }
  if (ctx.sessions == nullptr || h.slot < 0 || static_cast<size_t>(h.slot) >= ctx.sessions->capacity()) {
    logger().error("pool worker {}: hand-off names session slot {}, outside the table", ::getpid(), h.slot);
    ::close(fd);
    return 1;
  }
  std::unique_ptr<transport::Connection> conn;
  if (transport::Status s = transport::adopt("tcp", fd, transport::Options::from_env(), conn); !s.ok()) {
    logger().error("session {}: pool worker {} cannot adopt the connection: {}", h.session_id,
                   ::getpid(), s.text);
    return 1;
  }
  SessionSlot& slot = ctx.sessions->slot(h.slot);
  slot.warm.store(1);
  WorkerParams params;
  params.backend_path = ctx.backend_path;
  params.image_cache_dir = ctx.image_cache_dir;
  params.image_cache_max_bytes = ctx.image_cache_max_bytes;
  params.public_images = ctx.public_images;
  params.session_id = h.session_id;
  params.tenant = h.tenant;
  params.tenant_index = h.tenant_index;
  params.tenants = ctx.tenants;
  params.scheduler = ctx.scheduler;
  logger().info("session {}: served by pool worker {} (warm)", h.session_id, ::getpid());
  return run_worker(std::move(conn), params, slot, &a);
}

WorkerPool::WorkerPool(unsigned target, PoolStats* stats) : target_(target), stats_(stats) {
  publish();
}

WorkerPool::~WorkerPool() {
  for (const Member& m : workers_) ::close(m.sock);
}

void WorkerPool::publish() {
  if (stats_ == nullptr) return;
  uint32_t ready = 0;
  for (const Member& m : workers_) ready += m.ready ? 1 : 0;
  stats_->target.store(target_);
  stats_->alive.store(static_cast<uint32_t>(workers_.size()));
  stats_->ready.store(ready);
}

std::vector<int> WorkerPool::fds() const {
  std::vector<int> v;
  for (const Member& m : workers_) v.push_back(m.sock);
  return v;
}

void WorkerPool::fill(const std::function<void()>& child_setup, const std::function<int(int)>& child_main) {
  if (stopping_ || std::chrono::steady_clock::now() < backoff_until_) return;
  while (workers_.size() < target_) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      logger().error("socketpair for a pool worker failed: {}; the pool stays at {} of {}",
                     std::strerror(errno), workers_.size(), target_);
      break;
    }
    const pid_t parent = ::getpid();
    std::fflush(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      logger().error("fork of a pool worker failed: {}; the pool stays at {} of {}",
                     std::strerror(errno), workers_.size(), target_);
      ::close(sv[0]);
      ::close(sv[1]);
      break;
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(1);
      std::signal(SIGTERM, SIG_DFL);
      std::signal(SIGINT, SIG_DFL);
      std::signal(SIGHUP, SIG_DFL);
      ::close(sv[0]);
      for (const Member& m : workers_) ::close(m.sock);
      child_setup();
      const int rc = child_main(sv[1]);
      std::fflush(nullptr);
      ::_exit(rc);
    }
    ::close(sv[1]);
    workers_.push_back({pid, sv[0], false});
  }
  publish();
}

void WorkerPool::poll_ready() {
  for (Member& m : workers_) {
    if (m.ready) continue;
    char b = 0;
    if (::recv(m.sock, &b, 1, MSG_DONTWAIT) == 1 && b == kReady) m.ready = true;
  }
  publish();
}

void WorkerPool::drop(size_t i) {
  ::close(workers_[i].sock);
  workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
}

pid_t WorkerPool::hand_off(int fd, const Handoff& h) {
  poll_ready();
  while (!workers_.empty()) {
    size_t pick = 0;
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (workers_[i].ready) {
        pick = i;
        break;
      }
    }
    const Member m = workers_[pick];
    const int rc = send_handoff(m.sock, fd, h);
    drop(pick);
    if (rc == 0) {
      if (stats_ != nullptr) stats_->warm_sessions.fetch_add(1);
      publish();
      return m.pid;
    }
    if (rc == -ENAMETOOLONG) {
      // Not the worker's fault: keep nothing broken, serve this one cold.
      logger().info("session {}: tenant name too long for a pool hand-off; starting a worker", h.session_id);
      workers_.insert(workers_.begin() + static_cast<std::ptrdiff_t>(pick), m);  // put it back
      break;
    }
    logger().warn("hand-off of session {} to pool worker {} failed: {}; dropping that worker",
                  h.session_id, m.pid, std::strerror(-rc));
    ::kill(m.pid, SIGKILL);
  }
  publish();
  return -1;
}

bool WorkerPool::on_exit(pid_t pid, int wait_status) {
  for (size_t i = 0; i < workers_.size(); ++i) {
    if (workers_[i].pid != pid) continue;
    drop(i);
    if (stopping_) {
      publish();
      return true;
    }
    if (stats_ != nullptr) stats_->pool_failures.fetch_add(1);
    backoff_until_ = std::chrono::steady_clock::now() + kRefillBackoff;
    if (WIFSIGNALED(wait_status)) {
      logger().warn("pool worker {} was killed by signal {} before it got a session; refilling in {} s",
                    pid, WTERMSIG(wait_status), kRefillBackoff.count());
    } else {
      logger().warn("pool worker {} exited with code {} before it got a session; refilling in {} s",
                    pid, WEXITSTATUS(wait_status), kRefillBackoff.count());
    }
    publish();
    return true;
  }
  return false;
}

void WorkerPool::terminate() {
  stopping_ = true;
  for (const Member& m : workers_) ::kill(m.pid, SIGTERM);
}

}  // namespace gpool::server
