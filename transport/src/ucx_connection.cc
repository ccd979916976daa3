#include "ucx_connection.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "gpool/common/env.h"
#include "gpool/common/log.h"
#include "gpool/protocol/frame.h"
#include "tcp/socket_util.h"
#include "ucx_api.h"

namespace gpool::transport::ucx {
namespace {

spdlog::logger& logger() { return log::logger("transport"); }

// Bootstrap records on the TCP socket: 16 bytes (magic, type, payload length, chunk size),
// little-endian, then the payload. A gpool frame starts with kFrameMagic instead.
constexpr uint32_t kRecordMagic = 0x58555047;  // "GPUX"
constexpr uint32_t kUpgrade = 1;               // client -> server: client worker address
constexpr uint32_t kAck = 2;                   // server -> client: server worker address (empty: refused)
constexpr uint32_t kSwitch = 3;                // client -> server: the rest comes over UCX
constexpr size_t kRecordBytes = 16;
constexpr uint32_t kMaxRecordPayload = 64 * 1024;

constexpr uint64_t kTagHead = uint64_t{1} << 60;
constexpr uint64_t kTagSeg = uint64_t{2} << 60;
constexpr uint64_t kTagMask = ~uint64_t{0};

constexpr size_t kReadAhead = 64 * 1024;
constexpr size_t kQueueFrameMax = 64 * 1024;
constexpr size_t kCorkLimit = 256 * 1024;
constexpr size_t kMaxHeadMessage = kCorkLimit + kQueueFrameMax + protocol::kFrameHeaderBytes +
                                   protocol::kMaxSegments * protocol::kSegmentEntryBytes +
                                   protocol::kMaxControlBytes + kInlineSegmentBytes;

bool peer_errors() {
  static const bool on = env::get_bool("GPOOL_UCX_PEER_ERRORS", false);
  return on;
}

uint32_t le32(const std::byte* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

uint32_t clamp_chunk(size_t bytes) {
  return static_cast<uint32_t>(std::clamp<size_t>(bytes, 4096, size_t{1} << 30));
}

Status protocol_error(const std::string& peer, const std::string& what) {
  return Status::make(Code::kProtocol, fmt::format("ucx connection from {} broke the bootstrap protocol: {}", peer, what));
}

}  // namespace

UcxConnection::UcxConnection(int fd, std::string peer, Role role, const Options& options)
    : fd_(fd), peer_(std::move(peer)), role_(role), options_(options),
      chunk_(clamp_chunk(options.chunk_bytes)), tbuf_(kReadAhead) {
  head_buf_.resize(protocol::kFrameHeaderBytes + protocol::kMaxSegments * protocol::kSegmentEntryBytes);
}

UcxConnection::~UcxConnection() {
  if (Worker* w = w_.load(); w != nullptr && !poisoned_.load()) {
    void* close_req = nullptr;
    {
      std::lock_guard<std::mutex> lock(w->mu());
      if (ep_ != nullptr) {
        // Flush what we sent (so the peer gets it before the bootstrap socket closes), unless
        // the connection is already dead.
        ucp_request_param_t p{};
        const bool dead = shut_.load() || hangup_.load() || ep_error_.load() != 0 ||
                          send_broken_.has_value() || recv_broken_.has_value();
        if (dead && peer_errors()) {
          p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
          p.flags = UCP_EP_CLOSE_FLAG_FORCE;
        }
        ucs_status_ptr_t r = U().ucp_ep_close_nbx(ep_, &p);
        if (r != nullptr && !UCS_PTR_IS_ERR(r)) close_req = r;
        ep_ = nullptr;
      }
    }
    if (close_req != nullptr) {
      const Deadline d = Deadline::after(std::chrono::milliseconds(1000));
      std::atomic<bool> fired{false};
      Status s = w->wait([&] { return U().ucp_request_check_status(close_req) != UCS_INPROGRESS; },
                         [] { return Status::success(); }, d, -1, &fired);
      std::lock_guard<std::mutex> lock(w->mu());
      U().ucp_request_free(close_req);  // released by UCX once complete if it is not yet
      if (!s.ok()) logger().info("closing the ucx endpoint to {} did not finish within 1 s", peer_);
    }
    worker_.reset();
  } else if (w != nullptr) {
    // Retired (see abandon_requests): destroy without progressing it first.
    std::lock_guard<std::mutex> lock(w->mu());
    ep_ = nullptr;
  }
  worker_.reset();
  ::close(fd_);
}

const char* UcxConnection::backend() const {
  return send_mode_.load() == Mode::kUcx && recv_mode_.load() == Mode::kUcx ? "ucx" : "ucx/tcp-bootstrap";
}

int UcxConnection::handoff_fd() const {
  if (w_.load() != nullptr || send_mode_.load() != Mode::kTcp || recv_mode_.load() != Mode::kTcp) return -1;
  if (tend_ != tpos_ || seg_next_ != seg_count_ || !pending_.empty()) return -1;
  if (recv_broken_ || send_broken_ || shut_.load()) return -1;
  return fd_;
}

void UcxConnection::shutdown() {
  shut_.store(true, std::memory_order_release);
  ::shutdown(fd_, SHUT_RDWR);
  if (Worker* w = w_.load(); w != nullptr) w->wake();
}

Status UcxConnection::disconnected(const std::string& why) const {
  return Status::make(Code::kDisconnected, why);
}

Status UcxConnection::ucx_check() const {
  if (shut_.load(std::memory_order_acquire)) return disconnected(fmt::format("connection to {} was shut down", peer_));
  if (int e = ep_error_.load(); e != 0) {
    return disconnected(fmt::format("{} closed the connection (ucx endpoint error: {})", peer_,
                                    status_text(static_cast<ucs_status_t>(e))));
  }
  if (hangup_.load()) return disconnected(fmt::format("{} closed the connection", peer_));
  if (ep_closed_.load() || poisoned_.load()) return disconnected(fmt::format("connection to {} is broken", peer_));
  return Status::success();
}

void UcxConnection::on_ep_error(void* arg, ucp_ep_h, ucs_status_t status) {
  auto* self = static_cast<UcxConnection*>(arg);
  self->ep_error_.store(static_cast<int>(status));
  if (Worker* w = self->w_.load(); w != nullptr) w->wake();
}

Status UcxConnection::create_endpoint(const std::vector<std::byte>& peer_address) {
  Worker* w = w_.load();
  std::lock_guard<std::mutex> lock(w->mu());
  ucp_ep_params_t p{};
  p.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                 UCP_EP_PARAM_FIELD_ERR_HANDLER;
  p.address = reinterpret_cast<const ucp_address_t*>(peer_address.data());
  // UCX 1.13's shared-memory transports have no peer-failure support, so PEER mode would leave
  // only TCP lanes. By default peer loss is detected on the bootstrap socket instead;
  // GPOOL_UCX_PEER_ERRORS=1 asks UCX for PEER mode (its own keepalive, forced close).
  p.err_mode = peer_errors() ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE;
  p.err_handler.cb = &UcxConnection::on_ep_error;
  p.err_handler.arg = this;
  if (ucs_status_t st = U().ucp_ep_create(w->get(), &p, &ep_); st != UCS_OK) {
    ep_ = nullptr;
    return Status::make(Code::kIo, fmt::format("ucp_ep_create to {} failed: {}", peer_, status_text(st)));
  }
  return Status::success();
}

Status UcxConnection::request_error(ucs_status_t st, const char* what) const {
  if (Status s = ucx_check(); !s.ok()) return s;
  if (st == UCS_ERR_MESSAGE_TRUNCATED) {
    return Status::make(Code::kProtocol, fmt::format("{} from {}: a ucx message is larger than announced", what, peer_));
  }
  if (st == UCS_ERR_CANCELED || st == UCS_ERR_CONNECTION_RESET || st == UCS_ERR_ENDPOINT_TIMEOUT ||
      st == UCS_ERR_UNREACHABLE) {
    return disconnected(fmt::format("{} with {} failed: {}", what, peer_, status_text(st)));
  }
  return Status::make(Code::kIo, fmt::format("{} with {} failed: {}", what, peer_, status_text(st)));
}

Status UcxConnection::post_recv(std::deque<Pending>& reqs, std::byte* buf, size_t len) {
  Worker* w = w_.load();
  std::lock_guard<std::mutex> lock(w->mu());
  ucp_request_param_t p{};
  p.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
  ucs_status_ptr_t r = U().ucp_tag_recv_nbx(w->get(), buf, len, kTagSeg, kTagMask, &p);
  if (UCS_PTR_IS_ERR(r)) return request_error(UCS_PTR_STATUS(r), "ucp_tag_recv_nbx");
  reqs.push_back({r, true, len});
  return Status::success();
}

Status UcxConnection::wait_requests(std::deque<Pending>& reqs, size_t keep, const Deadline& deadline) {
  Worker* w = w_.load();
  while (reqs.size() > keep) {
    Pending& p = reqs.front();
    ucs_status_t st = UCS_INPROGRESS;
    Status s = w->wait([&] { return (st = U().ucp_request_check_status(p.req)) != UCS_INPROGRESS; },
                       [&] { return ucx_check(); }, deadline, fd_, &hangup_);
    if (!s.ok()) {
      if (s.code == Code::kTimeout) s.text = fmt::format("ucx transfer with {} timed out", peer_);
      return s;
    }
    size_t got = p.expect;
    {
      std::lock_guard<std::mutex> lock(w->mu());
      if (p.recv && st == UCS_OK) {
        ucp_tag_recv_info_t info{};
        U().ucp_tag_recv_request_test(p.req, &info);
        got = info.length;
      }
      U().ucp_request_free(p.req);
    }
    const bool recv = p.recv;
    const size_t expect = p.expect;
    reqs.pop_front();
    if (st != UCS_OK) return request_error(st, recv ? "ucx receive" : "ucx send");
    if (recv && got != expect) {
      return Status::make(Code::kProtocol, fmt::format("ucx message from {} has {} bytes where {} were announced",
                                                       peer_, got, expect));
    }
  }
  return Status::success();
}

void UcxConnection::abandon_requests(std::deque<Pending>& reqs) {
  Worker* w = w_.load();
  if (w == nullptr || reqs.empty()) return;
  {
    std::lock_guard<std::mutex> lock(w->mu());
    for (const Pending& p : reqs) U().ucp_request_cancel(w->get(), p.req);
    if (ep_ != nullptr) {
      // The connection is broken: force-closing the endpoint completes its outstanding sends
      // (UCX would otherwise go on reading the caller's buffers after we return). Without PEER
      // error handling UCX calls this unsafe for the remote side, which is gone or broken too.
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      p.flags = UCP_EP_CLOSE_FLAG_FORCE;
      ucs_status_ptr_t r = U().ucp_ep_close_nbx(ep_, &p);
      ep_ = nullptr;
      ep_closed_.store(true);
      if (r != nullptr && !UCS_PTR_IS_ERR(r)) reqs.push_back({r, false, 0});
    }
  }
  w->wake();
  const Deadline d = Deadline::after(std::chrono::milliseconds(500));
  while (!reqs.empty()) {
    std::atomic<bool> fired{false};
    Status s = w->wait([&] {
      while (!reqs.empty() && U().ucp_request_check_status(reqs.front().req) != UCS_INPROGRESS) {
        U().ucp_request_free(reqs.front().req);
        reqs.pop_front();
      }
      return reqs.empty();
    }, [] { return Status::success(); }, d, -1, &fired);
    if (!s.ok()) {
      // Receives matched by a message that will never finish cannot be cancelled. The worker
      // is never progressed again, so UCX cannot write into those buffers after we return.
      logger().warn("{} ucx receive(s) from {} could not be cancelled; the connection's worker "
                    "is retired", reqs.size(), peer_);
      poisoned_.store(true);
      reqs.clear();
    }
  }
}

// ---------------------------------------------------------------- send side

Status UcxConnection::check_broken(const std::optional<Status>& broken) const {
  if (broken) return *broken;
  if (shut_.load(std::memory_order_acquire)) return shut_status();
  return Status::success();
}

Status UcxConnection::shut_status() const {
  return disconnected(fmt::format("connection to {} was shut down", peer_));
}

Status UcxConnection::as_broken(Status s) const {
  return shut_.load() && s.code != Code::kDisconnected ? shut_status() : s;
}

Status UcxConnection::check_send() const { return check_broken(send_broken_); }

Status UcxConnection::fail_send(Status s) {
  send_broken_ = as_broken(std::move(s));
  pending_.clear();
  return *send_broken_;
}

Status UcxConnection::tcp_write(std::span<const ConstBytes> parts, const Deadline& deadline) {
  std::vector<iovec> iov;
  iov.reserve(parts.size());
  for (ConstBytes p : parts) {
    if (!p.empty()) iov.push_back({const_cast<std::byte*>(p.data()), p.size()});
  }
  size_t first = 0;
  while (first < iov.size()) {
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err != EAGAIN && err != EWOULDBLOCK) return tcp::errno_status("send", err, peer_);
      if (shut_.load()) return disconnected(fmt::format("connection to {} was shut down", peer_));
      pollfd p{fd_, POLLOUT, 0};
      const int rc = ::poll(&p, 1, deadline.poll_ms());
      if (rc == 0) return Status::make(Code::kTimeout, fmt::format("send to {} timed out", peer_));
      continue;
    }
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) left -= iov[first++].iov_len;
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::success();
}

