// An in-process gpool server for the shim's unit tests: the real transport (tcp:// on loopback)
// and the real protocol (handshake, Call/Reply envelopes, call codec), with a scripted call
// table instead of a driver. It records every call it receives, in order, so tests can check
// what reached which server.
//
//   Attach        the configured devices ("<tag>-dev<i>", (i+1) GiB, uuid {tag id, i, ...})
//   MemAlloc      addresses from 0x10000000 up (the same on every FakeServer: two servers may
//                 hand out the same address, as real ones can)
//   other sync    CUDA_SUCCESS, no results
//   async         recorded; fail_async() makes the next one of an opcode fail, reported as the
//                 sticky status of the next Reply, as gpool-server does
// A Hello with a token other than the configured one (when set) is refused (BadCredential).
//
// Thread safety: the public methods may be called from any thread; each connection is served
// on its own thread, joined by the destructor.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "gpool/remote/call_codec.h"
#include "gpool/transport/transport.h"

namespace gpool::shim::test {

class FakeServer {
 public:
  struct Call {
    remote::Op op;
    bool async;
    std::vector<uint64_t> args;
    std::vector<uint64_t> handles;
  };

  FakeServer(std::string tag, int devices, std::string token = "");
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  const std::string& url() const { return url_; }
  std::vector<Call> calls() const;
  size_t count(remote::Op op) const;
  // The next async call with opcode `op` fails with `status`.
  void fail_async(remote::Op op, int32_t status);

 private:
  void accept_loop();
  void serve(transport::Connection* conn);
  void reply(transport::Connection& conn, const protocol::wire::Call& call);

  const std::string tag_;
  const int devices_;
  const std::string token_;
  std::unique_ptr<transport::Listener> listener_;
  std::string url_;
  std::thread acceptor_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<transport::Connection>> conns_;  // GUARDED_BY(mu_)
  std::vector<std::thread> servers_;                           // GUARDED_BY(mu_)
  std::vector<Call> calls_;                                    // GUARDED_BY(mu_)
  remote::Op fail_op_ = remote::Op::Invalid;                   // GUARDED_BY(mu_)
  int32_t fail_status_ = 0;                                    // GUARDED_BY(mu_)
  int32_t sticky_ = 0;                                         // GUARDED_BY(mu_)
  uint64_t sticky_seq_ = 0, completed_seq_ = 0;                // GUARDED_BY(mu_)
  uint64_t next_alloc_ = 0x10000000;                           // GUARDED_BY(mu_)
};

}  // namespace gpool::shim::test
