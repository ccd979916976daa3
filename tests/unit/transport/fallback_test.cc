// The io_uring fallback: in a child process where a seccomp filter makes io_uring_setup fail
// with EPERM (as container runtimes do), tcp:// must fall back to blocking sockets under
// TcpBackend::kAuto, and refuse with kUnavailable under TcpBackend::kUring.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>

#include "test_util.h"

namespace gpool::transport::test {
namespace {

bool block_io_uring() {
  sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  sock_fprog prog{static_cast<unsigned short>(sizeof filter / sizeof filter[0]), filter};
  return ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0 &&
         ::prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) == 0;
}

// Runs in the death-test child; exits 0 when every expectation holds, else a distinct code.
[[noreturn]] void child() {
  if (!block_io_uring()) std::_Exit(10);
  Options o = test_options();
  std::unique_ptr<Listener> l;
  if (!listen("tcp://127.0.0.1:0", o, l).ok()) std::_Exit(11);
  std::unique_ptr<Connection> c;
  if (!connect(l->url(), o, c).ok()) std::_Exit(12);
  if (std::string(c->backend()) != "tcp/socket") std::_Exit(13);
  std::unique_ptr<Connection> s;
  if (!l->accept(s).ok() || !c->send(ping(1)).ok()) std::_Exit(14);
  FrameHead head;
  if (!s->recv_head(head).ok() || head.envelope->message_as_Ping()->nonce() != 1) std::_Exit(15);
  o.tcp_backend = TcpBackend::kUring;
  std::unique_ptr<Connection> c2;
  Status st = connect(l->url(), o, c2);
  if (st.code != Code::kUnavailable || st.text.find("io_uring") == std::string::npos) std::_Exit(16);
  std::_Exit(0);
}

TEST(TcpFallback, BlockedIoUringFallsBackToSockets) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");  // a fresh process: io_uring not yet probed
  EXPECT_EXIT(child(), ::testing::ExitedWithCode(0), "io_uring is unavailable");
}

}  // namespace
}  // namespace gpool::transport::test
