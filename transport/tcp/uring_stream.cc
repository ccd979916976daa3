#include "uring_stream.h"

#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <vector>

#include "gpool/common/env.h"
#include "socket_util.h"

namespace gpool::transport::tcp {
namespace {

// Sends up to this size without a deadline go out with one sendmsg(2) on the blocking socket,
// and receives without a deadline block in recv(2): for the small control frames of sync calls
// a plain system call wakes the waiting thread sooner than an io_uring submit-and-wait does.
// Bulk transfers and everything with a deadline use the ring. GPOOL_TCP_SMALL_SYSCALLS=0 sends
// everything through the ring (for comparisons).
constexpr size_t kSmallSend = 64 * 1024;

bool small_syscalls() {
  static const bool on = env::get_bool("GPOOL_TCP_SMALL_SYSCALLS", true);
  return on;
}

}  // namespace

std::unique_ptr<UringStream> UringStream::create(int fd, std::string peer, const Options& options,
                                                 int& neg_errno) {
  std::unique_ptr<UringStream> s(new UringStream(fd, std::move(peer)));
  neg_errno = s->send_ring_.init(options.queue_depth, options.chunk_bytes);
  if (neg_errno == 0) neg_errno = s->recv_ring_.init(options.queue_depth, options.chunk_bytes);
  if (neg_errno != 0) {
    // The caller keeps the fd: detach it before the destructor would close it.
    s->fd_ = -1;
    return nullptr;
  }
  return s;
}

UringStream::~UringStream() {
  if (fd_ >= 0) ::close(fd_);
}

void UringStream::shutdown() { ::shutdown(fd_, SHUT_RDWR); }

Status UringStream::write_all(std::span<const iovec> iov, const Deadline& deadline) {
  size_t total = 0;
  for (const iovec& v : iov) total += v.iov_len;
  if (total > kSmallSend || !deadline.infinite() || iov.size() > IOV_MAX || !small_syscalls()) {
    return send_ring_.send_all(fd_, iov, deadline, peer_);
  }
  iovec local[IOV_MAX];
  std::copy(iov.begin(), iov.end(), local);
  size_t first = 0;
  const size_t count = iov.size();
  while (first < count) {
    msghdr msg{};
    msg.msg_iov = local + first;
    msg.msg_iovlen = count - first;
    const ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      const int err = errno;
      if (err == EINTR) continue;
      return errno_status("send to", err, peer_);
    }
    size_t left = static_cast<size_t>(n);
    while (first < count && left >= local[first].iov_len) {
      left -= local[first].iov_len;
      ++first;
    }
    if (left > 0) {
      local[first].iov_base = static_cast<char*>(local[first].iov_base) + left;
      local[first].iov_len -= left;
    }
  }
  return Status::success();
}

Status UringStream::read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline,
                              size_t& got) {
  if (!deadline.infinite() || !small_syscalls()) {
    return recv_ring_.recv_some(fd_, buf, min, deadline, peer_, got);
  }
  got = 0;
  while (got < min) {
    const ssize_t n = ::recv(fd_, buf.data() + got, buf.size() - got, 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
    } else if (n == 0) {
      return Status::make(Code::kDisconnected, fmt::format("{} closed the connection", peer_));
    } else if (errno != EINTR) {
      return errno_status("receive from", errno, peer_);
    }
  }
  return Status::success();
}

Status UringStream::read_exact(std::span<std::byte> buf, const Deadline& deadline) {
  const iovec v{buf.data(), buf.size()};
  return recv_ring_.recv_exact(fd_, std::span(&v, 1), deadline, peer_);
}

Status UringStream::connect(const sockaddr* addr, socklen_t len, const Deadline& deadline) {
  return send_ring_.connect(fd_, addr, len, deadline, peer_);
}

}  // namespace gpool::transport::tcp
