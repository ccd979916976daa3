// Shim: stream memory operations (cuStreamWaitValue32/64, cuStreamWriteValue32/64,
// cuStreamBatchMemOp, plain and _v2) and batch memory-op graph nodes (calls.toml 475-478,
// server/src/worker_memop.cc; docs/architecture.md "Stream memory operations through the pool").
//
// Checked here, at the call, with the emulator's own check (gpool/driver_abi/stream_memops.h): the
// kind and flags of each operation for its API (v1 takes CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER,
// v2 and nodes CU_STREAM_MEM_OP_BARRIER), 1 to 255 operations, a non-null address aligned to the
// value's size, not managed memory (the driver's rule): CUDA_ERROR_INVALID_VALUE. Host memory
// (mapped cuMemHostAlloc memory, which is a managed mirror here, and page-locked memory that only
// this process holds) cannot be the word of an operation through the pool: its host writes reach
// the server only at call boundaries and the host is locked out of it while kernels may run, so
// a host-written flag could never release a waiting stream reliably: CUDA_ERROR_NOT_SUPPORTED,
// logged. The server checks every address against the session's memory again.
//
// The stream operations are async calls; a batch holding a write is written to the server at
// once (Session::async_start), others go with the next synchronising call like a launch. A
// refusal only the server can make becomes the session's sticky error. Graph node calls are sync.
// Thread safety: may be called from any thread.
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/stream_memops.h"
#include "managed.h"
#include "state.h"

using namespace gpool::shim;

namespace {

using Api = gpool::abi::MemOpApi;
using gpool::abi::kMaxMemOps;

bool is_wait(unsigned op) { return op == CU_STREAM_MEM_OP_WAIT_VALUE_32 || op == CU_STREAM_MEM_OP_WAIT_VALUE_64; }
bool is_write(unsigned op) { return op == CU_STREAM_MEM_OP_WRITE_VALUE_32 || op == CU_STREAM_MEM_OP_WRITE_VALUE_64; }

CUresult check_address(CUdeviceptr addr, unsigned bytes) {
  if (addr == 0 || addr % bytes != 0) return CUDA_ERROR_INVALID_VALUE;
  const auto p = static_cast<uintptr_t>(addr);
  void* hbase = nullptr;
  size_t hbytes = 0;
  unsigned hflags = 0;
  const bool host = find_host_range(reinterpret_cast<const void*>(p), &hbase, &hbytes, &hflags);
  if (managed::find(p, nullptr, nullptr) && !host) return CUDA_ERROR_INVALID_VALUE;  // managed memory
  if (host) {
    gpool::log::logger("shim").error("stream memory operation on host memory {:#x}: not supported through the pool "
                                     "(host writes reach the server only at call boundaries); returning "
                                     "CUDA_ERROR_NOT_SUPPORTED", addr);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  CUdeviceptr base = 0;
  size_t size = 0;
  if (find_device_range(addr, &base, &size) && addr + bytes > base + size) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;
}

// Checks `ops` (gpool::abi::check_stream_memops: the kinds, flags and counts exactly as the
// emulator checks them; the words against this process's memory) and appends their wire form
// (4 words each) to `words`.
CUresult to_wire(const CUstreamBatchMemOpParams* ops, unsigned count, Api api, std::vector<uint64_t>& words) {
  if (CUresult st = gpool::abi::check_stream_memops(ops, count, api, check_address); st != CUDA_SUCCESS) return st;
  for (unsigned i = 0; i < count; ++i) {
    const CUstreamBatchMemOpParams& p = ops[i];
    unsigned op = 0;  // the integer the caller stored (a checked kind)
    std::memcpy(&op, &p.operation, sizeof op);
    uint64_t addr = 0, value = 0, flags = 0;
    if (is_wait(op)) {
      addr = p.waitValue.address;
      value = op == CU_STREAM_MEM_OP_WAIT_VALUE_32 ? p.waitValue.value : p.waitValue.value64;
      flags = p.waitValue.flags;
    } else if (is_write(op)) {
      addr = p.writeValue.address;
      value = op == CU_STREAM_MEM_OP_WRITE_VALUE_32 ? p.writeValue.value : p.writeValue.value64;
      flags = p.writeValue.flags;
    } else if (op == CU_STREAM_MEM_OP_BARRIER) {
      flags = p.memoryBarrier.flags;
    }
    words.insert(words.end(), {static_cast<uint64_t>(op), addr, value, flags});
  }
  return CUDA_SUCCESS;
}

CUresult stream_ops(CUstream stream, const CUstreamBatchMemOpParams* ops, unsigned count, unsigned flags, Api api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (flags != 0) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint64_t> args = {api == Api::V1 ? 1u : 2u, count};
  if (CUresult st = to_wire(ops, count, api, args); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(stream)};
  // A write is a signal another stream (or a kernel spinning on the flag) may be waiting for:
  // it goes out at once, like cuGraphLaunch, instead of waiting in the queue for the program's
  // next synchronising call (one write system call). Waits and fences are queued as usual.
  bool writes = false;  // args holds the checked kinds: 2 + 4 * i
  for (unsigned i = 0; i < count; ++i) writes = writes || is_write(static_cast<unsigned>(args[2 + 4 * i]));
  return writes ? Session::instance().async_start(Op::StreamMemOp, args, h)
                : Session::instance().async(Op::StreamMemOp, args, h);
}

CUresult one(CUstream stream, CUstreamBatchMemOpType op, CUdeviceptr addr, uint64_t value, unsigned flags, Api api) {
  const CUstreamBatchMemOpParams p = gpool::abi::single_memop(op, addr, value, flags);
  return stream_ops(stream, &p, 1, 0, api);
}

// What GetParams hands out: the node's operations, kept until the node is queried again (the
// driver's array is owned by the node likewise), and the context the program gave.
std::mutex g_mu;
std::map<CUgraphNode, std::vector<CUstreamBatchMemOpParams>> g_params;  // guarded by g_mu
std::map<CUgraphNode, CUcontext> g_ctx;                                 // guarded by g_mu

void remember_ctx(CUgraphNode n, CUcontext ctx) {
  if (ctx == nullptr) gpool_impl_cuCtxGetCurrent(&ctx);
  std::lock_guard lock(g_mu);
  g_ctx[n] = ctx;
}

// The node's flags and operations on the wire after `head`.
CUresult node_args(const CUDA_BATCH_MEM_OP_NODE_PARAMS* p, std::vector<uint64_t>& args) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  args.push_back(p->flags);
  args.push_back(p->count);
  return to_wire(p->paramArray, p->count, Api::V2, args);
}

}  // namespace

