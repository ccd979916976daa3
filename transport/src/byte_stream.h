// ByteStream: the operations a stream-oriented transport backend provides (internal).
//
// StreamConnection (stream_connection.h) implements gpool framing on top of these four
// operations; each byte-stream backend (tcp/io_uring, tcp/socket) is one class in its own
// directory. The contract of every operation:
//
// - write_all() sends every byte of the gather list `iov` or fails. A failure leaves an unknown
//   number of bytes sent: the caller treats the stream as broken.
// - read_some() reads at least `min` and at most buf.size() bytes. `got` is always set to the
//   number of bytes placed in `buf`, also on failure (so a timeout loses nothing).
// - read_exact() fills `buf` completely or fails (broken). Large reads are chunked.
// - shutdown() may be called from any thread; blocked operations then fail with kDisconnected.
//
// A peer that closed or reset the connection is kDisconnected; a deadline that passes is
// kTimeout; other system errors are kIo with the call and errno in the text.
//
// Thread safety: one thread may write while another reads; shutdown() from any thread.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <span>
#include <string>

#include "deadline.h"
#include "gpool/transport/status.h"

namespace gpool::transport {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  virtual Status write_all(std::span<const iovec> iov, const Deadline& deadline) = 0;
  virtual Status read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline,
                           size_t& got) = 0;
  virtual Status read_exact(std::span<std::byte> buf, const Deadline& deadline) = 0;
  virtual void shutdown() = 0;
  virtual const char* name() const = 0;
  // The underlying file descriptor (still owned by the stream), or -1 when there is none.
  virtual int fd() const { return -1; }
  // A descriptor to poll for readability (still owned by the stream): fd() unless the stream
  // holds state that forbids a hand-off (tls), -1 when there is none.
  virtual int poll_fd() const { return fd(); }
  // SHA-256 (lowercase hex) of the certificate the peer presented and that was verified; empty
  // when there is none (no TLS, no client certificate, handshake not finished).
  virtual std::string peer_certificate_sha256() const { return {}; }
};

}  // namespace gpool::transport
