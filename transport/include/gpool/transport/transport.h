// The transport interface: connections that carry gpool frames, chosen by URL.
//
//   tcp://host:port   TCP on io_uring, falling back to blocking sockets (transport/tcp/)
//   ucx://host:port   UCX (transport/src/ucx_*), when built with it
//   tls://host:port   TLS 1.3 over TCP with OpenSSL (transport/tls/); Options::tls says how each
//                     side proves who it is. The TLS handshake runs on the first send or
//                     receive (and one step of it, without waiting, in connect() and accept()),
//                     so a handshake failure (untrusted server, pinned fingerprint mismatch,
//                     refused client certificate, a plain tcp:// peer) is reported by the first
//                     send()/recv_head() as kProtocol naming what failed, or kDisconnected when
//                     the peer closed during the handshake. A client's handshake is bounded
//                     by connect_timeout (kTimeout), whatever the deadline of the call.
//
// A frame is a control message (an Envelope FlatBuffer, gpool.fbs) followed by bulk segments
// (docs/protocol.md). Sending takes a gather list: the segments are never copied into one
// buffer. Receiving happens in steps so the caller decides where bulk data lands:
//
//   FrameHead head;
//   conn->recv_head(head);                  // header, segment table, verified control message
//   switch (head.envelope->message_type()) { ... }
//   conn->recv_segment(app_buffer);         // segment 0 straight into the caller's buffer
//   conn->skip_segment();                   // segment 1 is not wanted
//
// Every control message is verified (protocol::verify_envelope) before recv_head() returns it;
// a frame that fails is reported as kProtocol and breaks the connection.
//
// Ownership: connect()/listen()/accept() hand out unique_ptrs owned by the caller. Destroying a
// Connection closes its socket; no other thread may be inside one of its calls then.
//
// Thread safety of a Connection: one thread may send (send(), queue(), flush()) while another receives
// (recv_head(), recv_segment(), skip_segment(), recv_frame()); two threads must not send at
// once, nor receive at once. shutdown(), peer() and backend() may be called from any thread at
// any time before destruction. A Listener's accept() is called by one thread at a time;
// shutdown() from any thread wakes it.
//
// Errors: see status.h. Output parameters are set only on success.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gpool/protocol/frame.h"
#include "gpool/protocol/message.h"
#include "gpool/transport/options.h"
#include "gpool/transport/status.h"

namespace gpool::transport {

using ConstBytes = std::span<const std::byte>;
using MutableBytes = std::span<std::byte>;

// The head of a received frame. Reuse one FrameHead across calls: its control buffer is kept
// and grown as needed, so steady-state receiving does not allocate.
// Not copyable (envelope points into control).
struct FrameHead {
  protocol::FrameHeader header;
  std::vector<uint64_t> segment_lengths;    // one entry per segment, in order
  std::vector<std::byte> control;           // the control bytes (8-byte aligned heap buffer)
  size_t control_size = 0;                  // valid bytes of `control`
  const protocol::wire::Envelope* envelope = nullptr;  // verified, points into `control`

  FrameHead() = default;
  FrameHead(const FrameHead&) = delete;
  FrameHead& operator=(const FrameHead&) = delete;
  FrameHead(FrameHead&&) = default;
  FrameHead& operator=(FrameHead&&) = default;

  ConstBytes control_bytes() const { return {control.data(), control_size}; }
  uint32_t segment_count() const { return header.segment_count; }
};

// A whole received frame with owned segment buffers (recv_frame(); convenient for small frames).
struct Frame {
  FrameHead head;
  std::vector<std::vector<std::byte>> segments;
};

// Per-call timeout: nullopt uses the connection's Options; zero means no timeout; negative
// (recv_head() of tls:// and the socket backend) means do not wait: kTimeout at once unless the
// frame head has arrived (a poll loop calls it when poll_fd() is readable).
using Timeout = std::optional<std::chrono::milliseconds>;

class Connection {
 public:
  virtual ~Connection() = default;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends one frame: `control` (a finished Envelope) and `segments`, as one gather list.
  // Blocks until every byte has been handed to the kernel (or the send timeout passes).
  // The buffers are not used after send() returns.
  // Errors: kInvalidArgument (above protocol limits; nothing was sent), kDisconnected,
  // kTimeout (connection broken), kIo.
  Status send(ConstBytes control, std::span<const ConstBytes> segments = {},
              Timeout timeout = std::nullopt);

