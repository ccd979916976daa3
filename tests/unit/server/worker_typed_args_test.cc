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
  int32_t sticky = 0;  // the first async failure the Reply reports
  std::vector<uint64_t> results;
};

// What a call carries besides args[] (calls.toml `handles`, `inline`, `segments`).
struct Extra {
  std::vector<remote::HandleRef> handles;
  std::vector<std::byte> inline_data;
  std::vector<std::vector<std::byte>> segments;
  bool async = false;
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
  Answer call(Op op, std::vector<uint64_t> args) { return call(op, std::move(args), Extra{}); }
  // A call with handles, inline data and segments; an async one gets no Reply (an empty Answer).
  Answer call(Op op, std::vector<uint64_t> args, const Extra& x) {
    Answer a;
    ++call_id_;
    remote::build_call(fbb_, call_id_, call_id_, op, x.async, args, x.handles, x.inline_data,
                       static_cast<uint32_t>(x.segments.size()));
    std::vector<transport::ConstBytes> segs;
    for (const auto& s : x.segments) segs.emplace_back(s.data(), s.size());
    EXPECT_TRUE(client_->send(protocol::finished_bytes(fbb_), segs).ok());
    if (x.async) return a;
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
      a.sticky = r->sticky_status();
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

// Variant tails (calls.toml `params{kind}` with `variants.params`): each kind has its own fields;
// an unknown kind, a short or long kind, or inline data on a kind that has none is refused, and
// the session goes on.
TEST_F(WorkerTypedArgsTest, VariantTailsRefuseUnknownKindsAndWrongLengths) {
  const Answer g = call(Op::GraphCreate, {0});
  ASSERT_EQ(g.status, CUDA_SUCCESS);
  const uint64_t graph = g.results.at(0);
  const Answer alloc = call(Op::MemAlloc, {4096});
  ASSERT_EQ(alloc.status, CUDA_SUCCESS);
  const uint64_t dptr = alloc.results.at(0);
  // GraphAddNode kinds: 0 kernel, 1 memset (6 fields), 2 empty, 3 child graph (1), 4 copy (3).
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 9, 0}).status, CUDA_ERROR_INVALID_VALUE);          // no such kind
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 1, 0, dptr, 0, 7, 1, 16}).status,
            CUDA_ERROR_INVALID_VALUE);                                                         // memset, short
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 1, 0, dptr, 0, 7, 1, 16, 1, 0}).status,
            CUDA_ERROR_INVALID_VALUE);                                                         // memset, long
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 4, 0, dptr, dptr + 64}).status, CUDA_ERROR_INVALID_VALUE);  // copy, short
  Extra bytes;
  bytes.inline_data.assign(8, std::byte{1});
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 2, 0}, bytes).status, CUDA_ERROR_INVALID_VALUE);   // empty + inline
  Extra oversized;
  oversized.handles.emplace_back(5, remote::HandleKind_Function);
  oversized.inline_data.assign(32765, std::byte{0});  // one byte over the driver's 32764
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 0, 0, 1, 1, 1, 1, 1, 1, 0}, oversized).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::GraphSetKernelParams, {0, 0, 1, 1, 1, 1, 1, 1, 1, 0}, oversized).status,
            CUDA_ERROR_INVALID_VALUE);
  // The well-formed memset, copy and empty kinds are served.
  const Answer memset = call(Op::GraphAddNode, {graph, 1, 0, dptr, 0, 7, 1, 16, 1});
  ASSERT_EQ(memset.status, CUDA_SUCCESS);
  const uint64_t node = memset.results.at(0);
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 4, 1, node, dptr + 64, dptr, 16}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::GraphAddNode, {graph, 2, 0}).status, CUDA_SUCCESS);
  // GraphMemsetParams modes: 0 get (no fields), 1/2 set (6 fields).
  EXPECT_EQ(call(Op::GraphMemsetParams, {3, 0, node}).status, CUDA_ERROR_INVALID_VALUE);       // no such mode
  EXPECT_EQ(call(Op::GraphMemsetParams, {0, 0, node, 1}).status, CUDA_ERROR_INVALID_VALUE);    // get, long
  EXPECT_EQ(call(Op::GraphMemsetParams, {2, 0, node, dptr, 0, 9, 1, 16}).status,
            CUDA_ERROR_INVALID_VALUE);                                                         // set, short
  EXPECT_EQ(call(Op::GraphMemsetParams, {2, 0, node, dptr, 16, 9, 1, 16, 1}).status, CUDA_SUCCESS);
  const Answer got = call(Op::GraphMemsetParams, {0, 0, node});
  ASSERT_EQ(got.status, CUDA_SUCCESS);
  EXPECT_EQ(got.results, (std::vector<uint64_t>{dptr, 16, 9, 1, 16, 1}));
  // GraphAddMemNode kinds: 0 allocation [device, bytes, k, k pairs], 1 free [dptr].
  EXPECT_EQ(call(Op::GraphAddMemNode, {graph, 2, 0, 0}).status, CUDA_ERROR_INVALID_VALUE);     // no such kind
  EXPECT_EQ(call(Op::GraphAddMemNode, {graph, 0, 0, 0, 1 << 20, 1, 0}).status,
            CUDA_ERROR_INVALID_VALUE);                                                         // half a pair
  EXPECT_EQ(call(Op::GraphAddMemNode, {graph, 0, 0, 0, 1 << 20, 0, 0}).status,
            CUDA_ERROR_INVALID_VALUE);                                                         // a word after k pairs
  EXPECT_EQ(call(Op::GraphAddMemNode, {graph, 1, 0}).status, CUDA_ERROR_INVALID_VALUE);        // free, short
  EXPECT_EQ(call(Op::GraphAddMemNode, {graph, 1, 0, dptr, 0}).status, CUDA_ERROR_INVALID_VALUE);  // free, long
  const Answer mem = call(Op::GraphAddMemNode, {graph, 0, 0, 0, 1 << 20, 1, 0, CU_MEM_ACCESS_FLAGS_PROT_READWRITE});
  ASSERT_EQ(mem.status, CUDA_SUCCESS);
  ASSERT_EQ(mem.results.size(), 2u);
  EXPECT_EQ(call(Op::GraphAddMemNode, {graph, 1, 1, mem.results[0], mem.results[1]}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::GraphDestroy, {graph}).status, CUDA_SUCCESS);
  EXPECT_EQ(call(Op::MemFree, {dptr}).status, CUDA_SUCCESS);
}

