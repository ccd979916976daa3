// Shim: node queries, node removal, clones, exec flags, node enabling, memset and copy node
// parameters, kernel node parameters, exec child graphs and DOT text of CUDA graphs
// (calls.toml 346-356, server/src/worker_graph_query.cc).
//
// Graph, node and exec handles are the server's ids (graph.cc); the server checks each against
// the session's tables. Edge data is always the default (the pool builds no edges with ports or
// types), so the _v2 queries report zeroed CUgraphEdgeData.
//
// cuGraphDebugDotPrint: the server produces the text, the shim writes it to the program's path.
//
// Thread safety: every entry point may be called from any thread.
#include <cstdio>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "gpool/common/log.h"
#include "graph_host_copy.h"
#include "state.h"
#include "user_object.h"

using namespace gpool::shim;

namespace {

uint64_t id_of(const void* h) { return reinterpret_cast<uint64_t>(h); }

CUresult neighbours(CUgraphNode node, uint64_t which, CUgraphNode* out, CUgraphEdgeData* edges, size_t* n) {
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(node), which, out == nullptr ? 0 : *n};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphNodeNeighbours, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.empty()) return CUDA_ERROR_UNKNOWN;
  const size_t count = r.results[0];
  if (out != nullptr) {
    for (size_t i = 0; i < *n; ++i) {
      out[i] = i < count && i + 1 < r.results.size() ? reinterpret_cast<CUgraphNode>(r.results[i + 1]) : nullptr;
      if (edges != nullptr) edges[i] = CUgraphEdgeData{};
    }
  }
  *n = count;
  return CUDA_SUCCESS;
}

CUresult node_enabled(CUgraphExec exec, CUgraphNode node, bool set, unsigned value, unsigned* out) {
  if (!set && out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(exec), id_of(node), set ? 1u : 0u, value};
  if (set) return Session::instance().sync(Op::GraphNodeEnabled, args);
  uint64_t v = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphNodeEnabled, args, {}, v);
  if (st == CUDA_SUCCESS) *out = static_cast<unsigned>(v);
  return st;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphNodeGetDependencies_v2(CUgraphNode node, CUgraphNode* deps,
                                                             CUgraphEdgeData* edges, size_t* n) {
  return neighbours(node, 0, deps, edges, n);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetDependencies(CUgraphNode node, CUgraphNode* deps, size_t* n) {
  return neighbours(node, 0, deps, nullptr, n);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetDependentNodes_v2(CUgraphNode node, CUgraphNode* dependents,
                                                               CUgraphEdgeData* edges, size_t* n) {
  return neighbours(node, 1, dependents, edges, n);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetDependentNodes(CUgraphNode node, CUgraphNode* dependents, size_t* n) {
  return neighbours(node, 1, dependents, nullptr, n);
}

extern "C" CUresult gpool_impl_cuGraphDestroyNode(CUgraphNode node) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(node)};
  return Session::instance().sync(Op::GraphDestroyNode, args);
}

extern "C" CUresult gpool_impl_cuGraphClone(CUgraph* clone, CUgraph original) {
  if (clone == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(original)};
  uint64_t id = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphClone, args, {}, id);
  if (st == CUDA_SUCCESS) {
    *clone = reinterpret_cast<CUgraph>(id);
    gpool::shim::user_objects::graph_cloned(args[0], id);  // user_object.h
  }
  return st;
}

extern "C" CUresult gpool_impl_cuGraphNodeFindInClone(CUgraphNode* found, CUgraphNode original, CUgraph clone) {
  if (found == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(original), id_of(clone)};
  uint64_t id = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphNodeFindInClone, args, {}, id);
  if (st == CUDA_SUCCESS) *found = reinterpret_cast<CUgraphNode>(id);
  return st;
}

extern "C" CUresult gpool_impl_cuGraphExecGetFlags(CUgraphExec exec, cuuint64_t* flags) {
  if (flags == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(exec)};
  uint64_t v = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphExecGetFlags, args, {}, v);
  if (st == CUDA_SUCCESS) *flags = v;
  return st;
}

extern "C" CUresult gpool_impl_cuGraphNodeGetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int* enabled) {
  return node_enabled(exec, node, false, 0, enabled);
}

extern "C" CUresult gpool_impl_cuGraphNodeSetEnabled(CUgraphExec exec, CUgraphNode node, unsigned int enabled) {
  return node_enabled(exec, node, true, enabled, nullptr);
}

extern "C" CUresult gpool_impl_cuGraphMemsetNodeGetParams(CUgraphNode node, CUDA_MEMSET_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {0, 0, id_of(node)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphMemsetParams, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() < 6) return CUDA_ERROR_UNKNOWN;
  *p = CUDA_MEMSET_NODE_PARAMS{};
  p->dst = r.results[0];
  p->pitch = r.results[1];
  p->value = static_cast<unsigned>(r.results[2]);
  p->elementSize = static_cast<unsigned>(r.results[3]);
  p->width = r.results[4];
  p->height = r.results[5];
  return CUDA_SUCCESS;
}

