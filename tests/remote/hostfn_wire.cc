// gpool-remote-hostfn-wire: the server's and the shim's checks of host functions
// (calls.toml 365-371), with the shim's entry points out of the way where they would not let a
// bad value through. Links the shim's objects and talks to GPOOL_SERVER through its Session:
//   - a HostFnDone for a firing the server does not hold (forged) is refused: the next sync call
//     reports CUDA_ERROR_INVALID_VALUE, and the session keeps working;
//   - LaunchHostFunc with id 0, or with an id still registered, is refused the same way;
//   - a host function that calls CUDA gets CUDA_ERROR_NOT_PERMITTED (nothing is sent), and the
//     stream goes on once it returns;
//   - a stream callback gets CUDA_SUCCESS and runs after the host function before it;
//   - a part of a host copy node's bytes for a firing never made is refused like a forged
//     HostFnDone, and new host copy parameters for a forged node id are refused;
//   - a host copy node in a conditional body (directly or in a child graph) is refused.
// Run by run_remote.py (remote.hostfn.wire); prints ok/FAIL lines and PASS.
#include <cuda.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "pool.h"
#include "session.h"

using namespace gpool::shim;

namespace {

int g_failures = 0;

const char* name(CUresult r) {
  const char* s = nullptr;
  return cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "?";
}

void expect(CUresult got, CUresult want, const char* what) {
  if (got != want) {
    std::printf("FAIL: %s -> %s, expected %s\n", what, name(got), name(want));
    ++g_failures;
  } else {
    std::printf("ok: %s -> %s\n", what, name(got));
  }
}

CUresult ctx_sync(Session& s) { return s.sync(Op::CtxSynchronize, {}); }

struct Probe {
  std::atomic<int> order{0};
  CUresult from_inside = CUDA_SUCCESS;     // what a CUDA call made inside the function got
  CUresult callback_status = CUDA_ERROR_UNKNOWN;
  int fn_at = -1, cb_at = -1;
};

void CUDA_CB calls_cuda(void* p) {
  auto* probe = static_cast<Probe*>(p);
  probe->fn_at = probe->order.fetch_add(1);
  CUdeviceptr d = 0;
  probe->from_inside = gpool_impl_cuMemAlloc_v2(&d, 4096);
}

void CUDA_CB callback(CUstream, CUresult status, void* p) {
  auto* probe = static_cast<Probe*>(p);
  probe->cb_at = probe->order.fetch_add(1);
  probe->callback_status = status;
}

}  // namespace

