// TlsStream: the ByteStream of tls:// — TLS 1.3 records over a non-blocking TCP socket
// (internal).
//
// The socket is non-blocking; every OpenSSL call on the connection's SSL runs under `mu_`
// (OpenSSL does not allow two threads in one SSL at once), and waiting for the socket (poll)
// happens outside it, so the sender and the receiver still run side by side. The handshake
// is driven by whichever call comes first (start() takes one step without waiting; a read or
// write finishes it within its deadline); `hs_mu_` lets one thread at a time drive it, so two
// threads never wait on the socket for the same handshake bytes.
//
// Client side, the server's certificate is checked in the verify callback: by the CA (chain
// and host name or IP of the URL), by the pinned fingerprint (leaf SHA-256), or both. A
// failed check aborts the handshake before any application byte (the Hello and its token) is
// sent, and the error names what failed.
//
// Small pieces of a gather list are copied into one record; large ones are written in 1 MiB
// SSL_write calls, so the receiver is never kept from the lock for long. Records are gathered
// in a 256 KiB buffer BIO and sent in large send()s (flushed at the end of every write_all());
// reads use read-ahead, so one recv() brings many records.
//
// Ownership: owns the socket and the SSL; the destructor frees both WITHOUT sending
// close_notify (a forked worker may own the same session: the supervisor's copy must end
// silently). Thread safety: ByteStream's contract (one writer, one reader, shutdown from any).
#pragma once

#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "../src/byte_stream.h"
#include "tls_context.h"

namespace gpool::transport::tls {

class TlsStream final : public ByteStream {
 public:
  // `server`: accept side. Client side, `host` is the URL's host (checked against the
  // certificate when a CA verifies it) and `tls` says how to verify.
  // `handshake_timeout` (client side: the connect timeout; zero = none) bounds the handshake
  // even when the operation that drives it has no deadline, so a server that accepts and
  // never answers cannot hang a client.
  TlsStream(int fd, std::string peer, CtxPtr ctx, bool server, const TlsOptions& tls,
            const std::string& host, std::chrono::milliseconds handshake_timeout = {});
  ~TlsStream() override;

  // One handshake step without waiting. An error is kept and reported by the next operation.
  void start();

  Status write_all(std::span<const iovec> iov, const Deadline& deadline) override;
  Status read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline,
                   size_t& got) override;
  Status read_exact(std::span<std::byte> buf, const Deadline& deadline) override;
  void shutdown() override;
  const char* name() const override { return "tls"; }
  int fd() const override { return -1; }  // TLS state cannot move to another process
  int poll_fd() const override { return fd_; }
  std::string peer_certificate_sha256() const override;

 private:
  static int verify_callback(int preverify_ok, X509_STORE_CTX* store);
  // Finishes the handshake by `deadline` (an expired one: without waiting).
  Status handshake(const Deadline& deadline);
  Status handshake_step(bool& again, int& events);
  // Waits until the socket is ready for `events` or the deadline passes.
  Status wait(short events, const Deadline& deadline, const char* what);
  // The Status of a failed SSL call (`err` from SSL_get_error), with `what` ("receive from").
  Status failure(int err, const char* what);
  Status write_buf(const std::byte* p, size_t n, const Deadline& deadline);
  // Sends what the write buffer BIO holds.
  Status flush(const Deadline& deadline);

  const int fd_;
  const std::string peer_;
  const bool server_;
  CtxPtr ctx_;
  SSL* ssl_ = nullptr;
  std::string fingerprint_;  // client: expected server leaf SHA-256 (normalized), or empty
  std::string ca_file_;      // client: for messages
  std::atomic<bool> shut_{false};
  const Deadline hs_deadline_;  // bound of the handshake (infinite: none)

  std::mutex mu_;            // every SSL_* call on ssl_
  std::timed_mutex hs_mu_;   // the thread driving the handshake
  std::atomic<bool> done_{false};
  std::optional<Status> hs_failed_;  // sticky handshake failure (hs_mu_)
  std::string verify_failure_;       // set by verify_callback (under mu_)
  std::string peer_sha256_;          // set once the handshake is done (then constant)

  std::vector<std::byte> stage_;     // writer only: small pieces gathered into one record
};

}  // namespace gpool::transport::tls