Status UcxConnection::write_record(uint32_t type, ConstBytes payload, const Deadline& deadline) {
  std::byte rec[kRecordBytes];
  const uint32_t fields[4] = {kRecordMagic, type, static_cast<uint32_t>(payload.size()), chunk_};
  std::memcpy(rec, fields, sizeof rec);
  const ConstBytes parts[] = {ConstBytes(pending_), ConstBytes(rec, sizeof rec), payload};
  Status s = tcp_write(parts, deadline);
  pending_.clear();
  return s;
}

Status UcxConnection::prepare_send_mode(const Deadline& deadline) {
  if (role_ != Role::kClient) return Status::success();
  if (send_mode_.load() == Mode::kTcp && !upgrade_off_ && upgrade_wanted_.load()) {
    std::unique_ptr<Worker> w;
    std::vector<std::byte> addr;
    Status s = Worker::create(w);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(w->mu());
      s = w->address(addr);
    }
    if (!s.ok()) {
      logger().warn("ucx connection to {} stays on its tcp bootstrap socket: {}", peer_, s.text);
      upgrade_off_ = true;
      return Status::success();
    }
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      worker_ = std::move(w);
      w_.store(worker_.get());
    }
    send_mode_.store(Mode::kUpgrading);  // before UPGRADE leaves: the ACK may come back at once
    if (s = write_record(kUpgrade, addr, deadline); !s.ok()) return s;
  }
  if (send_mode_.load() == Mode::kUpgrading) {
    if (refused_.load()) {
      upgrade_off_ = true;
      send_mode_.store(Mode::kTcp);
    } else if (ack_seen_.load(std::memory_order_acquire)) {
      if (Status s = write_record(kSwitch, {}, deadline); !s.ok()) return s;
      send_mode_.store(Mode::kUcx);
    }
  }
  return Status::success();
}

