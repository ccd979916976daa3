// SocketStream: the blocking-socket ByteStream, used when io_uring is unavailable (internal).
//
// The socket stays in blocking mode so that a small read or write is one system call; timeouts
// use SO_RCVTIMEO / SO_SNDTIMEO, set only when a deadline is given (and cleared after).
// shutdown() calls shutdown(2), which wakes a blocked recv/send on either thread.
//
// Ownership: owns `fd` and closes it on destruction.
// Thread safety: ByteStream's contract (one writer, one reader, shutdown from anywhere).
#pragma once

#include <string>

#include "../src/byte_stream.h"

namespace gpool::transport::tcp {

class SocketStream final : public ByteStream {
 public:
  SocketStream(int fd, std::string peer);
  ~SocketStream() override;

  Status write_all(std::span<const iovec> iov, const Deadline& deadline) override;
  Status read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline,
                   size_t& got) override;
  Status read_exact(std::span<std::byte> buf, const Deadline& deadline) override;
  void shutdown() override;
  const char* name() const override { return "tcp/socket"; }
  int fd() const override { return fd_; }

 private:
  bool set_timeout(int option, const Deadline& deadline, bool& armed);
  // Receives into `buf` until at least `min` bytes arrived (recv flags `flags`);
  // `got` is the count received. Shared by read_some (flags 0) and read_exact
  // (MSG_WAITALL, min = buf.size()).
  Status recv_at_least(std::span<std::byte> buf, size_t min, int flags, const Deadline& deadline, size_t& got);

  const int fd_;
  const std::string peer_;
  bool send_timeout_armed_ = false;  // sender thread only
  bool recv_timeout_armed_ = false;  // receiver thread only
};

}  // namespace gpool::transport::tcp
