// Limits on connections that have not authenticated yet, and on failed authentications.
//
// The supervisor serves every handshake at once from one poll loop (supervisor.h): a peer that
// connects and sends nothing, or sends slowly, or sends garbage, costs a descriptor and a
// buffer until its pre-auth deadline (Config::handshake_timeout_ms), never the supervisor's
// time. PreauthGate bounds what such peers may hold:
//   - at most max_preauth_per_source pending handshakes per source address, and
//     max_preauth in total; a new connection over either limit makes the oldest pending one
//     (of that source, or of all) close, so an idle flood cannot keep out a client whose Hello
//     follows its connect (the supervisor does the evicting; admit() reports the limit);
//   - failed authentications (unknown token) per source address: a token bucket of
//     auth_failures_burst tokens refilled at auth_failures_per_minute; a source with an empty
//     bucket has its new connections closed at accept, unread, until a token is back.
// The source is the peer's address without the port ("tcp://10.0.0.5:41000" -> "10.0.0.5").
// At most kMaxTrackedSources addresses are remembered; past that, forgotten first are those
// with nothing pending and a full bucket, and a new source is refused while none can go.
//
// PreauthStats lives in shared memory so the metrics process can show it (metrics.h):
//   gpool_auth_failures_total, gpool_preauth_evicted_total{reason}, gpool_preauth_refused_total{reason},
//   gpool_preauth_timeouts_total, gpool_preauth_errors_total, gpool_preauth_pending.
// LogLimiter keeps a flood from writing a log line per connection: at most `per_second` lines
// of one kind a second; the next line allowed says how many were suppressed.
//
// Thread safety: PreauthGate and LogLimiter belong to the supervisor's thread; PreauthStats is
// atomics (the supervisor writes, the metrics process reads).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

namespace gpool::server {

struct PreauthLimits {
  unsigned per_source = 32;       // max_preauth_per_source
  unsigned total = 256;           // max_preauth
  unsigned fail_burst = 10;       // auth_failures_burst
  unsigned fail_per_minute = 30;  // auth_failures_per_minute
};

struct PreauthStats {
  std::atomic<uint64_t> auth_failures{0};     // unknown tokens
  std::atomic<uint64_t> evicted_source{0};    // oldest closed: max_preauth_per_source reached
  std::atomic<uint64_t> evicted_total{0};     // oldest closed: max_preauth reached
  std::atomic<uint64_t> refused_total{0};     // no room even so (kMaxTrackedSources)
  std::atomic<uint64_t> refused_auth_rate{0}; // source with no authentication attempts left
  std::atomic<uint64_t> timeouts{0};          // no complete Hello before the deadline
  std::atomic<uint64_t> errors{0};            // malformed first frame, early close
  std::atomic<uint32_t> pending{0};           // handshakes in progress now

  // A zeroed instance in a MAP_SHARED anonymous mapping (inherited by forked children); never
  // unmapped. nullptr when mmap fails.
  static PreauthStats* create_shared();
};

// "tcp://1.2.3.4:56" -> "1.2.3.4", "tcp://[::1]:56" -> "::1"; anything else is returned whole.
std::string source_address(std::string_view peer);

class PreauthGate {
 public:
  using Clock = std::chrono::steady_clock;
  enum class Admit { ok, source_limit, total_limit, auth_rate };
  static constexpr size_t kMaxTrackedSources = 16384;

  explicit PreauthGate(PreauthLimits limits) : limits_(limits) {}
  void set_limits(PreauthLimits limits) { limits_ = limits; }

  // A new connection from `source`: ok counts it as pending (release() it later).
  Admit admit(const std::string& source, Clock::time_point now);
  // A pending handshake of `source` ended (answered, failed or timed out).
  void release(const std::string& source);
  // `source` presented an unknown token: takes one token of its bucket.
  void auth_failed(const std::string& source, Clock::time_point now);
  size_t pending() const { return pending_; }
  size_t tracked_sources() const { return sources_.size(); }

 private:
  struct Source {
    unsigned pending = 0;
    double tokens = 0;
    Clock::time_point refilled{};
  };
  Source* find_or_add(const std::string& source, Clock::time_point now);
  void refill(Source& s, Clock::time_point now) const;
  void prune(Clock::time_point now);

  PreauthLimits limits_;
  std::unordered_map<std::string, Source> sources_;
  size_t pending_ = 0;
};

class LogLimiter {
 public:
  explicit LogLimiter(unsigned per_second) : per_second_(per_second) {}
  // True when a line may be written now; `suppressed` is then the count dropped since the last
  // line written (to mention), else unchanged.
  bool allow(std::chrono::steady_clock::time_point now, uint64_t& suppressed);

 private:
  unsigned per_second_;
  std::chrono::steady_clock::time_point window_{};
  unsigned in_window_ = 0;
  uint64_t dropped_ = 0;
};

}  // namespace gpool::server
