// A real worker (server/src/worker.h) on the emulator backend, over a loopback TCP connection,
// refuses hook calls whose args[] do not match their calls.toml row (the generated
// decode_args(), docs/protocol.md "Typed hook arguments") with CUDA_ERROR_INVALID_VALUE and
// serves well-formed ones. The worker runs in a forked child: it redirects the process's
// stdout/stderr and starts a heartbeat thread, as in the server.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <vector>

#include "gpool/remote/call_codec.h"
#include "gpool/transport/transport.h"
#include "session_table.h"
#include "worker.h"

namespace gpool::server {
namespace {

using namespace std::chrono_literals;
using remote::Op;
namespace wire = protocol::wire;

struct Answer {
  int32_t status = -1;
  std::vector<uint64_t> results;
};

class WorkerTypedArgsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    transport::Options o;
    std::unique_ptr<transport::Listener> listener;
    ASSERT_TRUE(transport::listen("tcp://127.0.0.1:0", o, listener).ok());
    ASSERT_TRUE(transport::connect(listener->url(), o, client_).ok());
    std::unique_ptr<transport::Connection> server;
    ASSERT_TRUE(listener->accept(server, 5000ms).ok());
    child_ = ::fork();
    ASSERT_GE(child_, 0);
    if (child_ == 0) {
      client_.reset();
      WorkerParams params;
      params.backend_path = GPOOL_TEST_EMULATOR_LIB;
      params.session_id = 1;
      SessionSlot slot;
      ::_exit(run_worker(std::move(server), params, slot));
    }
  }
  void TearDown() override {
    client_.reset();  // the worker sees the client leave and ends
    int status = 0;
    if (child_ > 0) {
      ASSERT_EQ(::waitpid(child_, &status, 0), child_);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "worker status " << status;
    }
  }

  // One sync call; skips device-output notes before the Reply.
  Answer call(Op op, std::vector<uint64_t> args) {
    Answer a;
    ++call_id_;
    remote::build_call(fbb_, call_id_, call_id_, op, false, args, {}, {}, 0);
    EXPECT_TRUE(client_->send(protocol::finished_bytes(fbb_)).ok());
    for (;;) {
      transport::FrameHead head;
      if (!client_->recv_head(head, 10000ms).ok()) {
        ADD_FAILURE() << "no reply";
        return a;
      }
      if (head.envelope->message_as_Call() != nullptr) {
        for (uint32_t i = 0; i < head.segment_count(); ++i) EXPECT_TRUE(client_->skip_segment().ok());
        continue;
      }
      const wire::Reply* r = head.envelope->message_as_Reply();
      if (r == nullptr) {
        ADD_FAILURE() << "not a Reply";
        return a;
      }
      a.status = r->status();
      if (r->results()) a.results.assign(r->results()->begin(), r->results()->end());
      return a;
    }
  }

  std::unique_ptr<transport::Connection> client_;
  pid_t child_ = -1;
  flatbuffers::FlatBufferBuilder fbb_;
  uint64_t call_id_ = 0;
};

TEST_F(WorkerTypedArgsTest, WrongArgumentCountsAreRefusedAndRightOnesServed) {
  EXPECT_EQ(call(Op::MemAlloc, {}).status, CUDA_ERROR_INVALID_VALUE);           // too few
  EXPECT_EQ(call(Op::MemAlloc, {256, 0}).status, CUDA_ERROR_INVALID_VALUE);      // too many
  EXPECT_EQ(call(Op::MemAllocPitch, {64, 4, 4, 0}).status, CUDA_ERROR_INVALID_VALUE);  // one too many
  EXPECT_EQ(call(Op::MemGetInfo, {1}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MemCreate, {4096}).status, CUDA_ERROR_INVALID_VALUE);

  const Answer alloc = call(Op::MemAlloc, {256});
  ASSERT_EQ(alloc.status, CUDA_SUCCESS);
  ASSERT_EQ(alloc.results.size(), 1u);
  EXPECT_NE(alloc.results[0], 0u);
  const Answer info = call(Op::MemGetInfo, {});
  EXPECT_EQ(info.status, CUDA_SUCCESS);
  EXPECT_EQ(info.results.size(), 2u);
  // A free with the address and a stray extra argument frees nothing; the right one frees it once.
  EXPECT_EQ(call(Op::MemFree, {alloc.results[0], 1}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MemFree, {alloc.results[0]}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::MemFree, {alloc.results[0]}).status, CUDA_ERROR_INVALID_VALUE);
}

}  // namespace
}  // namespace gpool::server
