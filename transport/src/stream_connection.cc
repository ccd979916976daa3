#include "stream_connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "gpool/protocol/frame.h"

namespace gpool::transport {
namespace {

constexpr size_t kReadAhead = 64 * 1024;
// Remainders of a segment below this size are read through the read-ahead buffer (one system
// call that may also bring the next frames); larger ones go straight to the destination.
constexpr size_t kDirectReadMin = 16 * 1024;
// queue(): frames up to this size are copied into the send buffer, which is written once it
// would pass kCorkLimit.
constexpr size_t kQueueFrameMax = 64 * 1024;
constexpr size_t kCorkLimit = 256 * 1024;

}  // namespace

StreamConnection::StreamConnection(std::unique_ptr<ByteStream> stream, std::string peer,
                                   const Options& options)
    : stream_(std::move(stream)), peer_(std::move(peer)), options_(options), rbuf_(kReadAhead) {
  send_head_.resize(protocol::kFrameHeaderBytes + protocol::kMaxSegments * protocol::kSegmentEntryBytes);
  iov_.reserve(2 + protocol::kMaxSegments);
}

StreamConnection::~StreamConnection() = default;

int StreamConnection::handoff_fd() const {
  // Only a connection with nothing buffered in either direction can move to another process.
  if (buffered() != 0 || seg_next_ != seg_count_ || !pending_.empty()) return -1;
  if (recv_broken_ || send_broken_ || shut_.load(std::memory_order_acquire)) return -1;
  return stream_->fd();
}

void StreamConnection::shutdown() {
  shut_.store(true, std::memory_order_release);
  stream_->shutdown();
}

Status StreamConnection::check_send() const {
  if (send_broken_) return *send_broken_;
  if (shut_.load(std::memory_order_acquire)) {
    return Status::make(Code::kDisconnected, fmt::format("connection to {} was shut down", peer_));
  }
  return Status::success();
}

Status StreamConnection::write(Timeout timeout) {
  if (!pending_.empty()) iov_.insert(iov_.begin(), iovec{pending_.data(), pending_.size()});
  Status s;
  if (!iov_.empty()) {
    const Deadline deadline = Deadline::after(timeout.value_or(options_.send_timeout));
    s = stream_->write_all(iov_, deadline);
  }
  iov_.clear();
  pending_.clear();
  if (pending_.capacity() > kCorkLimit * 2) pending_.shrink_to_fit();
  if (!s.ok()) {
    if (shut_.load(std::memory_order_acquire) && s.code != Code::kDisconnected) {
      s = Status::make(Code::kDisconnected, fmt::format("connection to {} was shut down", peer_));
    }
    send_broken_ = s;
  }
  return s;
}

Status StreamConnection::do_send(const protocol::FrameHeader& header, ConstBytes control,
                                 std::span<const ConstBytes> segments, Timeout timeout) {
  if (Status s = check_send(); !s.ok()) return s;
  const protocol::HeaderBytes hb = protocol::encode_header(header);
  std::memcpy(send_head_.data(), hb.data(), hb.size());
  uint64_t lengths[protocol::kMaxSegments];
  for (size_t i = 0; i < segments.size(); ++i) lengths[i] = segments[i].size();
  protocol::encode_segment_table(std::span(lengths, segments.size()),
                                 std::span(send_head_.data() + hb.size(), header.table_bytes()));
  iov_.clear();
  iov_.push_back({send_head_.data(), hb.size() + header.table_bytes()});
  if (!control.empty()) iov_.push_back({const_cast<std::byte*>(control.data()), control.size()});
  for (ConstBytes s : segments) {
    if (!s.empty()) iov_.push_back({const_cast<std::byte*>(s.data()), s.size()});
  }
  return write(timeout);
}

Status StreamConnection::do_queue(const protocol::FrameHeader& header, ConstBytes control,
                                  std::span<const ConstBytes> segments) {
  if (Status s = check_send(); !s.ok()) return s;
  const uint64_t bytes = header.frame_bytes();
  if (bytes > kQueueFrameMax) return do_send(header, control, segments, std::nullopt);
  if (pending_.size() + bytes > kCorkLimit) {
    if (Status s = flush(std::nullopt); !s.ok()) return s;
  }
  const size_t at = pending_.size();
  pending_.resize(at + static_cast<size_t>(bytes));
  protocol::write_frame(header, control, segments, std::span(pending_.data() + at, static_cast<size_t>(bytes)));
  return Status::success();
}

Status StreamConnection::flush(Timeout timeout) {
  if (Status s = check_send(); !s.ok()) return s;
  iov_.clear();
  return write(timeout);
}

Deadline StreamConnection::recv_deadline(Timeout timeout) const {
  if (timeout && timeout->count() < 0) return Deadline::expired();
  return Deadline::after(timeout.value_or(options_.recv_timeout));
}

Status StreamConnection::check_recv() const {
  if (recv_broken_) return *recv_broken_;
  if (shut_.load(std::memory_order_acquire)) {
    return Status::make(Code::kDisconnected, fmt::format("connection to {} was shut down", peer_));
  }
  return Status::success();
}

Status StreamConnection::fail_recv(Status status) {
  if (shut_.load(std::memory_order_acquire) && status.code != Code::kDisconnected) {
    status = Status::make(Code::kDisconnected, fmt::format("connection to {} was shut down", peer_));
  }
  recv_broken_ = status;
  return status;
}

void StreamConnection::mark_broken(Status status) { recv_broken_ = std::move(status); }

Status StreamConnection::fill(size_t n, const Deadline& deadline) {
  if (buffered() >= n) return Status::success();
  if (rbuf_.size() - rpos_ < n) {
    // Move the unread bytes to the front, growing the buffer for a large frame head.
    const size_t have = buffered();
    if (have > 0 && rpos_ > 0) std::memmove(rbuf_.data(), rbuf_.data() + rpos_, have);
    rpos_ = 0;
    rend_ = have;
    if (rbuf_.size() < n) rbuf_.resize(n);
  }
  while (buffered() < n) {
    size_t got = 0;
    Status s = stream_->read_some(std::span(rbuf_.data() + rend_, rbuf_.size() - rend_),
                                  n - buffered(), deadline, got);
    rend_ += got;
    if (!s.ok()) return s;
  }
  return Status::success();
}

bool StreamConnection::frame_ready() const {
  if (recv_broken_ || seg_next_ < seg_count_) return false;
  if (buffered() < protocol::kFrameHeaderBytes) return false;
  protocol::FrameHeader header;
  const std::span<const std::byte> bytes(rbuf_.data() + rpos_, protocol::kFrameHeaderBytes);
  if (!protocol::decode_header(bytes, header).ok()) return true;  // recv_head() fails at once
  return buffered() >= header.frame_bytes();
}

Status StreamConnection::do_recv_head(FrameHead& head, Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  while (seg_next_ < seg_count_) {
    if (Status s = skip_segment(timeout); !s.ok()) return s;
  }
  if (rpos_ == rend_) rpos_ = rend_ = 0;
  const Deadline deadline = recv_deadline(timeout);

  Status s = fill(protocol::kFrameHeaderBytes, deadline);
  if (!s.ok()) {
    if (s.code == Code::kTimeout) return s;  // nothing consumed: the caller may retry
    if (s.code == Code::kDisconnected && buffered() == 0 && !shut_.load()) {
      s.text = fmt::format("{} closed the connection", peer_);
    } else if (s.code == Code::kDisconnected && !shut_.load()) {
      s.text = fmt::format("{} closed the connection in the middle of a frame header", peer_);
    }
    return fail_recv(s);
  }
  protocol::FrameHeader header;
  if (protocol::Error e = protocol::decode_header(std::span(rbuf_.data() + rpos_, buffered()), header);
      !e.ok()) {
    return fail_recv(Status::make(Code::kProtocol,
                                  fmt::format("frame from {} rejected ({}): {}", peer_,
                                              protocol::error_code_name(e.code), e.text)));
  }
  const size_t head_bytes = protocol::kFrameHeaderBytes + header.head_rest_bytes();
  s = fill(head_bytes, deadline);
  if (!s.ok()) {
    if (s.code == Code::kTimeout) return s;
    if (s.code == Code::kDisconnected && !shut_.load()) {
      s.text = fmt::format("{} closed the connection in the middle of a frame", peer_);
    }
    return fail_recv(s);
  }
  const std::byte* p = rbuf_.data() + rpos_;
  std::vector<uint64_t> lengths;
  if (protocol::Error e = protocol::decode_segment_table(
          header, std::span(p + protocol::kFrameHeaderBytes, header.table_bytes()), lengths);
      !e.ok()) {
    return fail_recv(Status::make(Code::kProtocol,
                                  fmt::format("frame from {} rejected ({}): {}", peer_,
                                              protocol::error_code_name(e.code), e.text)));
  }
  if (head.control.size() < header.control_bytes) head.control.resize(header.control_bytes);
  if (header.control_bytes > 0) {
    std::memcpy(head.control.data(), p + protocol::kFrameHeaderBytes + header.table_bytes(),
                header.control_bytes);
  }
  rpos_ += head_bytes;
  head.header = header;
  head.control_size = header.control_bytes;
  seg_lengths_ = lengths;
  head.segment_lengths = std::move(lengths);
  seg_count_ = header.segment_count;
  seg_next_ = 0;
  seg_done_ = 0;
  return Status::success();
}

Status StreamConnection::recv_into(MutableBytes dest, const Deadline& deadline) {
  const size_t len = dest.size();
  const size_t done = std::min<size_t>(buffered(), len);
  if (done > 0) std::memcpy(dest.data(), rbuf_.data() + rpos_, done);
  rpos_ += done;
  const size_t rest = len - done;
  if (rest == 0) return Status::success();
  if (rest < kDirectReadMin) {
    Status s = fill(rest, deadline);
    if (s.ok()) {
      std::memcpy(dest.data() + done, rbuf_.data() + rpos_, rest);
      rpos_ += rest;
    }
    return s;
  }
  return stream_->read_exact(dest.subspan(done), deadline);
}

Status StreamConnection::recv_segment(MutableBytes dest, Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  if (seg_next_ >= seg_count_) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("recv_segment: the current frame from {} has no segment left",
                                    peer_));
  }
  const uint64_t len = seg_lengths_[seg_next_] - seg_done_;
  if (dest.size() != len) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("recv_segment: segment {} has {} bytes left but the "
                                    "destination holds {}",
                                    seg_next_, len, dest.size()));
  }
  if (len > 0) {
    if (Status s = recv_into(dest, recv_deadline(timeout)); !s.ok()) {
      if (s.code == Code::kDisconnected && !shut_.load()) {
        s.text = fmt::format("{} closed the connection in the middle of segment {}", peer_, seg_next_);
      }
      return fail_recv(s);
    }
  }
  ++seg_next_;
  seg_done_ = 0;
  if (rpos_ == rend_) rpos_ = rend_ = 0;
  return Status::success();
}

