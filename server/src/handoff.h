// Handing an authenticated session to a pre-started worker process: one message on a unix
// SOCK_SEQPACKET socket carrying the client connection's socket (SCM_RIGHTS) and the session's
// parameters. Used by the worker pool (worker_pool.h); kept apart so it can be tested alone.
//
// The message is a fixed-size record (magic, version, ids, allowed devices, tenant name, peer)
// plus exactly one file descriptor. The receiver rejects anything else (wrong size, magic or
// version, no fd, more than one fd: extra fds are closed), so a confused peer can never make a
// worker serve the wrong thing.
//
// Ownership: send_handoff() does not take `fd` (the caller closes its copy after success);
// recv_handoff() gives the caller the received fd (close-on-exec) on success only.
// Thread safety: plain functions on descriptors the caller owns.
// Errors: 0 on success, otherwise a negative errno: -ENAMETOOLONG (a name that does not fit),
// -EBADMSG (malformed message), -ECONNRESET (the other end closed), or sendmsg/recvmsg's.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gpool::server {

struct Handoff {
  uint64_t session_id = 0;
  int32_t tenant_index = -1;  // TenantTable slot, -1 = none
  int32_t slot = -1;          // SessionTable slot
  std::string tenant;         // at most kHandoffNameMax bytes
  std::string peer;           // at most kHandoffPeerMax bytes (longer is cut: only for logs)
  std::vector<int> devices;   // allowed physical devices; empty = all (at most 16)
};

inline constexpr size_t kHandoffNameMax = 63;
inline constexpr size_t kHandoffPeerMax = 127;

int send_handoff(int sock, int fd, const Handoff& h);
// Blocks until a message or the end of the stream arrives.
int recv_handoff(int sock, int& fd_out, Handoff& out);

}  // namespace gpool::server
