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

TEST_F(WorkerTypedArgsTest, EveryFamilyRefusesAWrongCount) {
  const Answer alloc = call(Op::MemAlloc, {256});
  ASSERT_EQ(alloc.status, CUDA_SUCCESS);
  const uint64_t dptr = alloc.results.at(0);
  // Copies: the sync_api flag is part of the layout (a memset without it used to read 0).
  EXPECT_EQ(call(Op::Memset, {dptr, 0, 1, 16}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::Memset, {dptr, 0, 1, 16, 1}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::MemcpyDtoD, {dptr + 128, dptr, 64}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MemcpyDtoD, {dptr + 128, dptr, 64, 1}).status, CUDA_SUCCESS);
  // Streams and events, textures, pools, graphs: one too many or too few.
  EXPECT_EQ(call(Op::CtxSynchronize, {0}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::CtxSynchronize, {}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::ArrayCreate, {16, 0, 0, CU_AD_FORMAT_FLOAT, 1}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MemPoolTrimTo, {1}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::GraphCreate, {}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::SetDevice, {0, 0}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::SetDevice, {0}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::MemFree, {dptr}).status, CUDA_SUCCESS);
}

TEST_F(WorkerTypedArgsTest, CountedArraysMustHoldExactlyTheirCount) {
  const Answer g = call(Op::GraphCreate, {0});
  ASSERT_EQ(g.status, CUDA_SUCCESS);
  const uint64_t graph = g.results.at(0);
  // GraphAddNode: [graph, kind, n, deps[n], then the kind's fields]; kind 2 (empty) has none.
  const Answer first = call(Op::GraphAddNode, {graph, 2, 0});
  ASSERT_EQ(first.status, CUDA_SUCCESS);
  const uint64_t a = first.results.at(0);
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 2, 1}).status, CUDA_ERROR_INVALID_VALUE);        // dep missing
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 2, 1, a, a}).status, CUDA_ERROR_INVALID_VALUE);  // one extra
  // (A frame carries at most 1024 args[], so the rows' default bound of 4096 is the transport's
  // to enforce here; LinkCreate's bound of 64 is tested below.)
  std::vector<uint64_t> huge = {graph, 2, ~0ull, a};  // a count that would wrap the position
  EXPECT_EQ(call(Op::GraphAddNode, huge).status, CUDA_ERROR_INVALID_VALUE);
  const Answer second = call(Op::GraphAddNode, {graph, 2, 0});
  ASSERT_EQ(second.status, CUDA_SUCCESS);
  const uint64_t b = second.results.at(0);
  // GraphEdges: [graph, add, n, from[n], to[n]]: a missing `to` is refused, the whole pair adds the edge.
  EXPECT_EQ(call(Op::GraphEdges, {graph, 1, 1, a}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::GraphList, {graph, 2, 16}).results.at(0), 0u);
  EXPECT_EQ(call(Op::GraphEdges, {graph, 1, 1, a, b}).status, CUDA_SUCCESS);
  const Answer edges = call(Op::GraphList, {graph, 2, 16});
  ASSERT_EQ(edges.status, CUDA_SUCCESS);
  EXPECT_EQ(edges.results, (std::vector<uint64_t>{1, a, b}));
  // A dependency list of one names the first node; the new node depends on it.
  const Answer third = call(Op::GraphAddNode, {graph, 2, 1, a});
  ASSERT_EQ(third.status, CUDA_SUCCESS);
  const Answer deps = call(Op::GraphNodeNeighbours, {third.results.at(0), 0, 8});
  EXPECT_EQ(deps.results, (std::vector<uint64_t>{1, a}));
  EXPECT_EQ(call(Op::GraphDestroy, {graph}).status, CUDA_SUCCESS);
  // LinkCreate: [link, count, (option, value) x count], count at most 64 (jit_wire.h).
  EXPECT_EQ(call(Op::LinkCreate, {7, 1}).status, CUDA_ERROR_INVALID_VALUE);
  std::vector<uint64_t> options = {7, 65};
  options.resize(2 + 130, 0);
  EXPECT_EQ(call(Op::LinkCreate, options).status, CUDA_ERROR_INVALID_VALUE);
}

// Calls 460-463: the session's own arrays only (a handle it was not given, such as its mipmapped
// array passed as an array, is CUDA_ERROR_INVALID_HANDLE); for its ordinary arrays the driver's
// answer is CUDA_ERROR_INVALID_VALUE (no deferred mapping, not sparse).
TEST_F(WorkerTypedArgsTest, ArrayRequirementsAndSparsePropertiesCheckTheSessionsArrays) {
  const Answer a = call(Op::ArrayCreate, {16, 4, 0, CU_AD_FORMAT_FLOAT, 1, 0});
  ASSERT_EQ(a.status, CUDA_SUCCESS);
  const Answer m = call(Op::MipmappedArrayCreate, {16, 4, 0, CU_AD_FORMAT_FLOAT, 1, 0, 2});
  ASSERT_EQ(m.status, CUDA_SUCCESS);
  const uint64_t arr = a.results.at(0), mip = m.results.at(0);
  EXPECT_EQ(call(Op::ArrayGetMemoryRequirements, {arr}).status, CUDA_ERROR_INVALID_VALUE);  // no device
  EXPECT_EQ(call(Op::ArrayGetMemoryRequirements, {arr, 0}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::ArrayGetMemoryRequirements, {mip, 0}).status, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(call(Op::MipmappedArrayGetMemoryRequirements, {mip, 0}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MipmappedArrayGetMemoryRequirements, {arr, 0}).status, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(call(Op::ArrayGetSparseProperties, {arr}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::ArrayGetSparseProperties, {arr + 8}).status, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(call(Op::MipmappedArrayGetSparseProperties, {mip}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MipmappedArrayGetSparseProperties, {arr}).status, CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(call(Op::ArrayDestroy, {arr}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::ArrayGetSparseProperties, {arr}).status, CUDA_ERROR_INVALID_HANDLE);  // gone
  EXPECT_EQ(call(Op::MipmappedArrayDestroy, {mip}).status, CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpool::server