Status UcxConnection::ucx_send(std::span<const ConstBytes> head_parts, std::span<const ConstBytes> segments,
                               const Deadline& deadline) {
  size_t total = 0;
  for (ConstBytes p : head_parts) total += p.size();
  send_buf_.resize(total);
  size_t at = 0;
  for (ConstBytes p : head_parts) {
    if (!p.empty()) std::memcpy(send_buf_.data() + at, p.data(), p.size());
    at += p.size();
  }
  Worker* w = w_.load();
  std::deque<Pending> reqs;
  auto post = [&](const std::byte* buf, size_t len, uint64_t tag) -> Status {
    std::lock_guard<std::mutex> lock(w->mu());
    if (ep_ == nullptr) return ucx_check().ok() ? disconnected(fmt::format("connection to {} is broken", peer_)) : ucx_check();
    ucp_request_param_t p{};
    ucs_status_ptr_t r = U().ucp_tag_send_nbx(ep_, buf, len, tag, &p);
    if (UCS_PTR_IS_ERR(r)) return request_error(UCS_PTR_STATUS(r), "ucp_tag_send_nbx");
    if (r != nullptr) reqs.push_back({r, false, 0});
    return Status::success();
  };
  const size_t depth = std::max(1u, options_.queue_depth);
  Status s = post(send_buf_.data(), send_buf_.size(), kTagHead);
  for (ConstBytes seg : segments) {
    for (size_t off = 0; s.ok() && off < seg.size(); off += chunk_) {
      if (reqs.size() >= depth) s = wait_requests(reqs, depth - 1, deadline);
      if (s.ok()) s = post(seg.data() + off, std::min<size_t>(chunk_, seg.size() - off), kTagSeg);
    }
  }
  if (s.ok()) s = wait_requests(reqs, 0, deadline);
  if (!s.ok()) abandon_requests(reqs);
  return s;
}

