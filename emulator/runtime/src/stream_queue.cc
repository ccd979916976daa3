// The Stream work queue: one worker thread per stream, started at the first
// enqueue, running tasks in order after their dependencies.
#include "stream.h"

#include "context.h"
#include "memop.h"

#include <algorithm>

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
    memop_notify();  // the task may have written a word a stream memory operation waits on
    lock.lock();
    ++completed_;
    // Wakes the waiters only once the earliest position one of them waits for has run, not
    // after every task: a synchronisation behind 1,000 queued graph launches used to be woken
    // (and rescheduled) 1,000 times, which on a loaded host cost as much as the work.
    if (completed_ >= wake_at_) {
      wake_at_ = kNobody;
      done_cv_.notify_all();
    }
  }
}

void Stream::wait_locked(std::unique_lock<std::mutex>& lock, uint64_t seq) {
  while (completed_ < seq) {
    // Every waiter not yet satisfied (after a wake-up too) puts its position back.
    wake_at_ = std::min(wake_at_, seq);
    done_cv_.wait(lock);
  }
}

void Stream::wait(uint64_t seq) {
  std::unique_lock lock(mu_);
  wait_locked(lock, seq);
}

bool Stream::done(uint64_t seq) {
  std::lock_guard lock(mu_);
  return completed_ >= seq;
}

void Stream::wait_idle() {
  std::unique_lock lock(mu_);
  wait_locked(lock, submitted_);
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
