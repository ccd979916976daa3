#include "gpool/transport/receive_handoff.h"

#include <utility>

namespace gpool::transport {

ReceiveHandoff::~ReceiveHandoff() { stop(); }

Status ReceiveHandoff::next(FrameHead& head, Timeout timeout) {
  for (;;) {
    bool filtered = false;  // filter_ is set once, before started_, under mu_
    {
      std::unique_lock<std::mutex> lock(mu_);
      filtered = started_;
      cv_.wait(lock, [&] { return stashed_ || failed_ || !side_holds_; });
      if (stashed_) {
        std::swap(head, stash_);
        stashed_ = false;
        owner_holds_ = true;
        cv_.notify_all();
        return Status::success();
      }
      if (failed_) return error_;
      owner_holds_ = true;
    }
    // A timeout applies to the owner's own receive only (a side receive is waited for).
    const Status s = conn_.recv_head(head, timeout);
    if (!s.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        owner_holds_ = false;
        cv_.notify_all();
      }
      if (s.code != Code::kTimeout) fail(s);
      return s;
    }
    if (filtered && filter_(head)) {
      done();
      continue;
    }
    return s;
  }
}

void ReceiveHandoff::done() {
  std::lock_guard<std::mutex> lock(mu_);
  owner_holds_ = false;
  cv_.notify_all();
}

bool ReceiveHandoff::frame_ready() {
  std::lock_guard<std::mutex> lock(mu_);
  // Without a side thread nobody else receives: the connection may be asked directly.
  return started_ ? stashed_ : conn_.frame_ready();
}

void ReceiveHandoff::start(Filter filter, OnError on_error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (started_) return;
  filter_ = std::move(filter);
  on_error_ = std::move(on_error);
  started_ = true;
  thread_ = std::thread([this] { side_loop(); });
}

bool ReceiveHandoff::started() {
  std::lock_guard<std::mutex> lock(mu_);
  return started_;
}

void ReceiveHandoff::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
    cv_.notify_all();
  }
  if (thread_.joinable()) thread_.join();
}

void ReceiveHandoff::fail(const Status& s) {
  OnError cb;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (failed_) return;
    failed_ = true;
    error_ = s;
    cb = on_error_;
    cv_.notify_all();
  }
  if (cb) cb(s);
}

void ReceiveHandoff::side_loop() {
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || failed_ || (!owner_holds_ && !stashed_); });
      if (stop_ || failed_) return;
      side_holds_ = true;
    }
    const Status s = conn_.recv_head(side_head_);
    const bool took = s.ok() && filter_(side_head_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      side_holds_ = false;
      if (s.ok() && !took) {
        std::swap(stash_, side_head_);
        stashed_ = true;
      }
      cv_.notify_all();
    }
    if (!s.ok()) {
      fail(s);
      return;
    }
  }
}

}  // namespace gpool::transport
