// The Stream work queue: one worker thread per stream, started at the first
// enqueue, running tasks in order after their dependencies.
#include "stream.h"

#include "context.h"

namespace gpool::emu::rt {

namespace {
std::atomic<uint64_t> g_next_stream_id{1};
}

Stream::Stream(Context* c, Role r, unsigned f, int prio)
    : Object(Kind::Stream), ctx(c), role(r), flags(f), priority(prio), id(g_next_stream_id++) {}

Stream::~Stream() { shutdown(); }

uint64_t Stream::enqueue(Task task, std::vector<Dep> deps) {
  std::lock_guard lock(mu_);
  if (!worker_.joinable() && !stop_) worker_ = std::thread([this] { run(); });
  queue_.push_back({std::move(task), std::move(deps)});
  const uint64_t seq = ++submitted_;
  cv_.notify_one();
  return seq;
}

void Stream::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stop_ and drained
    Item item = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    for (const Dep& d : item.deps) {
      if (d.stream && d.stream.get() != this) d.stream->wait(d.seq);
    }
    if (item.task) item.task();
    item = Item{};  // release captures before reporting completion
    lock.lock();
    ++completed_;
    done_cv_.notify_all();
  }
}

void Stream::wait(uint64_t seq) {
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [&] { return completed_ >= seq; });
}

bool Stream::done(uint64_t seq) {
  std::lock_guard lock(mu_);
  return completed_ >= seq;
}

void Stream::wait_idle() {
  std::unique_lock lock(mu_);
  const uint64_t target = submitted_;
  done_cv_.wait(lock, [&] { return completed_ >= target; });
}

bool Stream::idle() {
  std::lock_guard lock(mu_);
  return completed_ >= submitted_;
}

uint64_t Stream::last_submitted() {
  std::lock_guard lock(mu_);
  return submitted_;
}

void Stream::shutdown() {
  std::thread t;
  {
    std::lock_guard lock(mu_);
    stop_ = true;
    cv_.notify_all();
    t = std::move(worker_);
  }
  if (t.joinable()) {
    if (t.get_id() == std::this_thread::get_id()) {
      t.detach();  // a host function destroying its own stream; the worker exits after it
    } else {
      t.join();
    }
  }
}

}  // namespace gpool::emu::rt
