#include "preauth.h"

#include <sys/mman.h>

#include <algorithm>
#include <new>

namespace gpool::server {

PreauthStats* PreauthStats::create_shared() {
  void* p = ::mmap(nullptr, sizeof(PreauthStats), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  return new (p) PreauthStats();
}

std::string source_address(std::string_view peer) {
  if (const size_t scheme = peer.find("://"); scheme != std::string_view::npos) {
    peer.remove_prefix(scheme + 3);
  }
  if (!peer.empty() && peer.front() == '[') {
    const size_t close = peer.find(']');
    if (close != std::string_view::npos) return std::string(peer.substr(1, close - 1));
    return std::string(peer);
  }
  const size_t colon = peer.rfind(':');
  if (colon != std::string_view::npos && peer.find(':') == colon) return std::string(peer.substr(0, colon));
  return std::string(peer);
}

void PreauthGate::refill(Source& s, Clock::time_point now) const {
  const double burst = limits_.fail_burst;
  if (s.tokens >= burst) {
    s.tokens = burst;
    s.refilled = now;
    return;
  }
  const double secs = std::chrono::duration<double>(now - s.refilled).count();
  if (secs <= 0) return;
  s.tokens = std::min(burst, s.tokens + secs * limits_.fail_per_minute / 60.0);
  s.refilled = now;
}

void PreauthGate::prune(Clock::time_point now) {
  for (auto it = sources_.begin(); it != sources_.end();) {
    refill(it->second, now);
    if (it->second.pending == 0 && it->second.tokens >= limits_.fail_burst) {
      it = sources_.erase(it);
    } else {
      ++it;
    }
  }
}

PreauthGate::Source* PreauthGate::find_or_add(const std::string& source, Clock::time_point now) {
  auto it = sources_.find(source);
  if (it != sources_.end()) {
    refill(it->second, now);
    return &it->second;
  }
  if (sources_.size() >= kMaxTrackedSources) prune(now);
  if (sources_.size() >= kMaxTrackedSources) return nullptr;
  Source s;
  s.tokens = limits_.fail_burst;
  s.refilled = now;
  return &sources_.emplace(source, s).first->second;
}

PreauthGate::Admit PreauthGate::admit(const std::string& source, Clock::time_point now) {
  if (pending_ >= limits_.total) return Admit::total_limit;
  Source* s = find_or_add(source, now);
  if (s == nullptr) return Admit::total_limit;
  if (s->tokens < 1.0) return Admit::auth_rate;
  if (s->pending >= limits_.per_source) return Admit::source_limit;
  ++s->pending;
  ++pending_;
  return Admit::ok;
}

void PreauthGate::release(const std::string& source) {
  auto it = sources_.find(source);
  if (it == sources_.end() || it->second.pending == 0) return;
  --it->second.pending;
  --pending_;
}

void PreauthGate::auth_failed(const std::string& source, Clock::time_point now) {
  Source* s = find_or_add(source, now);
  if (s != nullptr) s->tokens = std::max(0.0, s->tokens - 1.0);
}

bool LogLimiter::allow(std::chrono::steady_clock::time_point now, uint64_t& suppressed) {
  if (now - window_ >= std::chrono::seconds(1)) {
    window_ = now;
    in_window_ = 0;
  }
  if (in_window_ >= per_second_) {
    ++dropped_;
    return false;
  }
  ++in_window_;
  suppressed = dropped_;
  dropped_ = 0;
  return true;
}

}  // namespace gpool::server
