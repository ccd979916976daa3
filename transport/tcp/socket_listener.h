// The common half of the listeners on a TCP socket (tcp:// and ucx://, which bootstraps on
// TCP): the listening descriptor, the bound URL, shutdown, and a poll + accept4 loop (internal).
//
// Ownership: owns `fd` and closes it on destruction.
// Thread safety: accept() from one thread; url() and shutdown() from any thread.
#pragma once

#include <atomic>
#include <string>

#include "../src/deadline.h"
#include "gpool/transport/options.h"
#include "gpool/transport/transport.h"

namespace gpool::transport::tcp {

class SocketListener : public Listener {
 public:
  SocketListener(int fd, std::string url) : fd_(fd), url_(std::move(url)) {}
  ~SocketListener() override;

  const std::string& url() const override { return url_; }
  void shutdown() override;
  int poll_fd() const override { return fd_; }

 protected:
  bool shut() const { return shut_.load(); }
  // kDisconnected naming this listener: what accept() returns after shutdown().
  Status shut_status() const;
  // Waits with poll until a connection arrives or `deadline` passes, then accept4(flags);
  // retries on EAGAIN/EINTR/ECONNABORTED. Errors: kTimeout, kDisconnected after shutdown(), kIo.
  Status poll_accept(const Deadline& deadline, int accept_flags, int& cfd);
  // The accept of tls:// and ucx://: poll_accept until `timeout` (none: do not wait) with a
  // non-blocking close-on-exec socket, then configure_socket(options) (the socket is closed when
  // that fails). Errors: poll_accept's, configure_socket's.
  Status accept_configured(Timeout timeout, const Options& options, int& cfd);

  const int fd_;
  const std::string url_;

 private:
  std::atomic<bool> shut_{false};
};

}  // namespace gpool::transport::tcp
