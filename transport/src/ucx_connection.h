// UcxConnection: a ucx:// connection (internal). See ucx_transport.h for the wire protocol.
//
// Phases. A connection starts on its TCP bootstrap socket, carrying gpool frames exactly as
// tcp:// does. After the client has received its first frame (for gpool: the Welcome), its next
// send starts the upgrade: UPGRADE(client worker address) on TCP; the server, reading it,
// creates its worker and endpoint, answers ACK(server worker address) on TCP and sends every
// later frame over UCX; the client, reading ACK, creates its endpoint, receives over UCX from
// then on, and its next send writes SWITCH on TCP and then goes over UCX; the server receives
// over UCX after SWITCH. Each direction thus switches at one well-defined point of its ordered
// TCP stream, and no UCX resource exists on the server side before the process that serves the
// session reads UPGRADE (gpool-server forks or hands off the socket after Welcome).
// Afterwards the TCP socket carries nothing; its hangup tells that the peer is gone.
//
// UCX phase (tag API on a worker of its own): one HEAD message carries one or more whole
// frame heads (header, segment table, control) with the segments of every frame whose segments
// total at most kInlineSegmentBytes; the segments of a larger frame follow as SEG messages of at
// most the sender's chunk size each (sent with up to queue_depth in flight; UCX uses
// rendezvous, zero-copy where the transport allows, for large ones), received straight into
// the caller's buffer.
//
// Thread safety: as Connection. The send side holds send_mu_; the receive side is one thread.
// UCP calls hold the worker's mutex.
#pragma once

#include <ucp/api/ucp.h>

#include <atomic>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "deadline.h"
#include "gpool/transport/transport.h"
#include "ucx_worker.h"

namespace gpool::transport::ucx {

inline constexpr uint64_t kInlineSegmentBytes = 16 * 1024;

class UcxConnection final : public Connection {
 public:
  enum class Role { kClient, kServer };

  // Takes ownership of the connected, configured TCP socket `fd`.
  UcxConnection(int fd, std::string peer, Role role, const Options& options);
  ~UcxConnection() override;

  Status recv_segment(MutableBytes dest, Timeout timeout) override;
  Status skip_segment(Timeout timeout) override;
  // These three override Connection's where its header declares them (no `override`, so this
  // file also builds against the interface without segment parts and hand-off).
  Status recv_segment_part(MutableBytes dest, Timeout timeout);
  uint64_t segment_part_left() const {
    return seg_next_ < seg_count_ ? seg_lengths_[seg_next_] - seg_done_ : 0;
  }
  void shutdown() override;
  const std::string& peer() const override { return peer_; }
  const char* backend() const override;
  uint32_t segments_left() const override { return seg_count_ - seg_next_; }
  Status flush(Timeout timeout) override;
  size_t queued_bytes() const override { return pending_.size(); }
  int handoff_fd() const;

 protected:
  Status do_send(const protocol::FrameHeader& header, ConstBytes control,
                 std::span<const ConstBytes> segments, Timeout timeout) override;
  Status do_recv_head(FrameHead& head, Timeout timeout) override;
  Status do_queue(const protocol::FrameHeader& header, ConstBytes control,
                  std::span<const ConstBytes> segments) override;
  void mark_broken(Status status) override { recv_broken_ = std::move(status); }

 private:
  enum class Mode : uint8_t { kTcp, kUpgrading, kUcx };
  enum class Source : uint8_t { kTcp, kInline, kChunks };

  // --- both sides
  Status disconnected(const std::string& why) const;
  Status ucx_check() const;               // shutdown, endpoint error, bootstrap hangup
  struct Pending {
    void* req;
    bool recv;
    size_t expect;  // receive: the message length it must have
  };
  Status post_recv(std::deque<Pending>& reqs, std::byte* buf, size_t len);
  Status wait_requests(std::deque<Pending>& reqs, size_t keep, const Deadline& deadline);
  void abandon_requests(std::deque<Pending>& reqs);  // cancel, close the endpoint, reap
  Status request_error(ucs_status_t st, const char* what) const;
  Status create_endpoint(const std::vector<std::byte>& peer_address);
  static void on_ep_error(void* arg, ucp_ep_h ep, ucs_status_t status);

  // The stored failure of one direction, else kDisconnected after shutdown(), else success.
  Status check_broken(const std::optional<Status>& broken) const;
  Status shut_status() const;
  // What a failure is recorded as: kDisconnected once shutdown() was called.
  Status as_broken(Status s) const;

