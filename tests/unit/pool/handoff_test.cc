// Session hand-off (handoff.h) with a real TCP connection: the accepted socket travels over a
// unix socketpair with SCM_RIGHTS, is adopted as a transport Connection (transport::adopt) and
// carries frames both ways; malformed messages are refused without leaking descriptors.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>

#include "gpool/protocol/message.h"
#include "gpool/transport/transport.h"
#include "handoff.h"

namespace gpool::server {
namespace {

using namespace std::chrono_literals;

std::vector<std::byte> ping(uint64_t nonce) {
  flatbuffers::FlatBufferBuilder fbb;
  protocol::finish_envelope(fbb, protocol::wire::CreatePing(fbb, nonce));
  auto b = protocol::finished_bytes(fbb);
  return {b.begin(), b.end()};
}

struct TcpPair {
  std::unique_ptr<transport::Listener> listener;
  std::unique_ptr<transport::Connection> client, server;
};

void make_pair(TcpPair& p) {
  transport::Options o;
  ASSERT_TRUE(transport::listen("tcp://127.0.0.1:0", o, p.listener).ok());
  ASSERT_TRUE(transport::connect(p.listener->url(), o, p.client).ok());
  ASSERT_TRUE(p.listener->accept(p.server, 5000ms).ok());
}

struct SeqPair {
  int fd[2] = {-1, -1};
  SeqPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fd), 0); }
  ~SeqPair() {
    for (int f : fd) if (f >= 0) ::close(f);
  }
};

int open_fds() {
  int n = 0;
  for (int fd = 0; fd < 1024; ++fd) n += ::fcntl(fd, F_GETFD) >= 0 ? 1 : 0;
  return n;
}

TEST(Handoff, CarriesTheSocketAndTheSessionParameters) {
  TcpPair p;
  make_pair(p);
  SeqPair sp;
  Handoff h;
  h.session_id = 42;
  h.tenant_index = 3;
  h.slot = 7;
  h.tenant = "alice";
  h.peer = p.server->peer();
  h.devices = {0, 2};
  const int fd = p.server->handoff_fd();
  ASSERT_GE(fd, 0);
  ASSERT_EQ(send_handoff(sp.fd[0], fd, h), 0);
  p.server.reset();  // the supervisor's copy closes; the passed one keeps the connection

  Handoff got;
  int received = -1;
  ASSERT_EQ(recv_handoff(sp.fd[1], received, got), 0);
  EXPECT_EQ(got.session_id, 42u);
  EXPECT_EQ(got.tenant_index, 3);
  EXPECT_EQ(got.slot, 7);
  EXPECT_EQ(got.tenant, "alice");
  EXPECT_EQ(got.peer, h.peer);
  EXPECT_EQ(got.devices, (std::vector<int>{0, 2}));
  EXPECT_NE(::fcntl(received, F_GETFD) & FD_CLOEXEC, 0);

  std::unique_ptr<transport::Connection> adopted;
  ASSERT_TRUE(transport::adopt("tcp", received, transport::Options{}, adopted).ok());
  const auto frame = ping(99);
  ASSERT_TRUE(p.client->send(frame, {}, 5000ms).ok());
  transport::FrameHead head;
  ASSERT_TRUE(adopted->recv_head(head, 5000ms).ok());
  ASSERT_NE(head.envelope->message_as_Ping(), nullptr);
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 99u);
  ASSERT_TRUE(adopted->send(ping(7), {}, 5000ms).ok());
  ASSERT_TRUE(p.client->recv_head(head, 5000ms).ok());
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 7u);
}

TEST(Handoff, RefusesAMessageWithoutADescriptor) {
  SeqPair sp;
  const int before = open_fds();
  char junk[64] = {};
  ASSERT_EQ(::send(sp.fd[0], junk, sizeof junk, 0), static_cast<ssize_t>(sizeof junk));
  Handoff got;
  int fd = -1;
  EXPECT_EQ(recv_handoff(sp.fd[1], fd, got), -EBADMSG);
  EXPECT_EQ(fd, -1);
  EXPECT_EQ(open_fds(), before);
}

TEST(Handoff, RefusesGarbageThatCarriesADescriptorAndClosesIt) {
  SeqPair sp;
  const int before = open_fds();
  int passed = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(passed, 0);
  char junk[16] = {1, 2, 3};
  iovec iov{junk, sizeof junk};
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
  std::memcpy(CMSG_DATA(c), &passed, sizeof passed);
  ASSERT_GT(::sendmsg(sp.fd[0], &msg, 0), 0);
  ::close(passed);
  Handoff got;
  int fd = -1;
  EXPECT_EQ(recv_handoff(sp.fd[1], fd, got), -EBADMSG);
  EXPECT_EQ(open_fds(), before);  // the received copy was closed
}

TEST(Handoff, ReportsAClosedSupervisorAndOverlongNames) {
  SeqPair sp;
  Handoff h;
  h.tenant = std::string(kHandoffNameMax + 1, 'x');
  EXPECT_EQ(send_handoff(sp.fd[0], 0, h), -ENAMETOOLONG);
  ::close(sp.fd[0]);
  sp.fd[0] = -1;
  Handoff got;
  int fd = -1;
  EXPECT_EQ(recv_handoff(sp.fd[1], fd, got), -ECONNRESET);
}

TEST(Handoff, AConnectionWithBufferedBytesCannotBeHandedOff) {
  TcpPair p;
  make_pair(p);
  EXPECT_GE(p.server->handoff_fd(), 0);
  // Two frames in one write: the receiver's read-ahead takes both, consuming only the first.
  ASSERT_TRUE(p.client->queue(ping(1)).ok());
  ASSERT_TRUE(p.client->send(ping(2), {}, 5000ms).ok());
  transport::FrameHead head;
  ASSERT_TRUE(p.server->recv_head(head, 5000ms).ok());
  EXPECT_EQ(p.server->handoff_fd(), -1);
  ASSERT_TRUE(p.server->recv_head(head, 5000ms).ok());
  EXPECT_GE(p.server->handoff_fd(), 0);
}

TEST(Handoff, AdoptRefusesOtherSchemes) {
  int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  std::unique_ptr<transport::Connection> c;
  EXPECT_EQ(transport::adopt("bogus", fd, transport::Options{}, c).code, transport::Code::kInvalidArgument);
  EXPECT_EQ(c, nullptr);
  EXPECT_LT(::fcntl(fd, F_GETFD), 0);  // closed as documented
}

}  // namespace
}  // namespace gpool::server