Status UcxConnection::send_locked(const protocol::FrameHeader& header, ConstBytes control,
                                  std::span<const ConstBytes> segments, const Deadline& deadline) {
  const protocol::HeaderBytes hb = protocol::encode_header(header);
  std::memcpy(head_buf_.data(), hb.data(), hb.size());
  uint64_t lengths[protocol::kMaxSegments];
  for (size_t i = 0; i < segments.size(); ++i) lengths[i] = segments[i].size();
  protocol::encode_segment_table(std::span(lengths, segments.size()),
                                 std::span(head_buf_.data() + hb.size(), header.table_bytes()));
  const ConstBytes head(head_buf_.data(), hb.size() + header.table_bytes());
  parts_.clear();
  parts_.push_back(pending_);
  parts_.push_back(head);
  parts_.push_back(control);
  Status s;
  if (send_mode_.load() != Mode::kUcx) {
    for (ConstBytes seg : segments) parts_.push_back(seg);
    s = tcp_write(parts_, deadline);
  } else if (header.segment_bytes <= kInlineSegmentBytes) {
    for (ConstBytes seg : segments) parts_.push_back(seg);
    s = ucx_send(parts_, {}, deadline);
  } else {
    s = ucx_send(parts_, segments, deadline);
  }
  pending_.clear();
  if (pending_.capacity() > kCorkLimit * 2) pending_.shrink_to_fit();
  return s.ok() ? s : fail_send(s);
}

Status UcxConnection::do_send(const protocol::FrameHeader& header, ConstBytes control,
                              std::span<const ConstBytes> segments, Timeout timeout) {
  std::lock_guard<std::mutex> lock(send_mu_);
  if (Status s = check_send(); !s.ok()) return s;
  const Deadline deadline = Deadline::after(timeout.value_or(options_.send_timeout));
  if (Status s = prepare_send_mode(deadline); !s.ok()) return fail_send(s);
  return send_locked(header, control, segments, deadline);
}

Status UcxConnection::do_queue(const protocol::FrameHeader& header, ConstBytes control,
                               std::span<const ConstBytes> segments) {
  std::lock_guard<std::mutex> lock(send_mu_);
  if (Status s = check_send(); !s.ok()) return s;
  const uint64_t bytes = header.frame_bytes();
  if (header.segment_bytes > kInlineSegmentBytes || bytes > kQueueFrameMax ||
      pending_.size() + bytes > kCorkLimit) {
    // Too large to copy, or the buffer is full: write what is queued (and this frame if large).
    const Deadline deadline = Deadline::after(options_.send_timeout);
    if (Status s = prepare_send_mode(deadline); !s.ok()) return fail_send(s);
    if (header.segment_bytes > kInlineSegmentBytes || bytes > kQueueFrameMax) {
      return send_locked(header, control, segments, deadline);
    }
    const ConstBytes parts[] = {pending_};
    Status s = send_mode_.load() == Mode::kUcx ? ucx_send(parts, {}, deadline) : tcp_write(parts, deadline);
    pending_.clear();
    if (!s.ok()) return fail_send(s);
  }
  const size_t at = pending_.size();
  pending_.resize(at + static_cast<size_t>(bytes));
  protocol::write_frame(header, control, segments, std::span(pending_.data() + at, static_cast<size_t>(bytes)));
  return Status::success();
}

