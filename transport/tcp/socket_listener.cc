#include "socket_listener.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>

#include "socket_util.h"

namespace gpool::transport::tcp {

SocketListener::~SocketListener() { ::close(fd_); }

void SocketListener::shutdown() {
  shut_.store(true);
  ::shutdown(fd_, SHUT_RDWR);
}

Status SocketListener::shut_status() const {
  return Status::make(Code::kDisconnected, fmt::format("listener {} was shut down", url_));
}

Status SocketListener::accept_configured(Timeout timeout, const Options& options, int& cfd) {
  const Deadline deadline = Deadline::after(timeout.value_or(std::chrono::milliseconds(0)));
  if (Status s = poll_accept(deadline, SOCK_CLOEXEC | SOCK_NONBLOCK, cfd); !s.ok()) return s;
  if (Status s = configure_socket(cfd, options); !s.ok()) {
    ::close(cfd);
    cfd = -1;
    return s;
  }
  return Status::success();
}

Status SocketListener::poll_accept(const Deadline& deadline, int accept_flags, int& cfd) {
  for (;;) {
    if (shut()) return shut_status();
    pollfd p{fd_, POLLIN, 0};
    const int rc = ::poll(&p, 1, deadline.poll_ms());
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return sys_error("poll", url_);
    if (shut()) return shut_status();
    if (rc == 0) return Status::make(Code::kTimeout, fmt::format("no connection on {} before the timeout", url_));
    cfd = ::accept4(fd_, nullptr, nullptr, accept_flags);
    if (cfd >= 0) return Status::success();
    if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED) continue;
    if (shut() || errno == EINVAL) return shut_status();
    return sys_error("accept", url_);
  }
}

}  // namespace gpool::transport::tcp
