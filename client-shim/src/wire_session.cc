#include "wire_session.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstring>
#include <thread>
#include <utility>

#include "gpool/common/env.h"
#include "gpool/common/log.h"

namespace gpool::shim {
namespace {

namespace wire = protocol::wire;

spdlog::logger& logger() { return log::logger("shim"); }

transport::Options shim_options(const transport::TlsOptions& tls) {
  transport::Options o = transport::Options::from_env();
  o.tls = tls;
  // A vanished server must surface as an error within a few seconds, not the TCP default.
  if (!env::get("GPOOL_TRANSPORT_KEEPALIVE_IDLE_S")) o.keepalive_idle = std::chrono::seconds(2);
  if (!env::get("GPOOL_TRANSPORT_KEEPALIVE_INTVL_S")) o.keepalive_interval = std::chrono::seconds(1);
  if (!env::get("GPOOL_TRANSPORT_KEEPALIVE_COUNT")) o.keepalive_count = 2;
  if (!env::get("GPOOL_TRANSPORT_CONNECT_TIMEOUT_MS")) o.connect_timeout = std::chrono::milliseconds(3000);
  return o;
}

// What to check when the connection failed at the handshake, by scheme.
std::string tls_hint(const std::string& url, const transport::Status& s) {
  if (url.rfind("tls://", 0) == 0) {
    return s.text.find("certificate") != std::string::npos || s.text.find("fingerprint") != std::string::npos
               ? "; check GPOOL_TLS_CA / GPOOL_TLS_FINGERPRINT (the server) and GPOOL_TLS_CERT / "
                 "GPOOL_TLS_KEY (this client's certificate)"
               : "";
  }
  if (s.code == transport::Code::kDisconnected) {
    return "; if the server listens on tls://, use a tls:// URL in GPOOL_SERVER";
  }
  return "";
}

std::string program_name() {
  char buf[PATH_MAX] = {};
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "?";
}

bool corrupts_context(int32_t st) {
  switch (st) {
    case CUDA_ERROR_ILLEGAL_ADDRESS: case CUDA_ERROR_ASSERT: case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION: case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE: case CUDA_ERROR_INVALID_PC: case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
      return true;
    default:
      return false;
  }
}

}  // namespace

WireSession::WireSession(std::string url, std::string token, transport::TlsOptions tls)
    : url_(std::move(url)), token_(std::move(token)), tls_(std::move(tls)) {}

CUresult WireSession::usable() const {
  if (dead_ != CUDA_SUCCESS) return dead_;
  if (context_error_ != CUDA_SUCCESS) return context_error_;
  if (!ready_) return CUDA_ERROR_NOT_INITIALIZED;
  return CUDA_SUCCESS;
}

CUresult WireSession::take_context_error() { return std::exchange(context_error_, CUDA_SUCCESS); }

void WireSession::shutdown() {
  if (dead_ == CUDA_SUCCESS) dead_ = CUDA_ERROR_DEVICE_UNAVAILABLE;
  if (conn_) conn_->shutdown();
}

CUresult WireSession::lost(const std::string& why) {
  if (dead_ == CUDA_SUCCESS) {
    logger().error("lost the session with gpool server {}: {}; CUDA calls fail from now on",
                   url_, why);
    dead_ = CUDA_ERROR_DEVICE_UNAVAILABLE;
    if (conn_) conn_->shutdown();
  }
  return dead_;
}

// One connection and Hello. CUDA_SUCCESS with `busy` empty: welcomed; with `busy` set: refused
// as ServerBusy (its text). Any other failure is logged and returned.
CUresult WireSession::handshake(std::string& busy) {
  if (transport::Status s = transport::connect(url_, shim_options(tls_), conn_); !s.ok()) {
    logger().error("cannot reach gpool server {}: {}; set GPOOL_SERVER to a running server's URL",
                   url_, s.text);
    return CUDA_ERROR_NO_DEVICE;
  }
  {
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    fbb_.Clear();
    auto info = wire::CreateClientInfo(fbb_, fbb_.CreateString(host), static_cast<uint32_t>(::getpid()),
                                       fbb_.CreateString(program_name()), fbb_.CreateString("0.1.0"));
    auto hello = wire::CreateHello(fbb_, protocol::kProtocolVersion, fbb_.CreateString(token_), info);
    protocol::finish_envelope(fbb_, hello);
    if (transport::Status s = conn_->send(protocol::finished_bytes(fbb_)); !s.ok()) {
      logger().error("cannot send Hello to gpool server {}: {}{}", url_, s.text, tls_hint(url_, s));
      return CUDA_ERROR_NO_DEVICE;
    }
  }
  if (transport::Status s = conn_->recv_head(head_, std::chrono::milliseconds(10000)); !s.ok()) {
    logger().error("no handshake answer from gpool server {}: {}{}", url_, s.text, tls_hint(url_, s));
    return CUDA_ERROR_NO_DEVICE;
  }
  if (const wire::Refusal* r = head_.envelope->message_as_Refusal()) {
    if (r->reason() == wire::RefusalReason_ServerBusy) {
      busy = r->text() ? r->text()->str() : "no reason given";
      if (busy.empty()) busy = "no reason given";
      return CUDA_SUCCESS;
    }
    logger().error("gpool server {} refused the session ({}): {}", url_,
                   wire::EnumNameRefusalReason(r->reason()), r->text() ? r->text()->str() : "");
    return r->reason() == wire::RefusalReason_BadCredential ? CUDA_ERROR_NOT_PERMITTED
                                                            : CUDA_ERROR_DEVICE_UNAVAILABLE;
  }
  if (head_.envelope->message_as_Welcome() == nullptr) {
    logger().error("gpool server {} answered Hello with {}", url_,
                   protocol::message_type_name(head_.envelope->message_type()));
    return CUDA_ERROR_NO_DEVICE;
  }
  return CUDA_SUCCESS;
}

CUresult WireSession::connect(bool busy_final, bool& refused_busy) {
  // A ServerBusy refusal (the server's session limit) is retried with backoff, up to
  // GPOOL_BUSY_WAIT_MS in all; every other outcome is final.
  const auto budget = std::chrono::milliseconds(std::max<int64_t>(0, env::get_int("GPOOL_BUSY_WAIT_MS", 10000)));
  const auto give_up = std::chrono::steady_clock::now() + budget;
  auto backoff = std::chrono::milliseconds(50);
  for (int attempt = 0;; ++attempt) {
    std::string busy;
    if (CUresult st = handshake(busy); st != CUDA_SUCCESS || busy.empty()) {
      if (st != CUDA_SUCCESS) return st;
      break;
    }
    conn_.reset();
    if (busy_final) {
      refused_busy = true;
      logger().info("gpool server {} is busy ({}); trying another server of the pool", url_, busy);
      return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    if (std::chrono::steady_clock::now() + backoff > give_up) {
      logger().error("gpool server {} is busy ({}){}; giving up: retry later, raise the server's "
                     "max_sessions, or set GPOOL_BUSY_WAIT_MS to wait longer", url_, busy,
                     attempt == 0 ? "" : fmt::format(" after {} retries", attempt));
      return CUDA_ERROR_DEVICE_UNAVAILABLE;
    }
    if (attempt == 0) {
      logger().warn("gpool server {} is busy ({}); retrying for up to {} ms (GPOOL_BUSY_WAIT_MS)",
                    url_, busy, budget.count());
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
  }
  rx_ = std::make_unique<transport::ReceiveHandoff>(*conn_);
  return CUDA_SUCCESS;
}

bool WireSession::set_attach(const Reply& reply) {
  if (reply.results.size() < 2 || !remote::decode_devices(reply.inline_data, devices_) || devices_.empty()) {
    logger().error("gpool server {} sent a malformed device list", url_);
    return false;
  }
  server_driver_version_ = static_cast<int>(reply.results[1]);
  return true;
}

CUresult WireSession::send(Op op, bool async, std::span<const uint64_t> args,
                           std::span<const HandleRef> handles, std::span<const std::byte> inline_data,
                           std::span<const transport::ConstBytes> segments) {
  if (CUresult st = usable(); st != CUDA_SUCCESS) return st;
  remote::build_call(fbb_, ++call_id_, ++seq_, op, async, args, handles, inline_data,
                     static_cast<uint32_t>(segments.size()));
  // Async calls are queued: they leave in one write with the next sync call (or when the
  // transport's buffer fills), so a launch loop costs no system call per launch. A sync call
  // is sent at once, carrying everything queued before it.
  std::lock_guard<std::mutex> wlock(wmu_);
  const transport::Status s = async ? conn_->queue(protocol::finished_bytes(fbb_), segments)
                                    : conn_->send(protocol::finished_bytes(fbb_), segments);
  if (!s.ok()) return lost(s.text);
  return CUDA_SUCCESS;
}

CUresult WireSession::flush() {
  if (dead_ != CUDA_SUCCESS) return dead_;
  if (!conn_) return CUDA_ERROR_NOT_INITIALIZED;
  std::lock_guard<std::mutex> wlock(wmu_);
  if (transport::Status s = conn_->flush(); !s.ok()) return lost(s.text);
  return CUDA_SUCCESS;
}

void WireSession::start_side_reader(transport::ReceiveHandoff::Filter filter) {
  if (!rx_) return;
  rx_->start(std::move(filter), [url = url_](const transport::Status& s) {
    // Seen by the next call too; logged here for a program that makes none.
    logger().debug("gpool server {}: the host-function reader stopped: {}", url, s.text);
  });
}

CUresult WireSession::send_out_of_band(Op op, uint64_t arg, std::span<const std::byte> inline_data) {
  const uint64_t args[] = {arg};
  return send_out_of_band(op, std::span<const uint64_t>(args), inline_data);
}

CUresult WireSession::send_out_of_band(Op op, std::span<const uint64_t> args, std::span<const std::byte> inline_data) {
  flatbuffers::FlatBufferBuilder fbb;
  remote::build_call(fbb, 0, 0, op, true, args, {}, inline_data, 0);
  std::lock_guard<std::mutex> wlock(wmu_);
  if (!conn_) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  const transport::Status s = conn_->send(protocol::finished_bytes(fbb));
  return s.ok() ? CUDA_SUCCESS : CUDA_ERROR_DEVICE_UNAVAILABLE;
}

CUresult WireSession::call(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                           std::span<const std::byte> inline_data,
                           std::span<const transport::ConstBytes> segments, Reply* reply,
                           std::span<const transport::MutableBytes> dests) {
  if (CUresult st = send(op, false, args, handles, inline_data, segments); st != CUDA_SUCCESS) return st;
  ++round_trips_;
  return await_reply(op, reply, dests);
}

CUresult WireSession::await_reply(Op op, Reply* reply, std::span<const transport::MutableBytes> dests) {
  const uint64_t id = call_id_;
  uint64_t chunk_bytes = 0;  // bytes of MemcpyDtoHChunk notes received into dests[0]
  for (;;) {
    if (transport::Status s = rx_->next(head_); !s.ok()) return lost(s.text);
    // This frame's segments are read below; then the side thread may receive again.
    struct Release {
      transport::ReceiveHandoff& rx;
      ~Release() { rx.done(); }
    } release{*rx_};
    const wire::Envelope* env = head_.envelope;
    if (const wire::Call* note = env->message_as_Call()) {
      const auto nop = static_cast<Op>(note->opcode());
      if (nop == Op::MemcpyDtoHChunk) {
        // A piece of a D2H copy (calls.toml): straight into the caller's buffer at its offset.
        const uint64_t off = note->args() && note->args()->size() == 1 ? note->args()->Get(0) : ~uint64_t{0};
        if (dests.size() != 1 || head_.segment_count() != 1 || off > dests[0].size() ||
            head_.segment_lengths[0] > dests[0].size() - off) {
          return lost("a copy chunk outside the destination buffer");
        }
        const size_t n = static_cast<size_t>(head_.segment_lengths[0]);
        if (transport::Status s = conn_->recv_segment(dests[0].subspan(off, n)); !s.ok()) {
          return lost(s.text);
        }
        chunk_bytes += n;
        continue;
      }
      if ((nop != Op::OutputStdout && nop != Op::OutputStderr) || head_.segment_count() != 1) {
        return lost(fmt::format("unexpected call {} from the server", note->opcode()));
      }
      out_buf_.resize(head_.segment_lengths[0]);
      if (transport::Status s = conn_->recv_segment(out_buf_); !s.ok()) return lost(s.text);
      const int fd = nop == Op::OutputStdout ? 1 : 2;
      std::fflush(fd == 1 ? stdout : stderr);
      size_t off = 0;
      while (off < out_buf_.size()) {
        const ssize_t n = ::write(fd, out_buf_.data() + off, out_buf_.size() - off);
        if (n <= 0) break;
        off += static_cast<size_t>(n);
      }
      continue;
    }
    if (const wire::Abort* a = env->message_as_Abort()) {
      return lost(fmt::format("the server aborted the session ({}): {}",
                              wire::EnumNameAbortReason(a->reason()), a->text() ? a->text()->str() : ""));
    }
    if (const wire::Unimplemented* u = env->message_as_Unimplemented()) {
      if (u->call_id() != id) return lost("an Unimplemented answer for another call");
      logger().warn("the gpool server does not implement call {} ({})",
                    protocol::calls::EnumNameOp(op), static_cast<uint32_t>(op));
      return CUDA_ERROR_NOT_SUPPORTED;
    }
    const wire::Reply* r = env->message_as_Reply();
    if (r == nullptr || r->call_id() != id) {
      return lost(fmt::format("expected the reply to call {}, got {}", id,
                              protocol::message_type_name(env->message_type())));
    }
    const uint32_t nseg = head_.segment_count();
    if (nseg != 0) {
      if (nseg != dests.size()) return lost("a reply with unexpected segments");
      for (uint32_t i = 0; i < nseg; ++i) {
        if (head_.segment_lengths[i] != dests[i].size()) return lost("a reply segment of the wrong size");
        if (transport::Status s = conn_->recv_segment(dests[i]); !s.ok()) return lost(s.text);
      }
    }
    if (reply != nullptr) {
      reply->results.clear();
      if (r->results()) reply->results.assign(r->results()->begin(), r->results()->end());
      if (r->inline_data()) {
        const auto* d = reinterpret_cast<const std::byte*>(r->inline_data()->data());
        reply->inline_data.assign(d, d + r->inline_data()->size());
      } else {
        reply->inline_data.clear();
      }
    }
    const int32_t st = r->status() != 0 ? r->status() : r->sticky_status();
    if (r->status() == 0 && nseg == 0 && dests.size() == 1 && chunk_bytes != dests[0].size()) {
      return lost("a copy reply whose chunks do not cover the destination");
    }
    if (corrupts_context(st)) context_error_ = static_cast<CUresult>(st);
    if (st != 0) return static_cast<CUresult>(st);
    return CUDA_SUCCESS;
  }
}

}  // namespace gpool::shim
