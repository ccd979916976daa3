#include "tls_stream.h"

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace gpool::transport::tls {
namespace {

constexpr size_t kSmallPiece = 16 * 1024;   // gathered into one record
constexpr size_t kWriteChunk = 1 << 20;     // the most one SSL_write takes under the lock
constexpr int kWriteBuffer = 256 * 1024;    // records gathered before a send()

bool is_ip(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A hint for the reasons OpenSSL gives when the other end does not speak TLS.
std::string plain_peer_hint(const std::string& why) {
  if (why.find("wrong version number") != std::string::npos ||
      why.find("packet length too long") != std::string::npos ||
      why.find("http request") != std::string::npos || why.find("record layer") != std::string::npos) {
    return " (the peer does not speak TLS: is it a plain tcp:// endpoint?)";
  }
  return "";
}

// The socket BIO writes with write(2), which raises SIGPIPE on a closed connection: fatal in
// a client program that does not ignore it. This method is the socket BIO with its write
// replaced by send(MSG_NOSIGNAL).
int send_nosignal(BIO* b, const char* data, int len) {
  int fd = -1;
  BIO_get_fd(b, &fd);
  errno = 0;
  const ssize_t n = ::send(fd, data, static_cast<size_t>(len), MSG_NOSIGNAL);
  BIO_clear_retry_flags(b);
  if (n <= 0 && BIO_sock_should_retry(static_cast<int>(n))) BIO_set_retry_write(b);
  return static_cast<int>(n);
}

const BIO_METHOD* nosignal_socket_method() {
  static BIO_METHOD* method = [] {
    const BIO_METHOD* base = BIO_s_socket();
    BIO_METHOD* m = BIO_meth_new(BIO_TYPE_SOCKET, "gpool socket (MSG_NOSIGNAL)");
    BIO_meth_set_write(m, &send_nosignal);
    BIO_meth_set_read(m, BIO_meth_get_read(base));
    BIO_meth_set_puts(m, BIO_meth_get_puts(base));
    BIO_meth_set_ctrl(m, BIO_meth_get_ctrl(base));
    BIO_meth_set_create(m, BIO_meth_get_create(base));
    BIO_meth_set_destroy(m, BIO_meth_get_destroy(base));
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(int fd, std::string peer, CtxPtr ctx, bool server, const TlsOptions& tls,
                     const std::string& host, std::chrono::milliseconds handshake_timeout)
    : fd_(fd), peer_(std::move(peer)), server_(server), ctx_(std::move(ctx)),
      hs_deadline_(Deadline::after(handshake_timeout)) {
  ssl_ = SSL_new(ctx_.get());
  if (ssl_ == nullptr) {
    hs_failed_ = Status::make(Code::kIo, fmt::format("SSL_new for {} failed: {}", peer_, take_errors()));
    return;
  }
  SSL_set_app_data(ssl_, this);
  // Reads straight from the socket (read-ahead: many records a read); writes gather records in
  // a buffer BIO and leave in large send()s (flushed at the end of each write_all()).
  BIO* rbio = BIO_new(nosignal_socket_method());
  BIO* wsock = BIO_new(nosignal_socket_method());
  BIO* wbuf = BIO_new(BIO_f_buffer());
  if (rbio == nullptr || wsock == nullptr || wbuf == nullptr) {
    BIO_free(rbio);
    BIO_free(wsock);
    BIO_free(wbuf);
    hs_failed_ = Status::make(Code::kIo, fmt::format("BIO_new for {} failed: {}", peer_, take_errors()));
    return;
  }
  BIO_set_fd(rbio, fd_, BIO_NOCLOSE);
  BIO_set_fd(wsock, fd_, BIO_NOCLOSE);
  BIO_set_write_buffer_size(wbuf, kWriteBuffer);
  SSL_set_bio(ssl_, rbio, BIO_push(wbuf, wsock));
  if (server_) {
    SSL_set_accept_state(ssl_);
    if (SSL_CTX_get_verify_mode(ctx_.get()) != SSL_VERIFY_NONE) {
      SSL_set_verify(ssl_, SSL_CTX_get_verify_mode(ctx_.get()), &TlsStream::verify_callback);
    }
    return;
  }
  SSL_set_connect_state(ssl_);
  if (!tls.fingerprint.empty()) normalize_fingerprint(tls.fingerprint, fingerprint_);
  ca_file_ = tls.ca_file;
  if (!ca_file_.empty() || fingerprint_.empty()) {
    X509_VERIFY_PARAM* param = SSL_get0_param(ssl_);
    if (is_ip(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
    } else {
      SSL_set_tlsext_host_name(ssl_, host.c_str());
      X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    }
  }
  SSL_set_verify(ssl_, SSL_VERIFY_PEER, &TlsStream::verify_callback);
}

TlsStream::~TlsStream() {
  if (ssl_ != nullptr) SSL_free(ssl_);  // no SSL_shutdown: see the header
  ::close(fd_);
}

int TlsStream::verify_callback(int ok, X509_STORE_CTX* store) {
  SSL* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* self = static_cast<TlsStream*>(SSL_get_app_data(ssl));
  const int depth = X509_STORE_CTX_get_error_depth(store);
  const char* err = X509_verify_cert_error_string(X509_STORE_CTX_get_error(store));
  if (self->server_) {
    if (!ok && self->verify_failure_.empty()) {
      self->verify_failure_ = fmt::format("client certificate refused: {} (depth {})", err, depth);
    }
    return ok;
  }
  const bool pinned = !self->fingerprint_.empty();
  if (!ok && (!self->ca_file_.empty() || !pinned)) {
    if (self->verify_failure_.empty()) {
      self->verify_failure_ =
          self->ca_file_.empty()
              ? fmt::format("server certificate not trusted by the system's CA store: {}", err)
              : fmt::format("server certificate not trusted by CA file '{}': {}", self->ca_file_, err);
    }
    return 0;
  }
  if (pinned && depth == 0) {
    const std::string got = cert_sha256(X509_STORE_CTX_get_current_cert(store));
    if (got != self->fingerprint_) {
      self->verify_failure_ = fmt::format(
          "server certificate fingerprint mismatch: it is sha256 {}, the pinned fingerprint is {}",
          got, self->fingerprint_);
      return 0;
    }
  }
  return 1;
}

std::string TlsStream::peer_certificate_sha256() const {
  return done_.load(std::memory_order_acquire) ? peer_sha256_ : std::string();
}

void TlsStream::shutdown() {
  shut_.store(true, std::memory_order_release);
  ::shutdown(fd_, SHUT_RDWR);  // wakes a poll on either side
}

Status TlsStream::wait(short events, const Deadline& deadline, const char* what) {
  for (;;) {
    if (shut_.load(std::memory_order_acquire)) {
      return Status::make(Code::kDisconnected, fmt::format("connection to {} was shut down", peer_));
    }
    if (deadline.passed()) return Status::make(Code::kTimeout, fmt::format("{} {} timed out", what, peer_));
    pollfd p{fd_, events, 0};
    const int rc = ::poll(&p, 1, deadline.poll_ms());
    if (rc > 0) return Status::success();
    if (rc < 0 && errno != EINTR) {
      return Status::make(Code::kIo, fmt::format("poll for {} {}: {}", what, peer_, std::strerror(errno)), errno);
    }
  }
}

Status TlsStream::failure(int err, const char* what) {
  const int sys = errno;
  if (shut_.load(std::memory_order_acquire)) {
    ERR_clear_error();
    return Status::make(Code::kDisconnected, fmt::format("connection to {} was shut down", peer_));
  }
  if (err == SSL_ERROR_ZERO_RETURN) {
    return Status::make(Code::kDisconnected, fmt::format("{} closed the connection", peer_));
  }
  if (err == SSL_ERROR_SYSCALL) {
    const std::string why = take_errors();
    if (sys == 0 || sys == ECONNRESET || sys == EPIPE || sys == ENOTCONN) {
      return Status::make(Code::kDisconnected, fmt::format("{} closed the connection", peer_), sys);
    }
    return Status::make(Code::kIo, fmt::format("{} {}: {}", what, peer_, why.empty() ? std::strerror(sys) : why), sys);
  }
  const std::string why = take_errors();
  return Status::make(Code::kProtocol, fmt::format("tls error on {} {}: {}{}", what, peer_,
                                                   why.empty() ? "unknown" : why, plain_peer_hint(why)));
}

Status TlsStream::handshake_step(bool& again, int& events) {
  again = false;
  std::lock_guard<std::mutex> lock(mu_);
  ERR_clear_error();
  errno = 0;
  const int rc = SSL_do_handshake(ssl_);
  if (rc == 1) {
    X509* cert = SSL_get0_peer_certificate(ssl_);
    peer_sha256_ = cert != nullptr ? cert_sha256(cert) : std::string();
    if (!server_ && !fingerprint_.empty() && peer_sha256_ != fingerprint_) {  // belt and braces
      return Status::make(Code::kProtocol,
                          fmt::format("tls handshake with {} failed: server certificate fingerprint "
                                      "mismatch: it is sha256 {}, the pinned fingerprint is {}",
                                      peer_, peer_sha256_, fingerprint_));
    }
    done_.store(true, std::memory_order_release);
    return Status::success();
  }
  const int err = SSL_get_error(ssl_, rc);
  if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
    again = true;
    events = err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
    return Status::success();
  }
  Status s = failure(err, "tls handshake with");
  if (!verify_failure_.empty()) {
    s.code = Code::kProtocol;
    s.text = fmt::format("tls handshake with {} failed: {}", peer_, verify_failure_);
  } else if (s.code == Code::kDisconnected && !shut_.load()) {
    s.text = fmt::format("tls handshake with {} failed: the peer closed the connection during the "
                         "handshake ({})", peer_,
                         server_ ? "the client gave up or does not speak TLS"
                                 : "a plain tcp:// server, or a server that refused this client's "
                                   "certificate, closes this way");
  } else if (s.code == Code::kProtocol) {
    s.text = fmt::format("tls handshake with {} failed: {}", peer_, s.text.substr(s.text.find(": ") + 2));
  }
  return s;
}

void TlsStream::start() {
  std::lock_guard<std::timed_mutex> lock(hs_mu_);
  if (hs_failed_ || done_.load()) return;
  bool again = false;
  int events = 0;
  if (Status s = handshake_step(again, events); !s.ok()) hs_failed_ = s;
}

Status TlsStream::handshake(const Deadline& op_deadline) {
  if (done_.load(std::memory_order_acquire)) return Status::success();
  // The earlier of the operation's deadline and the handshake's own bound.
  const Deadline& deadline =
      hs_deadline_.infinite() ? op_deadline
      : op_deadline.infinite() ? hs_deadline_
      : (op_deadline.remaining() < hs_deadline_.remaining() ? op_deadline : hs_deadline_);
  std::unique_lock<std::timed_mutex> lock(hs_mu_, std::defer_lock);
  if (deadline.infinite()) {
    lock.lock();
  } else if (!lock.try_lock_for(deadline.remaining())) {
    return Status::make(Code::kTimeout, fmt::format("tls handshake with {} timed out", peer_));
  }
  if (hs_failed_) return *hs_failed_;
  while (!done_.load(std::memory_order_acquire)) {
    bool again = false;
    int events = 0;
    Status s = handshake_step(again, events);
    if (s.ok() && again) s = wait(static_cast<short>(events), deadline, "tls handshake with");
    if (!s.ok()) {
      if (s.code != Code::kTimeout) hs_failed_ = s;  // a timeout may be retried (nothing lost)
      return s;
    }
  }
  return Status::success();
}

Status TlsStream::write_buf(const std::byte* p, size_t n, const Deadline& deadline) {
  while (n > 0) {
    const size_t len = std::min(n, kWriteChunk);
    size_t written = 0;
    int err = SSL_ERROR_NONE;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      errno = 0;
      const int rc = SSL_write_ex(ssl_, p, len, &written);
      if (rc != 1) err = SSL_get_error(ssl_, rc);
    }
    if (err == SSL_ERROR_NONE) {
      p += written;
      n -= written;
      continue;
    }
    if (err == SSL_ERROR_WANT_WRITE || err == SSL_ERROR_WANT_READ) {
      // Retried with the same buffer and length, as OpenSSL requires.
      if (Status s = wait(err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN, deadline, "send to"); !s.ok()) return s;
      continue;
    }
    return failure(err, "send to");
  }
  return Status::success();
}

Status TlsStream::flush(const Deadline& deadline) {
  for (;;) {
    int rc = 0;
    bool retry = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      errno = 0;
      BIO* w = SSL_get_wbio(ssl_);
      rc = BIO_flush(w);
      retry = rc <= 0 && BIO_should_retry(w);
    }
    if (rc > 0) return Status::success();
    if (!retry) return failure(SSL_ERROR_SYSCALL, "send to");
    if (Status s = wait(POLLOUT, deadline, "send to"); !s.ok()) return s;
  }
}

Status TlsStream::write_all(std::span<const iovec> iov, const Deadline& deadline) {
  if (Status s = handshake(deadline); !s.ok()) return s;
  stage_.clear();
  for (const iovec& v : iov) {
    const auto* p = static_cast<const std::byte*>(v.iov_base);
    if (v.iov_len < kSmallPiece) {
      stage_.insert(stage_.end(), p, p + v.iov_len);
      if (stage_.size() < kSmallPiece) continue;
      if (Status s = write_buf(stage_.data(), stage_.size(), deadline); !s.ok()) return s;
      stage_.clear();
      continue;
    }
    if (!stage_.empty()) {
      if (Status s = write_buf(stage_.data(), stage_.size(), deadline); !s.ok()) return s;
      stage_.clear();
    }
    if (Status s = write_buf(p, v.iov_len, deadline); !s.ok()) return s;
  }
  if (!stage_.empty()) {
    if (Status s = write_buf(stage_.data(), stage_.size(), deadline); !s.ok()) return s;
    stage_.clear();
  }
  return flush(deadline);
}

Status TlsStream::read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline, size_t& got) {
  got = 0;
  if (Status s = handshake(deadline); !s.ok()) return s;
  while (got < min) {
    size_t n = 0;
    int err = SSL_ERROR_NONE;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ERR_clear_error();
      errno = 0;
      const int rc = SSL_read_ex(ssl_, buf.data() + got, buf.size() - got, &n);
      if (rc != 1) err = SSL_get_error(ssl_, rc);
    }
    if (err == SSL_ERROR_NONE) {
      got += n;
      continue;
    }
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      if (Status s = wait(err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, "receive from"); !s.ok()) {
        return s;
      }
      continue;
    }
    return failure(err, "receive from");
  }
  return Status::success();
}

Status TlsStream::read_exact(std::span<std::byte> buf, const Deadline& deadline) {
  size_t got = 0;
  return read_some(buf, buf.size(), deadline, got);
}

}  // namespace gpool::transport::tls