  // Appends one small frame to the connection's send buffer without writing it (a copy is
  // taken). Queued frames go out, in order, at the next send() (in the same system call as
  // that frame), at flush(), or when the buffer passes 256 KiB. This is how a client batches
  // async calls so that each costs far less than a system call. A frame above 64 KiB is not
  // copied: queue() then flushes the buffer and sends the frame itself.
  // Errors: as send(); a failure may leave earlier queued frames unsent (connection broken).
  Status queue(ConstBytes control, std::span<const ConstBytes> segments = {});

  // Writes every queued frame. Errors: as send().
  virtual Status flush(Timeout timeout = std::nullopt) = 0;

  // Bytes queued and not yet written.
  virtual size_t queued_bytes() const = 0;

  // Receives the next frame's header, segment table and control message, and verifies it.
  // Segments of the previous frame that were neither received nor skipped are skipped first.
  // Errors: kTimeout (nothing consumed: may be retried), kDisconnected, kProtocol, kIo.
  Status recv_head(FrameHead& head, Timeout timeout = std::nullopt);

  // Receives the next segment of the current frame into `dest`.
  // REQUIRES: a successful recv_head(), a segment left, dest.size() == its length
  // (kInvalidArgument otherwise, connection unaffected).
  // Errors: kTimeout (connection broken), kDisconnected, kIo.
  virtual Status recv_segment(MutableBytes dest, Timeout timeout = std::nullopt) = 0;

  // Reads and drops the next segment of the current frame (or what is left of it after
  // recv_segment_part()). Same errors as recv_segment().
  virtual Status skip_segment(Timeout timeout = std::nullopt) = 0;

  // Receives the next dest.size() bytes of the current segment, so a large segment can be
  // consumed in pieces (a server pipelines a copy chunk by chunk this way). The segment counts
  // as received once its last byte has been taken; segment_part_left() says how many remain.
  // recv_segment() after some parts takes exactly the rest.
  // REQUIRES: a successful recv_head(), a segment left, 0 < dest.size() <= segment_part_left()
  // (kInvalidArgument otherwise, connection unaffected).
  // Errors: as recv_segment().
  virtual Status recv_segment_part(MutableBytes dest, Timeout timeout = std::nullopt) = 0;

  // Bytes of the current segment not yet received (0 when no segment is left).
  virtual uint64_t segment_part_left() const = 0;

  // True when the next recv_head() and its segments will not wait for the peer: a whole next
  // frame is already buffered (or a buffered header is invalid, so recv_head() fails at once).
  // Conservative: false whenever that is unknown (the default; segments of the current frame
  // still unread; a frame larger than the read-ahead buffer). A server uses it to keep working
  // on what a client already sent before it blocks (launch batching, launch_meter.h).
  virtual bool frame_ready() const { return false; }

  // recv_head() and every segment into owned buffers.
  Status recv_frame(Frame& frame, Timeout timeout = std::nullopt);

  // Shuts the connection down in both directions: blocked and later calls on either side
  // return kDisconnected. Thread safe; idempotent.
  virtual void shutdown() = 0;

  // "tcp://1.2.3.4:5678" of the other end, for logs.
  virtual const std::string& peer() const = 0;

  // The implementation in use, for logs ("tcp/io_uring", "tcp/socket").
  virtual const char* backend() const = 0;

  // Segments of the current frame not yet received or skipped.
  virtual uint32_t segments_left() const = 0;

