#include "handoff.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace gpool::server {
namespace {

constexpr uint32_t kMagic = 0x48504731;  // "1GPH"
constexpr uint32_t kVersion = 1;
constexpr size_t kMaxDevicesInMessage = 16;

struct Record {
  uint32_t magic;
  uint32_t version;
  uint64_t session_id;
  int32_t tenant_index;
  int32_t slot;
  uint32_t device_count;
  int32_t devices[kMaxDevicesInMessage];
  char tenant[kHandoffNameMax + 1];
  char peer[kHandoffPeerMax + 1];
};

}  // namespace

int send_handoff(int sock, int fd, const Handoff& h) {
  if (h.tenant.size() > kHandoffNameMax || h.devices.size() > kMaxDevicesInMessage) return -ENAMETOOLONG;
  if (fd < 0) return -EBADF;
  Record r;
  std::memset(&r, 0, sizeof r);
  r.magic = kMagic;
  r.version = kVersion;
  r.session_id = h.session_id;
  r.tenant_index = h.tenant_index;
  r.slot = h.slot;
  r.device_count = static_cast<uint32_t>(h.devices.size());
  for (size_t i = 0; i < h.devices.size(); ++i) r.devices[i] = h.devices[i];
  std::memcpy(r.tenant, h.tenant.data(), h.tenant.size());
  std::memcpy(r.peer, h.peer.data(), std::min(h.peer.size(), kHandoffPeerMax));

  iovec iov{&r, sizeof r};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -errno;
    return n == static_cast<ssize_t>(sizeof r) ? 0 : -EBADMSG;
  }
}

int recv_handoff(int sock, int& fd_out, Handoff& out) {
  Record r;
  std::memset(&r, 0, sizeof r);
  iovec iov{&r, sizeof r};
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  if (n == 0) return -ECONNRESET;
  // Collect every descriptor that came along, whatever the verdict, so none leaks.
  std::vector<int> fds;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      fds.push_back(fd);
    }
  }
  const bool good = n == static_cast<ssize_t>(sizeof r) && (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) == 0 &&
                    fds.size() == 1 && r.magic == kMagic && r.version == kVersion &&
                    r.device_count <= kMaxDevicesInMessage;
  if (!good) {
    for (int fd : fds) ::close(fd);
    return -EBADMSG;
  }
  r.tenant[kHandoffNameMax] = '\0';
  r.peer[kHandoffPeerMax] = '\0';
  out.session_id = r.session_id;
  out.tenant_index = r.tenant_index;
  out.slot = r.slot;
  out.tenant = r.tenant;
  out.peer = r.peer;
  out.devices.assign(r.devices, r.devices + r.device_count);
  fd_out = fds[0];
  return 0;
}

}  // namespace gpool::server
