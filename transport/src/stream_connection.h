// StreamConnection: gpool framing over any ByteStream (internal).
//
// Receiving: bytes are read into a read-ahead buffer (64 KiB, grown up to one maximal frame
// head) with as few system calls as possible: one read usually brings a whole small frame and
// often the next ones. A frame head is consumed only once it is complete, so a recv_head()
// timeout loses nothing. Segment bytes that are already buffered are copied out; the rest of a
// large segment is read straight into the caller's buffer (ByteStream::read_exact, chunked).
//
// Sending: header + segment table are encoded into a small per-connection buffer and the frame
// goes out as one gather list (header/table, control, segments) through ByteStream::write_all.
// queue() copies small frames into `pending_`; the next send() puts pending_ first in its
// gather list, so queued async calls and the sync call that follows leave in one system call.
//
// Thread safety: as Connection (one sender, one receiver, shutdown() from anywhere). The send
// side touches only send-side members, the receive side only receive-side members; the two
// share the ByteStream (whose contract allows that) and the atomic shutdown flag.
#pragma once

#include <sys/uio.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "byte_stream.h"
#include "gpool/transport/transport.h"

namespace gpool::transport {

class StreamConnection final : public Connection {
 public:
  StreamConnection(std::unique_ptr<ByteStream> stream, std::string peer, const Options& options);
  ~StreamConnection() override;

  Status recv_segment(MutableBytes dest, Timeout timeout) override;
  Status skip_segment(Timeout timeout) override;
  Status recv_segment_part(MutableBytes dest, Timeout timeout) override;
  uint64_t segment_part_left() const override {
    return seg_next_ < seg_count_ ? seg_lengths_[seg_next_] - seg_done_ : 0;
  }
  void shutdown() override;
  const std::string& peer() const override { return peer_; }
  const char* backend() const override { return stream_->name(); }
  uint32_t segments_left() const override { return seg_count_ - seg_next_; }
  bool frame_ready() const override;
  Status flush(Timeout timeout) override;
  size_t queued_bytes() const override { return pending_.size(); }
  int handoff_fd() const override;
  int poll_fd() const override { return stream_->poll_fd(); }
  std::string peer_certificate_sha256() const override { return stream_->peer_certificate_sha256(); }

 protected:
  Status do_send(const protocol::FrameHeader& header, ConstBytes control,
                 std::span<const ConstBytes> segments, Timeout timeout) override;
  Status do_recv_head(FrameHead& head, Timeout timeout) override;
  void mark_broken(Status status) override;
  Status do_queue(const protocol::FrameHeader& header, ConstBytes control,
                  std::span<const ConstBytes> segments) override;

 private:
  Deadline recv_deadline(Timeout timeout) const;
  Status fill(size_t n, const Deadline& deadline);    // ensure n buffered bytes
  Status fail_recv(Status status);                    // records a sticky receive error
  Status check_recv() const;                          // sticky error or shutdown
  Status check_send() const;
  Status recv_into(MutableBytes dest, const Deadline& deadline);  // buffered bytes, then direct
  Status write(Timeout timeout);                      // pending_ + iov_, then clears both
  size_t buffered() const { return rend_ - rpos_; }

  // Constant after construction.
  const std::unique_ptr<ByteStream> stream_;
  const std::string peer_;
  const Options options_;
  std::atomic<bool> shut_{false};

  // Send side (sender thread only).
  std::vector<std::byte> send_head_;
  std::vector<iovec> iov_;
  std::vector<std::byte> pending_;  // queued frames, whole
  std::optional<Status> send_broken_;

  // Receive side (receiver thread only).
  std::vector<std::byte> rbuf_;
  size_t rpos_ = 0;
  size_t rend_ = 0;
  std::vector<uint64_t> seg_lengths_;
  uint32_t seg_count_ = 0;
  uint32_t seg_next_ = 0;
  uint64_t seg_done_ = 0;  // bytes of segment seg_next_ already taken by recv_segment_part()
  std::optional<Status> recv_broken_;
};

}  // namespace gpool::transport