extern "C" CUresult gpool_impl_cuStreamWaitValue32(CUstream s, CUdeviceptr addr, cuuint32_t value, unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_32, addr, value, flags, Api::V1);
}
extern "C" CUresult gpool_impl_cuStreamWaitValue32_v2(CUstream s, CUdeviceptr addr, cuuint32_t value,
                                                      unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_32, addr, value, flags, Api::V2);
}
extern "C" CUresult gpool_impl_cuStreamWaitValue64(CUstream s, CUdeviceptr addr, cuuint64_t value, unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_64, addr, value, flags, Api::V1);
}
extern "C" CUresult gpool_impl_cuStreamWaitValue64_v2(CUstream s, CUdeviceptr addr, cuuint64_t value,
                                                      unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WAIT_VALUE_64, addr, value, flags, Api::V2);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue32(CUstream s, CUdeviceptr addr, cuuint32_t value,
                                                    unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_32, addr, value, flags, Api::V1);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue32_v2(CUstream s, CUdeviceptr addr, cuuint32_t value,
                                                       unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_32, addr, value, flags, Api::V2);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue64(CUstream s, CUdeviceptr addr, cuuint64_t value,
                                                    unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_64, addr, value, flags, Api::V1);
}
extern "C" CUresult gpool_impl_cuStreamWriteValue64_v2(CUstream s, CUdeviceptr addr, cuuint64_t value,
                                                       unsigned int flags) {
  return one(s, CU_STREAM_MEM_OP_WRITE_VALUE_64, addr, value, flags, Api::V2);
}
extern "C" CUresult gpool_impl_cuStreamBatchMemOp(CUstream s, unsigned int count, CUstreamBatchMemOpParams* ops,
                                                  unsigned int flags) {
  return stream_ops(s, ops, count, flags, Api::V1);
}
extern "C" CUresult gpool_impl_cuStreamBatchMemOp_v2(CUstream s, unsigned int count, CUstreamBatchMemOpParams* ops,
                                                     unsigned int flags) {
  return stream_ops(s, ops, count, flags, Api::V2);
}

