#include "uring_stream.h"

#include <sys/socket.h>
#include <unistd.h>

namespace gpool::transport::tcp {

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
  return send_ring_.send_all(fd_, iov, deadline, peer_);
}

Status UringStream::read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline,
                              size_t& got) {
  return recv_ring_.recv_some(fd_, buf, min, deadline, peer_, got);
}

Status UringStream::read_exact(std::span<std::byte> buf, const Deadline& deadline) {
  const iovec v{buf.data(), buf.size()};
  return recv_ring_.recv_exact(fd_, std::span(&v, 1), deadline, peer_);
}

Status UringStream::connect(const sockaddr* addr, socklen_t len, const Deadline& deadline) {
  return send_ring_.connect(fd_, addr, len, deadline, peer_);
}

}  // namespace gpool::transport::tcp