  // The connected socket under this connection, for handing the session to another process
  // (SCM_RIGHTS; the receiver wraps its copy with adopt()). -1 when the backend has no such
  // socket, or when this Connection holds state a hand-off would lose (received bytes not yet
  // consumed, a frame partly received, queued frames). The fd stays owned by this Connection.
  virtual int handoff_fd() const { return -1; }

  // A descriptor that polls readable when bytes have arrived for this connection (tls://:
  // its socket, which cannot be handed off); -1 when there is none. Owned by the Connection.
  virtual int poll_fd() const { return handoff_fd(); }

  // tls://: the SHA-256 (lowercase hex, 64 digits) of the verified certificate the peer
  // presented, once the handshake is done; empty otherwise (no TLS, no client certificate).
  virtual std::string peer_certificate_sha256() const { return {}; }

 protected:
  Connection() = default;

  // Backend halves of send()/recv_head(): send() has already checked the protocol limits and
  // encoded `header`; do_recv_head() fills head.header, segment_lengths, control and
  // control_size (decode_header/decode_segment_table already applied) and recv_head() then
  // verifies the envelope.
  virtual Status do_send(const protocol::FrameHeader& header, ConstBytes control,
                         std::span<const ConstBytes> segments, Timeout timeout) = 0;
  virtual Status do_recv_head(FrameHead& head, Timeout timeout) = 0;
  virtual Status do_queue(const protocol::FrameHeader& header, ConstBytes control,
                          std::span<const ConstBytes> segments) = 0;
  // Called when recv_head()'s verification fails: the connection must become broken.
  virtual void mark_broken(Status status) = 0;
};

class Listener {
 public:
  virtual ~Listener() = default;
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  // Waits for the next connection. `timeout` nullopt or zero: wait for ever.
  // Errors: kTimeout, kDisconnected (after shutdown()), kIo.
  virtual Status accept(std::unique_ptr<Connection>& out, Timeout timeout = std::nullopt) = 0;

  // The URL this listener is bound to, with the real port (e.g. after listening on port 0).
  virtual const std::string& url() const = 0;

  // Stops accepting: a blocked accept() returns kDisconnected. Thread safe; idempotent.
  virtual void shutdown() = 0;

  // A descriptor that polls readable (POLLIN) when accept() has a connection waiting, for a
  // caller that waits on many things in one poll(); -1 when the listener has none. Owned by
  // the listener.
  virtual int poll_fd() const { return -1; }

  // tls://: loads `tls` (certificate, key, client CA) again and uses it for connections
  // accepted from now on; established ones keep theirs. On an error (kInvalidArgument naming
  // the file and what is wrong) the listener keeps what it had. Other schemes: success,
  // nothing to do. Called by the accepting thread.
  virtual Status reload_tls(const TlsOptions& tls) {
    (void)tls;
    return Status::success();
  }

 protected:
  Listener() = default;
};

// Connects to `url`. Errors: kInvalidArgument (malformed URL or unknown scheme),
// kUnreachable (nobody listens, host unknown), kTimeout (connect_timeout passed),
// kUnavailable (backend requested in options cannot run here), kIo.
Status connect(std::string_view url, const Options& options, std::unique_ptr<Connection>& out);

// Listens on `url` (port 0 picks a free port; see Listener::url()). Errors: kInvalidArgument,
// kUnavailable, kIo (e.g. address in use).
Status listen(std::string_view url, const Options& options, std::unique_ptr<Listener>& out);

// Wraps `fd`, a connected socket of `scheme` ("tcp", "ucx") received from another process (see
// Connection::handoff_fd()), in a Connection. Takes ownership of `fd` in every case (closed on
// failure). Errors: kInvalidArgument (a scheme without adoption, or fd < 0), kUnavailable.
Status adopt(std::string_view scheme, int fd, const Options& options, std::unique_ptr<Connection>& out);

}  // namespace gpool::transport