extern "C" CUresult gpool_impl_cuGraphAddBatchMemOpNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                        size_t ndeps, const CUDA_BATCH_MEM_OP_NODE_PARAMS* p) {
  if (out == nullptr || p == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g), ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(reinterpret_cast<uint64_t>(deps[i]));
  if (CUresult st = node_args(p, args); st != CUDA_SUCCESS) return st;
  uint64_t node = 0;
  if (CUresult st = Session::instance().sync_value(Op::GraphAddBatchMemOpNode, args, {}, node); st != CUDA_SUCCESS) {
    return st;
  }
  *out = reinterpret_cast<CUgraphNode>(node);
  remember_ctx(*out, p->ctx);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphBatchMemOpNodeGetParams(CUgraphNode n, CUDA_BATCH_MEM_OP_NODE_PARAMS* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(n)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphBatchMemOpNodeGetParams, args, {}, {}, {}, &r);
      st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() < 2 || r.results[1] > kMaxMemOps || r.results.size() != 2 + r.results[1] * 4) {
    return CUDA_ERROR_UNKNOWN;  // a server that broke the call's contract
  }
  const auto count = static_cast<unsigned>(r.results[1]);
  std::vector<CUstreamBatchMemOpParams> ops(count);
  for (unsigned i = 0; i < count; ++i) {
    const uint64_t* w = &r.results[2 + i * 4];
    CUstreamBatchMemOpParams& p = ops[i];
    p.operation = static_cast<CUstreamBatchMemOpType>(w[0]);
    if (is_wait(p.operation)) {
      p.waitValue.address = w[1];
      p.waitValue.value64 = w[2];
      p.waitValue.flags = static_cast<unsigned>(w[3]);
    } else if (is_write(p.operation)) {
      p.writeValue.address = w[1];
      p.writeValue.value64 = w[2];
      p.writeValue.flags = static_cast<unsigned>(w[3]);
    } else if (p.operation == CU_STREAM_MEM_OP_BARRIER) {
      p.memoryBarrier.flags = static_cast<unsigned>(w[3]);
    } else {
      p.flushRemoteWrites.flags = static_cast<unsigned>(w[3]);
    }
  }
  CUcontext ctx = nullptr;
  std::lock_guard lock(g_mu);
  auto c = g_ctx.find(n);
  if (c != g_ctx.end()) {
    ctx = c->second;
  } else {
    gpool_impl_cuCtxGetCurrent(&ctx);  // a captured node: the session's context of its device
  }
  auto& kept = g_params[n];
  kept = std::move(ops);
  out->ctx = ctx;
  out->count = count;
  out->paramArray = kept.data();
  out->flags = static_cast<unsigned>(r.results[0]);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphBatchMemOpNodeSetParams(CUgraphNode n, const CUDA_BATCH_MEM_OP_NODE_PARAMS* p) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {0, reinterpret_cast<uint64_t>(n)};
  if (CUresult st = node_args(p, args); st != CUDA_SUCCESS) return st;
  if (CUresult st = Session::instance().sync(Op::GraphBatchMemOpNodeSetParams, args); st != CUDA_SUCCESS) return st;
  remember_ctx(n, p->ctx);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphExecBatchMemOpNodeSetParams(CUgraphExec x, CUgraphNode n,
                                                                  const CUDA_BATCH_MEM_OP_NODE_PARAMS* p) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (x == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(x), reinterpret_cast<uint64_t>(n)};
  if (CUresult st = node_args(p, args); st != CUDA_SUCCESS) return st;
  return Session::instance().sync(Op::GraphBatchMemOpNodeSetParams, args);
}