Status StreamConnection::recv_segment_part(MutableBytes dest, Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  const uint64_t left = segment_part_left();
  if (seg_next_ >= seg_count_ || dest.empty() || dest.size() > left) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("recv_segment_part: {} bytes asked but the current segment "
                                    "from {} has {} left",
                                    dest.size(), peer_, left));
  }
  if (Status s = recv_into(dest, recv_deadline(timeout)); !s.ok()) {
    if (s.code == Code::kDisconnected && !shut_.load()) {
      s.text = fmt::format("{} closed the connection in the middle of segment {}", peer_, seg_next_);
    }
    return fail_recv(s);
  }
  seg_done_ += dest.size();
  if (seg_done_ == seg_lengths_[seg_next_]) {
    ++seg_next_;
    seg_done_ = 0;
  }
  if (rpos_ == rend_) rpos_ = rend_ = 0;
  return Status::success();
}

Status StreamConnection::skip_segment(Timeout timeout) {
  if (Status s = check_recv(); !s.ok()) return s;
  if (seg_next_ >= seg_count_) {
    return Status::make(Code::kInvalidArgument,
                        fmt::format("skip_segment: the current frame from {} has no segment left",
                                    peer_));
  }
  uint64_t rest = seg_lengths_[seg_next_] - seg_done_;
  const Deadline deadline = recv_deadline(timeout);
  while (rest > 0) {
    if (buffered() == 0) {
      rpos_ = rend_ = 0;
      const size_t want = static_cast<size_t>(std::min<uint64_t>(rest, rbuf_.size()));
      if (Status s = fill(want, deadline); !s.ok()) {
        if (s.code == Code::kDisconnected && !shut_.load()) {
          s.text = fmt::format("{} closed the connection in the middle of segment {}", peer_, seg_next_);
        }
        return fail_recv(s);
      }
    }
    const size_t take = static_cast<size_t>(std::min<uint64_t>(rest, buffered()));
    rpos_ += take;
    rest -= take;
  }
  ++seg_next_;
  seg_done_ = 0;
  if (rpos_ == rend_) rpos_ = rend_ = 0;
  return Status::success();
}

}  // namespace gpool::transport