// Tuple tails (`access[*2]`) and optional counted options (`jit_count?`, `jit[jit_count*2]`).
TEST_F(WorkerTypedArgsTest, PairsAndOptionalOptionsMustBeWhole) {
  // (device, flags) pairs: half a pair is refused before any table is asked.
  EXPECT_EQ(call(Op::MemSetAccess, {0x1000, 4096, 0}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MemPoolSetAccess, {1, 0}).status, CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(call(Op::MemPoolSetAccess, {1, 0, CU_MEM_ACCESS_FLAGS_PROT_READWRITE, 0}).status,
            CUDA_ERROR_INVALID_VALUE);
  // ModuleLoad: [hash_lo, hash_hi, bytes], then optionally [count, (option, value) x count].
  Extra module;
  module.handles.emplace_back(77, remote::HandleKind_Module);
  EXPECT_EQ(call(Op::ModuleLoad, {1, 2, 16, 2, 0, 0}, module).status, CUDA_ERROR_INVALID_VALUE);  // 1 of 2 pairs
  std::vector<uint64_t> many = {1, 2, 16, 65};
  many.resize(4 + 130, 0);
  EXPECT_EQ(call(Op::ModuleLoad, many, module).status, CUDA_ERROR_INVALID_VALUE);                 // over 64
  // Its optional segment (the image) must be `bytes` long, and there is at most one.
  Extra short_image = module;
  short_image.segments.emplace_back(15, std::byte{'x'});
  EXPECT_EQ(call(Op::ModuleLoad, {1, 2, 16}, short_image).status, CUDA_ERROR_INVALID_VALUE);
  Extra two_images = module;
  two_images.segments.assign(2, std::vector<std::byte>(16, std::byte{'x'}));
  EXPECT_EQ(call(Op::ModuleLoad, {1, 2, 16}, two_images).status, CUDA_ERROR_INVALID_VALUE);
  Extra with_inline = module;
  with_inline.inline_data.assign(4, std::byte{0});
  EXPECT_EQ(call(Op::ModuleLoad, {1, 2, 16}, with_inline).status, CUDA_ERROR_INVALID_VALUE);
  // Without the segment the call is well formed: the server asks for the image it lacks.
  const Answer need = call(Op::ModuleLoad, {1, 2, 16}, module);
  EXPECT_EQ(need.status, CUDA_SUCCESS);
  EXPECT_EQ(need.results, (std::vector<uint64_t>{1}));
  EXPECT_EQ(call(Op::MemAlloc, {256}).status, CUDA_SUCCESS);
}

// Inline data and segments (`inline`, `segments`): present only where the row declares them,
// within their bounds, of the declared size; an async call's refusal is its sticky error.
TEST_F(WorkerTypedArgsTest, InlineDataAndSegmentsHaveTheirDeclaredSizes) {
  Extra stray_inline;
  stray_inline.inline_data.assign(8, std::byte{0});
  EXPECT_EQ(call(Op::MemAlloc, {256}, stray_inline).status, CUDA_ERROR_INVALID_VALUE);
  Extra stray_segment;
  stray_segment.segments.emplace_back(8, std::byte{0});
  EXPECT_EQ(call(Op::MemAlloc, {256}, stray_segment).status, CUDA_ERROR_INVALID_VALUE);
  const Answer alloc = call(Op::MemAlloc, {256});
  ASSERT_EQ(alloc.status, CUDA_SUCCESS);
  const uint64_t dptr = alloc.results.at(0);
  // MemcpyHtoD: one segment of exactly `bytes`.
  Extra h2d;
  h2d.async = true;
  h2d.handles.emplace_back(0, remote::HandleKind_Stream);
  h2d.segments.emplace_back(32, std::byte{7});
  call(Op::MemcpyHtoD, {dptr, 64, 1}, h2d);
  EXPECT_EQ(call(Op::CtxSynchronize, {}).sticky, CUDA_ERROR_INVALID_VALUE);
  h2d.segments[0].assign(64, std::byte{7});
  call(Op::MemcpyHtoD, {dptr, 64, 1}, h2d);
  const Answer synced = call(Op::CtxSynchronize, {});
  EXPECT_EQ(synced.status, CUDA_SUCCESS);
  EXPECT_EQ(synced.sticky, 0);
  // LaunchKernel: the parameter buffer is at most 32764 bytes and the call has no segment.
  Extra launch;
  launch.async = true;
  launch.handles.emplace_back(5, remote::HandleKind_Function);
  launch.handles.emplace_back(0, remote::HandleKind_Stream);
  launch.inline_data.assign(32765, std::byte{0});
  call(Op::LaunchKernel, {1, 1, 1, 1, 1, 1, 0, 0}, launch);
  EXPECT_EQ(call(Op::CtxSynchronize, {}).sticky, CUDA_ERROR_INVALID_VALUE);
  launch.inline_data.assign(8, std::byte{0});
  launch.segments.emplace_back(8, std::byte{0});
  call(Op::LaunchKernel, {1, 1, 1, 1, 1, 1, 0, 0}, launch);
  EXPECT_EQ(call(Op::CtxSynchronize, {}).sticky, CUDA_ERROR_INVALID_VALUE);
  // A well-formed launch of a function the session does not have: the handler's answer.
  launch.segments.clear();
  call(Op::LaunchKernel, {1, 1, 1, 1, 1, 1, 0, 0}, launch);
  EXPECT_EQ(call(Op::CtxSynchronize, {}).sticky, CUDA_ERROR_INVALID_HANDLE);
  // OccupancyCluster: whole CUlaunchAttribute records, at most 32.
  Extra occ;
  occ.handles.emplace_back(5, remote::HandleKind_Function);
  occ.handles.emplace_back(0, remote::HandleKind_Stream);
  occ.inline_data.assign(sizeof(CUlaunchAttribute) - 1, std::byte{0});
  EXPECT_EQ(call(Op::OccupancyCluster, {0, 1, 1, 1, 32, 1, 1, 0}, occ).status, CUDA_ERROR_INVALID_VALUE);
  occ.inline_data.assign(33 * sizeof(CUlaunchAttribute), std::byte{0});
  EXPECT_EQ(call(Op::OccupancyCluster, {0, 1, 1, 1, 32, 1, 1, 0}, occ).status, CUDA_ERROR_INVALID_VALUE);
  occ.inline_data.assign(sizeof(CUlaunchAttribute), std::byte{0});  // whole: the handle is checked next
  EXPECT_EQ(call(Op::OccupancyCluster, {0, 1, 1, 1, 32, 1, 1, 0}, occ).status, CUDA_ERROR_INVALID_HANDLE);
  // LinkAddData: exactly one non-empty segment.
  EXPECT_EQ(call(Op::LinkAddData, {3, CU_JIT_INPUT_PTX}).status, CUDA_ERROR_INVALID_VALUE);
  Extra two_inputs;
  two_inputs.segments.assign(2, std::vector<std::byte>(8, std::byte{'x'}));
  EXPECT_EQ(call(Op::LinkAddData, {3, CU_JIT_INPUT_PTX}, two_inputs).status, CUDA_ERROR_INVALID_VALUE);
  Extra one_input;
  one_input.segments.emplace_back(8, std::byte{'x'});
  EXPECT_EQ(call(Op::LinkAddData, {3, CU_JIT_INPUT_PTX}, one_input).status, CUDA_ERROR_INVALID_HANDLE);  // no link 3
  // The session is still whole.
  EXPECT_EQ(call(Op::MemFree, {dptr}).status, CUDA_SUCCESS);
}

}  // namespace
}  // namespace gpool::server