Status UcxConnection::flush(Timeout timeout) {
  std::lock_guard<std::mutex> lock(send_mu_);
  if (Status s = check_send(); !s.ok()) return s;
  const Deadline deadline = Deadline::after(timeout.value_or(options_.send_timeout));
  if (Status s = prepare_send_mode(deadline); !s.ok()) return fail_send(s);
  if (pending_.empty()) return Status::success();
  const ConstBytes parts[] = {pending_};
  Status s = send_mode_.load() == Mode::kUcx ? ucx_send(parts, {}, deadline) : tcp_write(parts, deadline);
  pending_.clear();
  return s.ok() ? s : fail_send(s);
}

// ---------------------------------------------------------------- receive side

Status UcxConnection::check_recv() const { return check_broken(recv_broken_); }

Status UcxConnection::fail_recv(Status s) {
  recv_broken_ = as_broken(std::move(s));
  return *recv_broken_;
}

Status UcxConnection::tcp_fill(size_t n, const Deadline& deadline) {
  if (tend_ - tpos_ >= n) return Status::success();
  if (tbuf_.size() - tpos_ < n) {
    const size_t have = tend_ - tpos_;
    if (have > 0 && tpos_ > 0) std::memmove(tbuf_.data(), tbuf_.data() + tpos_, have);
    tpos_ = 0;
    tend_ = have;
    if (tbuf_.size() < n) tbuf_.resize(n);
  }
  return tcp_recv(tbuf_.data(), tend_, tpos_ + n, tbuf_.size(), deadline, "nothing received from {} before the timeout");
}

Status UcxConnection::tcp_read_direct(std::span<std::byte> dest, const Deadline& deadline) {
  size_t done = std::min(tend_ - tpos_, dest.size());
  if (done > 0) std::memcpy(dest.data(), tbuf_.data() + tpos_, done);
  tpos_ += done;
  return tcp_recv(dest.data(), done, dest.size(), dest.size(), deadline, "receive from {} timed out");
}

Status UcxConnection::tcp_recv(std::byte* buf, size_t& done, size_t need, size_t room, const Deadline& deadline,
                               const char* timed_out) {
  while (done < need) {
    const ssize_t got = ::recv(fd_, buf + done, room - done, MSG_DONTWAIT);
    if (got > 0) {
      done += static_cast<size_t>(got);
      continue;
    }
    if (shut_.load()) return disconnected(fmt::format("connection to {} was shut down", peer_));
    if (got == 0) return disconnected(fmt::format("{} closed the connection", peer_));
    const int err = errno;
    if (err == EINTR) continue;
    if (err != EAGAIN && err != EWOULDBLOCK) return tcp::errno_status("recv", err, peer_);
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, deadline.poll_ms()) == 0) return Status::make(Code::kTimeout, fmt::format(fmt::runtime(timed_out), peer_));
  }
  return Status::success();
}

Status UcxConnection::server_upgrade(ConstBytes client_address, uint32_t chunk, const Deadline& deadline) {
  if (role_ != Role::kServer || w_.load() != nullptr) return protocol_error(peer_, "unexpected UPGRADE");
  if (chunk < 4096 || client_address.empty()) return protocol_error(peer_, "malformed UPGRADE");
  peer_chunk_ = chunk;
  std::unique_ptr<Worker> w;
  std::vector<std::byte> addr;
  Status s = Worker::create(w);
  if (s.ok()) {
    {
      std::lock_guard<std::mutex> lock(state_mu_);
      worker_ = std::move(w);
      w_.store(worker_.get());
    }
    s = create_endpoint(std::vector<std::byte>(client_address.begin(), client_address.end()));
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(w_.load()->mu());
      s = w_.load()->address(addr);
    }
  }
  std::lock_guard<std::mutex> lock(send_mu_);
  if (Status b = check_send(); !b.ok()) return b;
  if (!s.ok()) {
    logger().warn("ucx connection from {} stays on its tcp bootstrap socket: {}", peer_, s.text);
    if (Status ws = write_record(kAck, {}, deadline); !ws.ok()) return fail_send(ws);
    return Status::success();
  }
  // Frames queued so far leave on TCP before the ACK; everything after goes over UCX.
  if (Status ws = write_record(kAck, addr, deadline); !ws.ok()) return fail_send(ws);
  send_mode_.store(Mode::kUcx);
  return Status::success();
}

