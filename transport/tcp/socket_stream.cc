#include "socket_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <vector>

#include "socket_util.h"

namespace gpool::transport::tcp {

SocketStream::SocketStream(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}

SocketStream::~SocketStream() { ::close(fd_); }

void SocketStream::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

// Sets SO_SNDTIMEO/SO_RCVTIMEO to the time left (or clears it). Returns false when the deadline
// has already passed.
bool SocketStream::set_timeout(int option, const Deadline& deadline, bool& armed) {
  if (deadline.infinite()) {
    if (armed) {
      timeval tv{};
      ::setsockopt(fd_, SOL_SOCKET, option, &tv, sizeof tv);
      armed = false;
    }
    return true;
  }
  auto ns = deadline.remaining().count();
  if (ns <= 0) return false;
  const long us = std::max<long>(1, static_cast<long>(ns / 1000));
  timeval tv{us / 1'000'000, us % 1'000'000};
  ::setsockopt(fd_, SOL_SOCKET, option, &tv, sizeof tv);
  armed = true;
  return true;
}

Status SocketStream::write_all(std::span<const iovec> iov_in, const Deadline& deadline) {
  std::vector<iovec> iov(iov_in.begin(), iov_in.end());
  size_t first = 0;
  while (first < iov.size()) {
    if (!set_timeout(SO_SNDTIMEO, deadline, send_timeout_armed_)) {
      return Status::make(Code::kTimeout, fmt::format("send to {} timed out", peer_));
    }
    msghdr msg{};
    msg.msg_iov = iov.data() + first;
    msg.msg_iovlen = std::min<size_t>(iov.size() - first, IOV_MAX);
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK) {
        return Status::make(Code::kTimeout, fmt::format("send to {} timed out", peer_));
      }
      return errno_status("send to", err, peer_);
    }
    size_t left = static_cast<size_t>(n);
    while (first < iov.size() && left >= iov[first].iov_len) {
      left -= iov[first].iov_len;
      ++first;
    }
    if (left > 0) {
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + left;
      iov[first].iov_len -= left;
    }
  }
  return Status::success();
}

Status SocketStream::read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline,
                               size_t& got) {
  // Only what is still needed is waited for, but whatever is already there is taken.
  return recv_at_least(buf, min, 0, deadline, got);
}

Status SocketStream::read_exact(std::span<std::byte> buf, const Deadline& deadline) {
  size_t got = 0;
  return recv_at_least(buf, buf.size(), MSG_WAITALL, deadline, got);
}

Status SocketStream::recv_at_least(std::span<std::byte> buf, size_t min, int flags, const Deadline& deadline,
                                   size_t& got) {
  got = 0;
  while (got < min) {
    if (!set_timeout(SO_RCVTIMEO, deadline, recv_timeout_armed_)) {
      return Status::make(Code::kTimeout, fmt::format("receive from {} timed out", peer_));
    }
    const ssize_t n = ::recv(fd_, buf.data() + got, buf.size() - got, flags);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    if (n == 0) {
      return Status::make(Code::kDisconnected, fmt::format("{} closed the connection", peer_));
    }
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN || err == EWOULDBLOCK) {
      return Status::make(Code::kTimeout, fmt::format("receive from {} timed out", peer_));
    }
    return errno_status("receive from", err, peer_);
  }
  return Status::success();
}

}  // namespace gpool::transport::tcp