namespace {

CUresult set_memset(bool on_exec, CUgraphExec exec, CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {on_exec ? 1u : 2u, id_of(exec), id_of(node), p->dst, p->pitch, p->value, p->elementSize,
                           p->width, p->height};
  return Session::instance().sync(Op::GraphMemsetParams, args);
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphExecMemsetNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                              const CUDA_MEMSET_NODE_PARAMS* p, CUcontext) {
  return set_memset(true, exec, node, p);
}

extern "C" CUresult gpool_impl_cuGraphMemsetNodeSetParams(CUgraphNode node, const CUDA_MEMSET_NODE_PARAMS* p) {
  return set_memset(false, nullptr, node, p);
}

extern "C" CUresult gpool_impl_cuGraphDebugDotPrint(CUgraph graph, const char* path, unsigned int flags) {
  if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(graph), flags};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphDebugDotPrint, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  std::FILE* f = std::fopen(path, "w");
  if (f == nullptr) return CUDA_ERROR_OPERATING_SYSTEM;
  const size_t n = r.inline_data.size();
  const bool wrote = n == 0 || std::fwrite(r.inline_data.data(), 1, n, f) == n;
  const bool closed = std::fclose(f) == 0;
  return wrote && closed ? CUDA_SUCCESS : CUDA_ERROR_OPERATING_SYSTEM;
}

extern "C" CUresult gpool_impl_cuGraphExecChildGraphNodeSetParams(CUgraphExec exec, CUgraphNode node, CUgraph child) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(exec), id_of(node), id_of(child)};
  return Session::instance().sync(Op::GraphExecChildGraphSetParams, args);
}

namespace {

// As cuGraphAddMemcpyNode (graph.cc): only 1D copies between device allocations; a node copying
// client memory could not reach it when the graph runs on the server.
CUresult set_memcpy(bool on_exec, CUgraphExec exec, CUgraphNode node, const CUDA_MEMCPY3D* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (gpool::shim::hostcopy::has_one_host_side(*p)) return gpool::shim::hostcopy::set_params(on_exec, exec, node, *p);
  auto device_side = [](CUmemorytype t) { return t == CU_MEMORYTYPE_DEVICE || t == CU_MEMORYTYPE_UNIFIED; };
  const bool one_d = p->Height <= 1 && p->Depth <= 1 && p->srcXInBytes == 0 && p->dstXInBytes == 0 &&
                     p->srcY == 0 && p->dstY == 0 && p->srcZ == 0 && p->dstZ == 0;
  if (!one_d || !device_side(p->srcMemoryType) || !device_side(p->dstMemoryType)) {
    gpool::log::logger("shim").error("cuGraph(Exec)MemcpyNodeSetParams: through the pool only 1D copies between "
                                     "device allocations can be graph nodes; returning CUDA_ERROR_NOT_SUPPORTED");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {on_exec ? 1u : 0u, id_of(exec), id_of(node), p->dstDevice, p->srcDevice, p->WidthInBytes};
  return Session::instance().sync(Op::GraphMemcpySetParams, args);
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphMemcpyNodeSetParams(CUgraphNode node, const CUDA_MEMCPY3D* p) {
  return set_memcpy(false, nullptr, node, p);
}

extern "C" CUresult gpool_impl_cuGraphExecMemcpyNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                              const CUDA_MEMCPY3D* p, CUcontext) {
  return set_memcpy(true, exec, node, p);
}

// cuGraphKernelNodeGetParams: kernelParams points into storage the shim keeps per node, reused
// (same size: same addresses) by the next query of that node; like the driver's, valid until
// the node's parameters change. ctx is left null (the server's context is not the client's).
extern "C" CUresult gpool_impl_cuGraphKernelNodeGetParams_v2(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {id_of(node)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphKernelGetParams, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() < 9) return CUDA_ERROR_UNKNOWN;
  auto info = find_function(r.results[0]);
  if (!info || r.inline_data.size() != info->param_bytes) return CUDA_ERROR_UNKNOWN;
  struct Stored {
    std::vector<uint64_t> buf;
    std::vector<void*> argv;
  };
  static std::mutex mu;
  static std::unordered_map<uint64_t, Stored> stored;  // node id -> its last answer
  std::lock_guard lock(mu);
  Stored& st = stored[id_of(node)];
  st.buf.resize((info->param_bytes + 7) / 8 + 1);
  if (!r.inline_data.empty()) std::memcpy(st.buf.data(), r.inline_data.data(), r.inline_data.size());
  st.argv.resize(info->offsets.size());
  for (size_t i = 0; i < st.argv.size(); ++i) st.argv[i] = reinterpret_cast<char*>(st.buf.data()) + info->offsets[i];
  *p = CUDA_KERNEL_NODE_PARAMS{};
  if (r.results[1] != 0) {
    p->kern = reinterpret_cast<CUkernel>(r.results[0]);
  } else {
    p->func = reinterpret_cast<CUfunction>(r.results[0]);
  }
  p->gridDimX = static_cast<unsigned>(r.results[2]);
  p->gridDimY = static_cast<unsigned>(r.results[3]);
  p->gridDimZ = static_cast<unsigned>(r.results[4]);
  p->blockDimX = static_cast<unsigned>(r.results[5]);
  p->blockDimY = static_cast<unsigned>(r.results[6]);
  p->blockDimZ = static_cast<unsigned>(r.results[7]);
  p->sharedMemBytes = static_cast<unsigned>(r.results[8]);
  p->kernelParams = st.argv.empty() ? nullptr : st.argv.data();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeGetParams(CUgraphNode node, CUDA_KERNEL_NODE_PARAMS_v1* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS q{};
  if (CUresult st = gpool_impl_cuGraphKernelNodeGetParams_v2(node, &q); st != CUDA_SUCCESS) return st;
  std::memcpy(p, &q, sizeof *p);  // v1 is the leading part of v2
  return CUDA_SUCCESS;
}