Status UcxConnection::handle_record(uint32_t type, uint32_t chunk, ConstBytes payload, const Deadline& deadline) {
  switch (type) {
    case kUpgrade:
      return server_upgrade(payload, chunk, Deadline::after(options_.send_timeout));
    case kAck: {
      if (role_ != Role::kClient || send_mode_.load() != Mode::kUpgrading || ack_seen_.load()) {
        return protocol_error(peer_, "unexpected ACK");
      }
      if (payload.empty()) {
        logger().warn("ucx connection to {} stays on its tcp bootstrap socket: the server cannot use ucx", peer_);
        refused_.store(true);
        return Status::success();
      }
      if (chunk < 4096) return protocol_error(peer_, "malformed ACK");
      peer_chunk_ = chunk;
      if (Status s = create_endpoint(std::vector<std::byte>(payload.begin(), payload.end())); !s.ok()) return s;
      recv_mode_.store(Mode::kUcx);
      ack_seen_.store(true, std::memory_order_release);
      return Status::success();
    }
    case kSwitch:
      if (role_ != Role::kServer || send_mode_.load() != Mode::kUcx) return protocol_error(peer_, "unexpected SWITCH");
      recv_mode_.store(Mode::kUcx);
      logger().info("ucx connection from {} switched to ucx (chunk {} B)", peer_, chunk_);
      return Status::success();
    default:
      (void)deadline;
      return protocol_error(peer_, fmt::format("unknown record type {}", type));
  }
}

Status UcxConnection::parse_head(std::vector<std::byte>& buf, size_t& pos, size_t end, bool from_ucx,
                                 FrameHead& head) {
  const std::byte* p = buf.data() + pos;
  protocol::FrameHeader header;
  auto rejected = [&](const protocol::Error& e) {
    return Status::make(Code::kProtocol, fmt::format("frame from {} rejected ({}): {}", peer_,
                                                     protocol::error_code_name(e.code), e.text));
  };
  if (protocol::Error e = protocol::decode_header(std::span(p, end - pos), header); !e.ok()) return rejected(e);
  const size_t head_bytes = protocol::kFrameHeaderBytes + header.head_rest_bytes();
  if (end - pos < head_bytes) return Status::make(Code::kProtocol, fmt::format("frame head from {} is cut short", peer_));
  std::vector<uint64_t> lengths;
  if (protocol::Error e = protocol::decode_segment_table(
          header, std::span(p + protocol::kFrameHeaderBytes, header.table_bytes()), lengths);
      !e.ok()) {
    return rejected(e);
  }
  Source source = Source::kTcp;
  if (from_ucx) {
    source = header.segment_bytes <= kInlineSegmentBytes ? Source::kInline : Source::kChunks;
    if (source == Source::kInline && end - pos - head_bytes < header.segment_bytes) {
      return Status::make(Code::kProtocol, fmt::format("frame from {} lacks its inline segments", peer_));
    }
    if (source == Source::kChunks && peer_chunk_ == 0) return protocol_error(peer_, "no chunk size");
  }
  if (head.control.size() < header.control_bytes) head.control.resize(header.control_bytes);
  if (header.control_bytes > 0) {
    std::memcpy(head.control.data(), p + protocol::kFrameHeaderBytes + header.table_bytes(), header.control_bytes);
  }
  pos += head_bytes;
  head.header = header;
  head.control_size = header.control_bytes;
  seg_lengths_ = lengths;
  head.segment_lengths = std::move(lengths);
  seg_count_ = header.segment_count;
  seg_next_ = 0;
  seg_done_ = 0;
  source_ = source;
  return Status::success();
}

Status UcxConnection::ucx_next_message(const Deadline& deadline) {
  Worker* w = w_.load();
  ucp_tag_message_h msg = nullptr;
  ucp_tag_recv_info_t info{};
  Status s = w->wait([&] { return (msg = U().ucp_tag_probe_nb(w->get(), kTagHead, kTagMask, 1, &info)) != nullptr; },
                     [&] { return ucx_check(); }, deadline, fd_, &hangup_);
  if (!s.ok()) {
    if (s.code == Code::kTimeout) s.text = fmt::format("nothing received from {} before the timeout", peer_);
    return s;
  }
  // From here the message is taken: a failure breaks the connection.
  const size_t len = info.length;
  if (len > kMaxHeadMessage || len < protocol::kFrameHeaderBytes) {
    std::vector<std::byte> sink(len);
    std::deque<Pending> reqs;
    {
      std::lock_guard<std::mutex> lock(w->mu());
      ucp_request_param_t p{};
      p.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
      ucs_status_ptr_t r = U().ucp_tag_msg_recv_nbx(w->get(), sink.data(), len, msg, &p);
      if (!UCS_PTR_IS_ERR(r) && r != nullptr) reqs.push_back({r, true, len});
    }
    abandon_requests(reqs);
    return fail_recv(Status::make(Code::kProtocol, fmt::format("ucx message of {} bytes from {} is not a valid frame head", len, peer_)));
  }
  if (mbuf_.size() < len) mbuf_.resize(len);
  std::deque<Pending> reqs;
  {
    std::lock_guard<std::mutex> lock(w->mu());
    ucp_request_param_t p{};
    p.op_attr_mask = UCP_OP_ATTR_FLAG_NO_IMM_CMPL;
    ucs_status_ptr_t r = U().ucp_tag_msg_recv_nbx(w->get(), mbuf_.data(), len, msg, &p);
    if (UCS_PTR_IS_ERR(r)) return fail_recv(request_error(UCS_PTR_STATUS(r), "ucp_tag_msg_recv_nbx"));
    reqs.push_back({r, true, len});
  }
  s = wait_requests(reqs, 0, deadline);
  if (!s.ok()) {
    abandon_requests(reqs);
    if (s.code == Code::kTimeout) s.text = fmt::format("receive from {} timed out in the middle of a frame", peer_);
    return fail_recv(s);
  }
  mpos_ = 0;
  mend_ = len;
  return Status::success();
}

