// Worker: stream memory operations and batch memory-op graph nodes (calls.toml StreamMemOp ..
// GraphBatchMemOpNodeSetParams, 475-478; docs/architecture.md "Stream memory operations through
// the pool").
//
// Policy: every address a wait or write names must lie inside one allocation, global, VMM
// mapping or graph allocation of this session (range_ok, the check copies and memsets use), so a
// tenant can neither wait on nor write another tenant's memory; anything else is
// CUDA_ERROR_INVALID_VALUE (logged) and never reaches the driver. The operations then go to the
// backend's own cuStreamBatchMemOp: a wait holds only its backend stream, the worker's loop goes
// on at once (the call is async), and other sessions are other processes.
#include <vector>

#include "gpool/common/log.h"
#include "worker.h"

namespace gpool::server {
namespace {

constexpr uint64_t kMaxOps = 255;  // the driver: fewer than 256 operations

// Fills a wait's or a write's parameters (both structs have the same fields) from the wire: a
// 4-byte operation keeps only the low 32 bits of the value.
template <typename Params>
void set_word(Params& p, uint64_t addr, uint64_t value, uint64_t bytes, uint64_t flags) {
  p.address = addr;
  p.value64 = bytes == 4 ? static_cast<uint32_t>(value) : value;
  p.flags = static_cast<unsigned>(flags);
}

}  // namespace

bool Worker::memops_from_wire(std::span<const uint64_t> words, uint64_t count,
                              std::vector<CUstreamBatchMemOpParams>& out) {
  if (count == 0 || count > kMaxOps || words.size() != count * 4) return false;
  out.assign(count, CUstreamBatchMemOpParams{});
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t kind = words[i * 4], addr = words[i * 4 + 1], value = words[i * 4 + 2];
    const uint64_t flags = words[i * 4 + 3];
    if (flags > UINT32_MAX) return false;
    CUstreamBatchMemOpParams& p = out[i];
    uint64_t bytes = 0;
    switch (kind) {
      case CU_STREAM_MEM_OP_WAIT_VALUE_32:
      case CU_STREAM_MEM_OP_WAIT_VALUE_64:
        bytes = kind == CU_STREAM_MEM_OP_WAIT_VALUE_32 ? 4 : 8;
        set_word(p.waitValue, addr, value, bytes, flags);
        break;
      case CU_STREAM_MEM_OP_WRITE_VALUE_32:
      case CU_STREAM_MEM_OP_WRITE_VALUE_64:
        bytes = kind == CU_STREAM_MEM_OP_WRITE_VALUE_32 ? 4 : 8;
        set_word(p.writeValue, addr, value, bytes, flags);
        break;
      case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES: p.flushRemoteWrites.flags = static_cast<unsigned>(flags); break;
      case CU_STREAM_MEM_OP_BARRIER: p.memoryBarrier.flags = static_cast<unsigned>(flags); break;
      default:
        log::logger("worker").warn("session {}: stream memory operation of unknown kind {}", params_.session_id, kind);
        return false;
    }
    p.operation = static_cast<CUstreamBatchMemOpType>(kind);
    if (kind == CU_STREAM_MEM_OP_WAIT_VALUE_32 || kind == CU_STREAM_MEM_OP_WAIT_VALUE_64) memop_waits_ = true;
    if (bytes != 0 && !range_ok(addr, bytes)) {
      log::logger("worker").warn("session {}: stream memory operation on {:#x}, which is not memory of this "
                                 "session", params_.session_id, addr);
      return false;
    }
  }
  return true;
}

