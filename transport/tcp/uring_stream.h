// UringStream: the io_uring ByteStream of tcp:// (internal). See uring_ring.h for the ring
// layout (one ring per direction) and how transfers are chunked and pipelined. Small sends
// (<= 64 KiB) and receives without a deadline use plain sendmsg(2)/recv(2) on the blocking
// socket instead, which wake a waiting peer sooner (sync-call latency); bulk transfers and
// anything with a deadline go through the rings. GPOOL_TCP_SMALL_SYSCALLS=0 turns that off.
//
// Ownership: owns `fd` (closed on destruction) and its two rings.
// Thread safety: ByteStream's contract (one writer, one reader, shutdown from anywhere).
#pragma once

#include <memory>
#include <string>

#include "../src/byte_stream.h"
#include "gpool/transport/options.h"
#include "uring_ring.h"

namespace gpool::transport::tcp {

class UringStream final : public ByteStream {
 public:
  // Creates the two rings. On failure returns nullptr and sets `neg_errno`; `fd` is then
  // still owned by the caller.
  static std::unique_ptr<UringStream> create(int fd, std::string peer, const Options& options,
                                             int& neg_errno);
  ~UringStream() override;

  Status write_all(std::span<const iovec> iov, const Deadline& deadline) override;
  Status read_some(std::span<std::byte> buf, size_t min, const Deadline& deadline,
                   size_t& got) override;
  Status read_exact(std::span<std::byte> buf, const Deadline& deadline) override;
  void shutdown() override;
  const char* name() const override { return "tcp/io_uring"; }
  int fd() const override { return fd_; }

  // Connects `fd` through the send ring (used once, before any transfer).
  Status connect(const sockaddr* addr, socklen_t len, const Deadline& deadline);

 private:
  UringStream(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}

  int fd_;  // -1 after a failed create(): not ours to close
  std::string peer_;
  UringRing send_ring_;  // sender thread only
  UringRing recv_ring_;  // receiver thread only
};

}  // namespace gpool::transport::tcp