  // --- send side (send_mu_ held)
  Status check_send() const;
  Status prepare_send_mode(const Deadline& deadline);
  Status tcp_write(std::span<const ConstBytes> parts, const Deadline& deadline);
  Status write_record(uint32_t type, ConstBytes payload, const Deadline& deadline);
  Status ucx_send(std::span<const ConstBytes> head_parts, std::span<const ConstBytes> segments,
                  const Deadline& deadline);
  Status send_locked(const protocol::FrameHeader& header, ConstBytes control,
                     std::span<const ConstBytes> segments, const Deadline& deadline);
  Status fail_send(Status s);

  // --- receive side
  Status check_recv() const;
  Status fail_recv(Status s);
  Status tcp_fill(size_t n, const Deadline& deadline);
  Status tcp_read_direct(std::span<std::byte> dest, const Deadline& deadline);
  // The non-blocking receive loop of both: recv into buf[done, room) until `need` bytes are
  // there (done grows), polling until `deadline`. Errors: kDisconnected (shut down, peer
  // closed), errno_status of recv, kTimeout with `timed_out` (a format string, {} = the peer).
  Status tcp_recv(std::byte* buf, size_t& done, size_t need, size_t room, const Deadline& deadline,
                  const char* timed_out);
  Status handle_record(uint32_t type, uint32_t chunk, ConstBytes payload, const Deadline& deadline);
  Status server_upgrade(ConstBytes client_address, uint32_t chunk, const Deadline& deadline);
  Status ucx_next_message(const Deadline& deadline);
  Status parse_head(std::vector<std::byte>& buf, size_t& pos, size_t end, bool from_ucx,
                    FrameHead& head);
  Status take(std::byte* dest, uint64_t n, const Deadline& deadline);  // dest null: drop
  Status take_chunks(std::byte* dest, uint64_t n, const Deadline& deadline);
  Status segment_error(Status s);

  // Constant after construction.
  const int fd_;
  const std::string peer_;
  const Role role_;
  const Options options_;
  const uint32_t chunk_;  // our SEG message size (options_.chunk_bytes, clamped)
  std::atomic<bool> shut_{false};
  std::atomic<bool> hangup_{false};  // the bootstrap socket became readable/hung up in UCX phase

  // UCX objects: worker_ is set once (under state_mu_) and kept until destruction; ep_ is
  // created by the receive side before the send side may use it, and set to null (under the
  // worker's mutex) when closed.
  std::mutex state_mu_;
  std::unique_ptr<Worker> worker_;
  std::atomic<Worker*> w_{nullptr};
  ucp_ep_h ep_ = nullptr;
  std::atomic<int> ep_error_{0};  // ucs_status_t reported by the endpoint's error handler
  std::atomic<bool> ep_closed_{false};
  std::atomic<bool> poisoned_{false};  // receives could not be cancelled: never progress again

  // Send side.
  std::mutex send_mu_;
  std::atomic<Mode> send_mode_{Mode::kTcp};
  std::atomic<bool> upgrade_wanted_{false};  // client: first frame received
  std::atomic<bool> ack_seen_{false};        // client: ACK read, endpoint ready
  std::atomic<bool> refused_{false};         // client: the server cannot use UCX
  bool upgrade_off_ = false;                  // client: stay on TCP for good
  std::vector<std::byte> pending_;            // queued whole frames
  std::vector<std::byte> send_buf_;           // HEAD message being sent
  std::vector<std::byte> head_buf_;           // header + segment table of the frame being sent
  std::vector<ConstBytes> parts_;
  std::optional<Status> send_broken_;

  // Receive side.
  std::atomic<Mode> recv_mode_{Mode::kTcp};
  std::vector<std::byte> tbuf_;  // TCP read-ahead
  size_t tpos_ = 0, tend_ = 0;
  std::vector<std::byte> mbuf_;  // the current HEAD message
  size_t mpos_ = 0, mend_ = 0;
  uint32_t peer_chunk_ = 0;      // the peer's SEG message size
  std::vector<uint64_t> seg_lengths_;
  uint32_t seg_count_ = 0, seg_next_ = 0;
  uint64_t seg_done_ = 0;        // bytes of segment seg_next_ already taken
  Source source_ = Source::kTcp;
  std::vector<std::byte> stash_; // a SEG message taken only in part
  std::optional<Status> recv_broken_;
};

}  // namespace gpool::transport::ucx