CUresult Worker::op_stream_memop(Ctx& c) {
  StreamMemOpArgs a;
  if (!decode_args(c, a) || (a.api != 1 && a.api != 2)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  std::vector<CUstreamBatchMemOpParams> ops;
  if (!memops_from_wire(a.ops, a.count, ops)) return CUDA_ERROR_INVALID_VALUE;
  // The backend is always asked through the _v2 entry point (cuda.h declares no other). A v1
  // call's CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER only allows a reordering, so the write keeps
  // its barrier; a v1 call has no CU_STREAM_MEM_OP_BARRIER (the shim refused it).
  for (auto& op : ops) {
    if (a.api != 1) break;
    if (op.operation == CU_STREAM_MEM_OP_BARRIER) return CUDA_ERROR_INVALID_VALUE;
    if (op.operation == CU_STREAM_MEM_OP_WRITE_VALUE_32 || op.operation == CU_STREAM_MEM_OP_WRITE_VALUE_64) {
      op.writeValue.flags &= ~static_cast<unsigned>(CU_STREAM_WRITE_VALUE_NO_MEMORY_BARRIER);
    }
  }
  DeviceScope scope(*this, device_of(s));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  return drv_.cuStreamBatchMemOp_v2(s, static_cast<unsigned>(ops.size()), ops.data(), 0);
}

CUresult Worker::op_graph_add_memop_node(Ctx& c) {
  GraphAddBatchMemOpNodeArgs a;
  if (!decode_args(c, a) || a.flags > UINT32_MAX) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUstreamBatchMemOpParams> ops;
  if (!memops_from_wire(a.ops, a.count, ops)) return CUDA_ERROR_INVALID_VALUE;
  CUDA_BATCH_MEM_OP_NODE_PARAMS p{};
  if (CUresult st = drv_.cuCtxGetCurrent(&p.ctx); st != CUDA_SUCCESS) return st;
  p.count = static_cast<unsigned>(ops.size());
  p.paramArray = ops.data();
  p.flags = static_cast<unsigned>(a.flags);
  CUgraphNode node = nullptr;
  if (CUresult st = drv_.cuGraphAddBatchMemOpNode(&node, g, deps.data(), deps.size(), &p); st != CUDA_SUCCESS) {
    return st;
  }
  c.results = {node_id(node)};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_memop_node_get(Ctx& c) {
  GraphBatchMemOpNodeGetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_BATCH_MEM_OP_NODE_PARAMS p{};
  if (CUresult st = drv_.cuGraphBatchMemOpNodeGetParams(n, &p); st != CUDA_SUCCESS) return st;
  if (p.count > kMaxOps || (p.count > 0 && p.paramArray == nullptr)) return CUDA_ERROR_UNKNOWN;
  c.results = {p.flags, p.count};
  for (unsigned i = 0; i < p.count; ++i) {
    const CUstreamBatchMemOpParams& op = p.paramArray[i];
    uint64_t addr = 0, value = 0, flags = 0;
    switch (op.operation) {
      case CU_STREAM_MEM_OP_WAIT_VALUE_32:
      case CU_STREAM_MEM_OP_WAIT_VALUE_64:
        addr = op.waitValue.address;
        value = op.operation == CU_STREAM_MEM_OP_WAIT_VALUE_32 ? op.waitValue.value : op.waitValue.value64;
        flags = op.waitValue.flags;
        break;
      case CU_STREAM_MEM_OP_WRITE_VALUE_32:
      case CU_STREAM_MEM_OP_WRITE_VALUE_64:
        addr = op.writeValue.address;
        value = op.operation == CU_STREAM_MEM_OP_WRITE_VALUE_32 ? op.writeValue.value : op.writeValue.value64;
        flags = op.writeValue.flags;
        break;
      case CU_STREAM_MEM_OP_FLUSH_REMOTE_WRITES: flags = op.flushRemoteWrites.flags; break;
      case CU_STREAM_MEM_OP_BARRIER: flags = op.memoryBarrier.flags; break;
      default: break;
    }
    c.results.insert(c.results.end(), {static_cast<uint64_t>(op.operation), addr, value, flags});
  }
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_memop_node_set(Ctx& c) {
  GraphBatchMemOpNodeSetParamsArgs a;
  if (!decode_args(c, a) || a.flags > UINT32_MAX) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUstreamBatchMemOpParams> ops;
  if (!memops_from_wire(a.ops, a.count, ops)) return CUDA_ERROR_INVALID_VALUE;
  CUDA_BATCH_MEM_OP_NODE_PARAMS p{};
  // The node keeps its context (set when it was added); ask the driver for it.
  CUDA_BATCH_MEM_OP_NODE_PARAMS now{};
  if (CUresult st = drv_.cuGraphBatchMemOpNodeGetParams(n, &now); st != CUDA_SUCCESS) return st;
  p.ctx = now.ctx;
  p.count = static_cast<unsigned>(ops.size());
  p.paramArray = ops.data();
  p.flags = static_cast<unsigned>(a.flags);
  if (a.exec == 0) return drv_.cuGraphBatchMemOpNodeSetParams(n, &p);
  CUgraphExec x = graph_exec_of(a.exec);
  if (x == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return drv_.cuGraphExecBatchMemOpNodeSetParams(x, exec_node(a.exec, n), &p);
}

}  // namespace gpool::server