Status UcxConnection::do_recv_head(FrameHead& head, Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  while (seg_next_ < seg_count_) {
    if (Status s = skip_segment(timeout); !s.ok()) return s;
  }
  const Deadline deadline = Deadline::after(timeout.value_or(options_.recv_timeout));
  while (recv_mode_.load() != Mode::kUcx) {
    if (tpos_ == tend_) tpos_ = tend_ = 0;
    Status s = tcp_fill(4, deadline);
    if (!s.ok()) {
      if (s.code == Code::kDisconnected && tend_ != tpos_ && !shut_.load()) {
        s.text = fmt::format("{} closed the connection in the middle of a frame header", peer_);
      }
      return s.code == Code::kTimeout ? s : fail_recv(s);
    }
    if (le32(tbuf_.data() + tpos_) == kRecordMagic) {
      if (s = tcp_fill(kRecordBytes, deadline); !s.ok()) return s.code == Code::kTimeout ? s : fail_recv(s);
      uint32_t fields[4];
      std::memcpy(fields, tbuf_.data() + tpos_, sizeof fields);
      if (fields[2] > kMaxRecordPayload) return fail_recv(protocol_error(peer_, "record too large"));
      if (s = tcp_fill(kRecordBytes + fields[2], deadline); !s.ok()) {
        return s.code == Code::kTimeout ? s : fail_recv(s);
      }
      const ConstBytes payload(tbuf_.data() + tpos_ + kRecordBytes, fields[2]);
      s = handle_record(fields[1], fields[3], payload, deadline);
      tpos_ += kRecordBytes + fields[2];
      if (!s.ok()) return fail_recv(s);
      if (recv_mode_.load() == Mode::kUcx && tpos_ != tend_) {
        return fail_recv(protocol_error(peer_, "bytes after the switch to ucx"));
      }
      continue;
    }
    if (s = tcp_fill(protocol::kFrameHeaderBytes, deadline); !s.ok()) {
      if (s.code == Code::kDisconnected && !shut_.load()) {
        s.text = fmt::format("{} closed the connection in the middle of a frame header", peer_);
      }
      return s.code == Code::kTimeout ? s : fail_recv(s);
    }
    protocol::FrameHeader header;
    if (protocol::Error e = protocol::decode_header(std::span(tbuf_.data() + tpos_, tend_ - tpos_), header); !e.ok()) {
      return fail_recv(Status::make(Code::kProtocol, fmt::format("frame from {} rejected ({}): {}", peer_,
                                                                 protocol::error_code_name(e.code), e.text)));
    }
    if (s = tcp_fill(protocol::kFrameHeaderBytes + header.head_rest_bytes(), deadline); !s.ok()) {
      if (s.code == Code::kDisconnected && !shut_.load()) {
        s.text = fmt::format("{} closed the connection in the middle of a frame", peer_);
      }
      return s.code == Code::kTimeout ? s : fail_recv(s);
    }
    if (s = parse_head(tbuf_, tpos_, tend_, false, head); !s.ok()) return fail_recv(s);
    if (role_ == Role::kClient) upgrade_wanted_.store(true);
    return Status::success();
  }
  if (mpos_ == mend_) {
    Status s = ucx_next_message(deadline);
    if (!s.ok()) return s.code == Code::kTimeout && !recv_broken_ ? s : fail_recv(s);
  }
  if (Status s = parse_head(mbuf_, mpos_, mend_, true, head); !s.ok()) return fail_recv(s);
  return Status::success();
}