int main() {
  if (std::getenv("GPOOL_SERVER") == nullptr) {
    std::printf("FAIL: GPOOL_SERVER is not set\n");
    return 1;
  }
  if (CUresult st = gpool_impl_cuInit(0); st != CUDA_SUCCESS) {
    std::printf("FAIL: cuInit -> %s\n", name(st));
    return 1;
  }
  CUcontext ctx = nullptr;
  if (CUresult st = gpool_impl_cuDevicePrimaryCtxRetain(&ctx, 0); st != CUDA_SUCCESS ||
      gpool_impl_cuCtxSetCurrent(ctx) != CUDA_SUCCESS) {
    std::printf("FAIL: no context\n");
    return 1;
  }
  Session& s = Pool::global().session(0);

  // A host function that calls CUDA, then a stream callback after it.
  Probe probe;
  expect(gpool_impl_cuLaunchHostFunc(nullptr, calls_cuda, &probe), CUDA_SUCCESS, "cuLaunchHostFunc");
  expect(gpool_impl_cuStreamAddCallback(nullptr, callback, &probe, 0), CUDA_SUCCESS, "cuStreamAddCallback");
  expect(gpool_impl_cuStreamSynchronize(nullptr), CUDA_SUCCESS, "synchronize after them");
  expect(probe.from_inside, CUDA_ERROR_NOT_PERMITTED, "cuMemAlloc inside a host function");
  expect(probe.callback_status, CUDA_SUCCESS, "the callback's status");
  if (probe.fn_at != 0 || probe.cb_at != 1) {
    std::printf("FAIL: host function and callback ran at %d, %d; expected 0, 1\n", probe.fn_at, probe.cb_at);
    ++g_failures;
  }

  // A forged firing: refused, reported by the next sync call, and only once.
  expect(ctx_sync(s), CUDA_SUCCESS, "synchronize before the forged HostFnDone");
  expect(s.host_fn_done(987654321), CUDA_SUCCESS, "send a HostFnDone for a firing never made");
  expect(ctx_sync(s), CUDA_ERROR_INVALID_VALUE, "the next sync call reports the forged firing");
  expect(ctx_sync(s), CUDA_SUCCESS, "the session works afterwards");
  // A part of a host copy node's bytes (HostCopyPartToServer) for a firing never made: the same.
  const std::byte part[16] = {};
  expect(s.host_copy_part(987654321, 0, part), CUDA_SUCCESS, "send a host copy part for a firing never made");
  expect(ctx_sync(s), CUDA_ERROR_INVALID_VALUE, "the next sync call reports the forged part");
  expect(ctx_sync(s), CUDA_SUCCESS, "the session works after the forged part");
  // New host copy parameters for a forged node id (GraphHostCopyNodeSetParams).
  const uint64_t forged_set[] = {0, 0, 123456789, 5, 0, CU_MEMORYTYPE_DEVICE, 0, 0, 0, 0, 0, 0, 16, 1, 1};
  expect(s.sync(Op::GraphHostCopyNodeSetParams, forged_set), CUDA_ERROR_INVALID_VALUE,
         "host copy parameters for a forged node id");

  // Host copy nodes in a conditional body: refused (their marker host nodes cannot be in a
  // body), directly and inside a child graph; the session goes on.
  {
    CUcontext ctx = nullptr;
    expect(gpool_impl_cuCtxGetCurrent(&ctx), CUDA_SUCCESS, "cuCtxGetCurrent");
    CUgraph cg = nullptr, child = nullptr;
    expect(gpool_impl_cuGraphCreate(&cg, 0), CUDA_SUCCESS, "cuGraphCreate (conditional)");
    expect(gpool_impl_cuGraphCreate(&child, 0), CUDA_SUCCESS, "cuGraphCreate (child)");
    CUgraphConditionalHandle handle = 0;
    expect(gpool_impl_cuGraphConditionalHandleCreate(&handle, cg, ctx, 1, 0), CUDA_SUCCESS,
           "cuGraphConditionalHandleCreate");
    CUgraphNodeParams cp{};
    cp.type = CU_GRAPH_NODE_TYPE_CONDITIONAL;
    cp.conditional.handle = handle;
    cp.conditional.type = CU_GRAPH_COND_TYPE_IF;
    cp.conditional.size = 1;
    cp.conditional.ctx = ctx;
    CUgraphNode cond = nullptr;
    expect(gpool_impl_cuGraphAddNode_v2(&cond, cg, nullptr, nullptr, 0, &cp), CUDA_SUCCESS, "add an IF node");
    CUgraph body = cp.conditional.phGraph_out != nullptr ? cp.conditional.phGraph_out[0] : nullptr;
    CUdeviceptr d = 0;
    expect(gpool_impl_cuMemAlloc_v2(&d, 64), CUDA_SUCCESS, "cuMemAlloc");
    static unsigned char host[64];
    CUDA_MEMCPY3D p{};
    p.srcMemoryType = CU_MEMORYTYPE_HOST;
    p.srcHost = host;
    p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    p.dstDevice = d;
    p.WidthInBytes = sizeof host;
    p.Height = p.Depth = 1;
    CUgraphNode n = nullptr;
    expect(gpool_impl_cuGraphAddMemcpyNode(&n, body, nullptr, 0, &p, ctx), CUDA_ERROR_NOT_SUPPORTED,
           "a host copy node in a conditional body");
    expect(gpool_impl_cuGraphAddMemcpyNode(&n, child, nullptr, 0, &p, ctx), CUDA_SUCCESS, "a host copy node in a graph");
    expect(gpool_impl_cuGraphAddChildGraphNode(&n, body, nullptr, 0, child), CUDA_ERROR_NOT_SUPPORTED,
           "that graph as a child graph in a conditional body");
    expect(gpool_impl_cuGraphDestroy(cg), CUDA_SUCCESS, "cuGraphDestroy (conditional)");
    expect(gpool_impl_cuGraphDestroy(child), CUDA_SUCCESS, "cuGraphDestroy (child)");
    expect(gpool_impl_cuMemFree_v2(d), CUDA_SUCCESS, "cuMemFree");
    expect(ctx_sync(s), CUDA_SUCCESS, "the session works after the refused body nodes");
  }

  // Registration ids: 0 and one still registered (a graph host node's stays for the session).
  const gpool::remote::HandleRef null_stream[] = {gpool::remote::HandleRef(0, gpool::remote::HandleKind_Stream)};
  const uint64_t zero[] = {0, 0};
  expect(s.async(Op::LaunchHostFunc, zero, null_stream), CUDA_SUCCESS, "send LaunchHostFunc with id 0");
  expect(ctx_sync(s), CUDA_ERROR_INVALID_VALUE, "id 0 is refused");
  CUgraph g = nullptr;
  expect(gpool_impl_cuGraphCreate(&g, 0), CUDA_SUCCESS, "cuGraphCreate");
  const std::vector<uint64_t> add = {reinterpret_cast<uint64_t>(g), 777000, 0};
  uint64_t node = 0;
  expect(s.sync_value(Op::GraphAddHostNode, add, {}, node), CUDA_SUCCESS, "add a host node with id 777000");
  const uint64_t again[] = {777000, 0};
  expect(s.async(Op::LaunchHostFunc, again, null_stream), CUDA_SUCCESS, "send LaunchHostFunc reusing 777000");
  expect(ctx_sync(s), CUDA_ERROR_INVALID_VALUE, "an id in use is refused");
  const uint64_t forged_node[] = {123456789};
  uint64_t id = 0;
  expect(s.sync_value(Op::GraphHostNodeGetParams, forged_node, {}, id), CUDA_ERROR_INVALID_VALUE,
         "host node parameters of a forged node id");
  expect(gpool_impl_cuGraphDestroy(g), CUDA_SUCCESS, "cuGraphDestroy");
  expect(ctx_sync(s), CUDA_SUCCESS, "the session works at the end");
  if (g_failures != 0) {
    std::printf("FAIL: %d checks failed\n", g_failures);
    return 1;
  }
  std::printf("PASS\n");
  return 0;
}