Status UcxConnection::take_chunks(std::byte* dest, uint64_t n, const Deadline& deadline) {
  const uint64_t len = seg_lengths_[seg_next_];
  const uint64_t c = peer_chunk_;
  const size_t depth = std::max(1u, options_.queue_depth);
  while (n > 0) {
    const uint64_t k = seg_done_ / c;
    const uint64_t off = seg_done_ - k * c;
    const uint64_t clen = std::min(c, len - k * c);
    if (off != 0) {  // the rest of a message taken in part earlier
      const uint64_t m = std::min(n, clen - off);
      if (dest != nullptr) std::memcpy(dest, stash_.data() + off, m);
      if (dest != nullptr) dest += m;
      seg_done_ += m;
      n -= m;
      continue;
    }
    if (dest != nullptr && n >= clen) {
      // Whole messages land straight in the destination, up to `depth` receives posted.
      std::deque<Pending> reqs;
      uint64_t posted = 0;
      Status s;
      while (s.ok() && posted < n) {
        const uint64_t at = seg_done_ + posted;
        const uint64_t mlen = std::min(c, len - at);
        if (mlen > n - posted) break;  // a message only partly wanted: below, through the stash
        if (reqs.size() >= depth) s = wait_requests(reqs, depth - 1, deadline);
        if (s.ok()) s = post_recv(reqs, dest + posted, mlen);
        posted += mlen;
      }
      if (s.ok()) s = wait_requests(reqs, 0, deadline);
      if (!s.ok()) {
        abandon_requests(reqs);
        return s;
      }
      seg_done_ += posted;
      dest += posted;
      n -= posted;
      continue;
    }
    // Dropped, or wanted only in part: take the whole message into the stash.
    if (stash_.size() < clen) stash_.resize(clen);
    std::deque<Pending> reqs;
    Status s = post_recv(reqs, stash_.data(), clen);
    if (s.ok()) s = wait_requests(reqs, 0, deadline);
    if (!s.ok()) {
      abandon_requests(reqs);
      return s;
    }
    const uint64_t m = std::min(n, clen);
    if (dest != nullptr) {
      std::memcpy(dest, stash_.data(), m);
      dest += m;
    }
    seg_done_ += m;
    n -= m;
  }
  return Status::success();
}

Status UcxConnection::take(std::byte* dest, uint64_t n, const Deadline& deadline) {
  switch (source_) {
    case Source::kInline:
      if (dest != nullptr && n > 0) std::memcpy(dest, mbuf_.data() + mpos_, n);
      mpos_ += n;
      seg_done_ += n;
      return Status::success();
    case Source::kChunks:
      return take_chunks(dest, n, deadline);
    case Source::kTcp:
      break;
  }
  if (dest != nullptr) {
    if (Status s = tcp_read_direct(std::span(dest, n), deadline); !s.ok()) return s;
    seg_done_ += n;
    return Status::success();
  }
  while (n > 0) {
    if (tpos_ == tend_) tpos_ = tend_ = 0;
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n, tbuf_.size()));
    if (Status s = tcp_fill(std::min(want, tbuf_.size() - tpos_), deadline); !s.ok()) return s;
    const size_t m = static_cast<size_t>(std::min<uint64_t>(n, tend_ - tpos_));
    tpos_ += m;
    n -= m;
    seg_done_ += m;
  }
  return Status::success();
}

Status UcxConnection::segment_error(Status s) {
  if (s.code == Code::kDisconnected && !shut_.load()) {
    s.text = fmt::format("{} closed the connection in the middle of segment {} ({})", peer_, seg_next_, s.text);
  }
  return fail_recv(s);
}

Status UcxConnection::recv_segment(MutableBytes dest, Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  if (seg_next_ >= seg_count_) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("recv_segment: the current frame from {} has no segment left", peer_));
  }
  const uint64_t len = seg_lengths_[seg_next_] - seg_done_;
  if (dest.size() != len) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("recv_segment: segment {} has {} bytes left but the destination holds {}",
                                    seg_next_, len, dest.size()));
  }
  if (len > 0) {
    const Deadline deadline = Deadline::after(timeout.value_or(options_.recv_timeout));
    if (Status s = take(dest.data(), len, deadline); !s.ok()) return segment_error(s);
  }
  ++seg_next_;
  seg_done_ = 0;
  return Status::success();
}

Status UcxConnection::recv_segment_part(MutableBytes dest, Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  const uint64_t left = segment_part_left();
  if (seg_next_ >= seg_count_ || dest.empty() || dest.size() > left) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("recv_segment_part: {} bytes asked but the current segment from {} has {} left",
                                    dest.size(), peer_, left));
  }
  const Deadline deadline = Deadline::after(timeout.value_or(options_.recv_timeout));
  if (Status s = take(dest.data(), dest.size(), deadline); !s.ok()) return segment_error(s);
  if (seg_done_ == seg_lengths_[seg_next_]) {
    ++seg_next_;
    seg_done_ = 0;
  }
  return Status::success();
}

Status UcxConnection::skip_segment(Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  if (seg_next_ >= seg_count_) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("skip_segment: the current frame from {} has no segment left", peer_));
  }
  const uint64_t rest = seg_lengths_[seg_next_] - seg_done_;
  if (rest > 0) {
    const Deadline deadline = Deadline::after(timeout.value_or(options_.recv_timeout));
    if (Status s = take(nullptr, rest, deadline); !s.ok()) return segment_error(s);
  }
  ++seg_next_;
  seg_done_ = 0;
  return Status::success();
}

}  // namespace gpool::transport::ucx
