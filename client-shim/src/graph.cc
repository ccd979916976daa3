// Shim: stream capture and CUDA graphs (calls.toml 330-345, server/src/worker_graph.cc).
//
// Capture runs on the server: BeginCapture is forwarded, and the launches, copies, memsets,
// event records and waits the program then makes on the stream are the ordinary forwarded
// calls, which the server's backend records. Graph, node and exec handles are ids the server
// chose and returned; the server checks them against the session's tables on every use.
// cuGraphLaunch is one async message (no round trip), written at once (Session::async_start) so
// the server starts the graph without waiting for the program's next synchronising call.
//
// Built node by node: kernel, memset, empty, child-graph and device-to-device 1D copy nodes,
// edges, kernel parameters of a graph's or an exec's node. Node queries, node removal, clones,
// exec flags, node enabling, memset and copy parameters, exec child graphs, DOT text:
// graph_query.cc. The generic node API and conditional nodes: graph_node.cc; capture into a graph:
// graph_capture.cc; host nodes: hostfn.cc; event nodes: graph_event.cc; memory nodes: graph_mem.cc.
// Not forwarded (CUDA_ERROR_NOT_SUPPORTED, logged, from the weak defaults): other node kinds;
// docs/compatibility.md lists them. Host functions in a capture become host nodes (hostfn.cc).
// cuThreadExchangeStreamCaptureMode stays local: every call of a
// session runs on the server's one worker thread, whose mode is the driver's default (global).
//
// Thread safety: every entry point may be called from any thread; the arrays returned by
// cuStreamGetCaptureInfo live in thread-local storage until the thread's next call of it.
#include <cstring>
#include <span>
#include <vector>

#include "graph_host_copy.h"
#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "graph_node.h"
#include "state.h"
#include "user_object.h"

using namespace gpool::shim;

namespace {

// Most dependencies cuStreamGetCaptureInfo reports (the server lists at most this many).
constexpr uint64_t kMaxCaptureDeps = 256;

CUresult graph_list(CUgraph g, uint64_t what, uint64_t cap, Reply& r) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(g), what, cap};
  if (CUresult st = Session::instance().sync(Op::GraphList, args, {}, {}, {}, &r); st != CUDA_SUCCESS) return st;
  return r.results.empty() ? CUDA_ERROR_UNKNOWN : CUDA_SUCCESS;
}

// Writes a node list answer into `out` (capacity *n) or only its count.
CUresult report_nodes(CUgraph g, uint64_t what, CUgraphNode* out, size_t* n) {
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Reply r;
  if (CUresult st = graph_list(g, what, out == nullptr ? 0 : *n, r); st != CUDA_SUCCESS) return st;
  const size_t count = r.results[0];
  if (out != nullptr) {
    for (size_t i = 0; i < *n; ++i) {
      out[i] = i + 1 < r.results.size() && i < count ? reinterpret_cast<CUgraphNode>(r.results[i + 1]) : nullptr;
    }
  }
  *n = count;
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuStreamBeginCapture_v2(CUstream s, CUstreamCaptureMode mode) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s)};
  const uint64_t args[] = {static_cast<uint64_t>(mode)};
  const CUresult st = Session::instance().sync(Op::StreamBeginCapture, args, h);
  if (st == CUDA_SUCCESS) gpool::shim::hostcopy::capture_begun();
  return st;
}

extern "C" CUresult gpool_impl_cuStreamBeginCapture(CUstream s) {
  return gpool_impl_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL);
}

extern "C" CUresult gpool_impl_cuStreamEndCapture(CUstream s, CUgraph* graph) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s)};
  uint64_t id = 0;
  const CUresult st = Session::instance().sync_value(Op::StreamEndCapture, {}, h, id);
  if (st == CUDA_SUCCESS || st == CUDA_ERROR_STREAM_CAPTURE_INVALIDATED ||
      st == CUDA_ERROR_STREAM_CAPTURE_UNJOINED) {
    gpool::shim::hostcopy::capture_ended();  // a capture ended (with or without a graph)
  }
  *graph = st == CUDA_SUCCESS ? reinterpret_cast<CUgraph>(id) : nullptr;
  return st;
}

extern "C" CUresult gpool_impl_cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus* status) {
  if (status == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s)};
  uint64_t v = 0;
  const CUresult st = Session::instance().sync_value(Op::StreamIsCapturing, {}, h, v);
  if (st == CUDA_SUCCESS) *status = static_cast<CUstreamCaptureStatus>(v);
  return st;
}

extern "C" CUresult gpool_impl_cuStreamGetCaptureInfo_v3(CUstream s, CUstreamCaptureStatus* status_out,
                                                         cuuint64_t* id_out, CUgraph* graph_out,
                                                         const CUgraphNode** deps_out,
                                                         const CUgraphEdgeData** edges_out, size_t* ndeps_out) {
  if (status_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {stream_ref(s)};
  const uint64_t args[] = {deps_out != nullptr ? kMaxCaptureDeps : 0};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::StreamGetCaptureInfo, args, h, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() < 4) return CUDA_ERROR_UNKNOWN;
  thread_local std::vector<CUgraphNode> t_deps;
  thread_local std::vector<CUgraphEdgeData> t_edges;
  const size_t ndeps = r.results[3];
  t_deps.clear();
  for (size_t i = 4; i < r.results.size(); ++i) t_deps.push_back(reinterpret_cast<CUgraphNode>(r.results[i]));
  if (deps_out != nullptr && t_deps.size() < ndeps) {
    gpool::log::logger("shim").error("cuStreamGetCaptureInfo: the stream has {} dependencies, more than the {} "
                                     "the pool reports", ndeps, kMaxCaptureDeps);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  t_edges.assign(ndeps, CUgraphEdgeData{});
  *status_out = static_cast<CUstreamCaptureStatus>(r.results[0]);
  if (id_out) *id_out = r.results[1];
  if (graph_out) *graph_out = reinterpret_cast<CUgraph>(r.results[2]);
  if (deps_out) *deps_out = ndeps > 0 ? t_deps.data() : nullptr;
  if (edges_out) *edges_out = ndeps > 0 ? t_edges.data() : nullptr;
  if (ndeps_out) *ndeps_out = ndeps;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetCaptureInfo_v2(CUstream s, CUstreamCaptureStatus* status_out,
                                                         cuuint64_t* id_out, CUgraph* graph_out,
                                                         const CUgraphNode** deps_out, size_t* ndeps_out) {
  return gpool_impl_cuStreamGetCaptureInfo_v3(s, status_out, id_out, graph_out, deps_out, nullptr, ndeps_out);
}

extern "C" CUresult gpool_impl_cuStreamGetCaptureInfo(CUstream s, CUstreamCaptureStatus* status_out,
                                                      cuuint64_t* id_out) {
  return gpool_impl_cuStreamGetCaptureInfo_v3(s, status_out, id_out, nullptr, nullptr, nullptr, nullptr);
}

extern "C" CUresult gpool_impl_cuGraphCreate(CUgraph* graph, unsigned int flags) {
  if (graph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {flags};
  uint64_t id = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphCreate, args, {}, id);
  if (st == CUDA_SUCCESS) *graph = reinterpret_cast<CUgraph>(id);
  return st;
}

extern "C" CUresult gpool_impl_cuGraphDestroy(CUgraph graph) {
  if (graph == nullptr || graph_owned_by_node(graph) || is_conditional_body(graph)) {
    return CUDA_ERROR_INVALID_VALUE;  // graph_capture.cc, graph_node.h
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(graph)};
  const CUresult st = Session::instance().async(Op::GraphDestroy, args);
  if (st == CUDA_SUCCESS) gpool::shim::user_objects::graph_destroyed(args[0]);  // user_object.h
  return st;
}

extern "C" CUresult gpool_impl_cuGraphGetNodes(CUgraph g, CUgraphNode* nodes, size_t* n) {
  return report_nodes(g, 0, nodes, n);
}

extern "C" CUresult gpool_impl_cuGraphGetRootNodes(CUgraph g, CUgraphNode* nodes, size_t* n) {
  return report_nodes(g, 1, nodes, n);
}

extern "C" CUresult gpool_impl_cuGraphGetEdges_v2(CUgraph g, CUgraphNode* from, CUgraphNode* to,
                                                  CUgraphEdgeData* edges, size_t* n) {
  if (n == nullptr || (from == nullptr) != (to == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  Reply r;
  if (CUresult st = graph_list(g, 2, from == nullptr ? 0 : *n, r); st != CUDA_SUCCESS) return st;
  const size_t count = r.results[0];
  if (from != nullptr) {
    const size_t listed = (r.results.size() - 1) / 2;
    for (size_t i = 0; i < *n; ++i) {
      const bool have = i < listed;
      from[i] = have ? reinterpret_cast<CUgraphNode>(r.results[1 + i]) : nullptr;
      to[i] = have ? reinterpret_cast<CUgraphNode>(r.results[1 + listed + i]) : nullptr;
      if (edges != nullptr) edges[i] = CUgraphEdgeData{};
    }
  }
  *n = count;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphGetEdges(CUgraph g, CUgraphNode* from, CUgraphNode* to, size_t* n) {
  return gpool_impl_cuGraphGetEdges_v2(g, from, to, nullptr, n);
}

extern "C" CUresult gpool_impl_cuGraphNodeGetType(CUgraphNode node, CUgraphNodeType* type) {
  if (type == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(node)};
  uint64_t v = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphNodeGetType, args, {}, v);
  if (st == CUDA_SUCCESS) *type = static_cast<CUgraphNodeType>(v);
  return st;
}

extern "C" CUresult gpool_impl_cuGraphInstantiateWithFlags(CUgraphExec* exec, CUgraph graph, unsigned long long flags) {
  if (exec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(graph), flags};
  uint64_t id = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphInstantiate, args, {}, id);
  if (st == CUDA_SUCCESS) {
    *exec = reinterpret_cast<CUgraphExec>(id);
    gpool::shim::user_objects::exec_made(id, args[0]);
  }
  return st;
}

extern "C" CUresult gpool_impl_cuGraphInstantiate_v2(CUgraphExec* exec, CUgraph graph, CUgraphNode* err_node,
                                                     char* log_buffer, size_t buffer_size) {
  if (err_node != nullptr) *err_node = nullptr;
  if (log_buffer != nullptr && buffer_size > 0) log_buffer[0] = '\0';
  return gpool_impl_cuGraphInstantiateWithFlags(exec, graph, 0);
}

extern "C" CUresult gpool_impl_cuGraphInstantiate(CUgraphExec* exec, CUgraph graph, CUgraphNode* err_node,
                                                  char* log_buffer, size_t buffer_size) {
  return gpool_impl_cuGraphInstantiate_v2(exec, graph, err_node, log_buffer, buffer_size);
}

extern "C" CUresult gpool_impl_cuGraphInstantiateWithParams(CUgraphExec* exec, CUgraph graph,
                                                            CUDA_GRAPH_INSTANTIATE_PARAMS* params) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  params->hErrNode_out = nullptr;
  const CUresult st = gpool_impl_cuGraphInstantiateWithFlags(exec, graph, params->flags);
  params->result_out = st == CUDA_SUCCESS ? CUDA_GRAPH_INSTANTIATE_SUCCESS : CUDA_GRAPH_INSTANTIATE_ERROR;
  return st;
}

extern "C" CUresult gpool_impl_cuGraphExecDestroy(CUgraphExec exec) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(exec)};
  const CUresult st = Session::instance().async(Op::GraphExecDestroy, args);
  if (st == CUDA_SUCCESS) gpool::shim::user_objects::exec_destroyed(args[0]);
  return st;
}

extern "C" CUresult gpool_impl_cuGraphLaunch(CUgraphExec exec, CUstream s) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(exec)};
  const HandleRef h[] = {stream_ref(s)};
  const CUresult st = Session::instance().async_start(Op::GraphLaunch, args, h);
  if (st == CUDA_SUCCESS) gpool::shim::user_objects::exec_launched(args[0], s);
  return st;
}

extern "C" CUresult gpool_impl_cuGraphUpload(CUgraphExec exec, CUstream s) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(exec)};
  const HandleRef h[] = {stream_ref(s)};
  return Session::instance().async(Op::GraphUpload, args, h);
}

extern "C" CUresult gpool_impl_cuGraphExecUpdate_v2(CUgraphExec exec, CUgraph graph,
                                                    CUgraphExecUpdateResultInfo* info) {
  if (info == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(exec), reinterpret_cast<uint64_t>(graph)};
  Reply r;
  const CUresult st = Session::instance().sync(Op::GraphExecUpdate, args, {}, {}, {}, &r);
  *info = CUgraphExecUpdateResultInfo{};
  if (r.results.size() >= 3) {
    info->result = static_cast<CUgraphExecUpdateResult>(r.results[0]);
    info->errorNode = reinterpret_cast<CUgraphNode>(r.results[1]);
    info->errorFromNode = reinterpret_cast<CUgraphNode>(r.results[2]);
  }
  if (st == CUDA_SUCCESS) gpool::shim::user_objects::exec_updated(args[0], args[1]);
  return st;
}

extern "C" CUresult gpool_impl_cuGraphExecUpdate(CUgraphExec exec, CUgraph graph, CUgraphNode* err_node,
                                                 CUgraphExecUpdateResult* result) {
  if (err_node == nullptr || result == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExecUpdateResultInfo info{};
  const CUresult st = gpool_impl_cuGraphExecUpdate_v2(exec, graph, &info);
  *err_node = info.errorNode;
  *result = info.result;
  return st;
}

// ---- graphs built node by node (calls.toml 343-345) ------------------------------------------

namespace {

CUresult add_node(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, uint64_t kind,
                  std::span<const uint64_t> extra, std::span<const HandleRef> handles = {},
                  std::span<const std::byte> inline_data = {}) {
  if (out == nullptr || g == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g), kind, ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(reinterpret_cast<uint64_t>(deps[i]));
  args.insert(args.end(), extra.begin(), extra.end());
  uint64_t id = 0;
  Reply r;
  const CUresult st = Session::instance().sync(Op::GraphAddNode, args, handles, inline_data, {}, &r);
  if (st != CUDA_SUCCESS) return st;
  if (r.results.empty()) return CUDA_ERROR_UNKNOWN;
  id = r.results[0];
  *out = reinterpret_cast<CUgraphNode>(id);
  return CUDA_SUCCESS;
}

// The function handle, dimensions and packed parameters of a kernel node.
CUresult kernel_args(const CUDA_KERNEL_NODE_PARAMS& p, std::vector<uint64_t>& dims, HandleRef& fn,
                     std::vector<std::byte>& buf) {
  CUfunction f = p.func != nullptr ? p.func : reinterpret_cast<CUfunction>(p.kern);
  const uint64_t id = reinterpret_cast<uint64_t>(f);
  auto info = find_function(id);
  if (!info) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = pack_kernel_params(*info, p.kernelParams, p.extra, buf); st != CUDA_SUCCESS) return st;
  dims = {p.gridDimX, p.gridDimY, p.gridDimZ, p.blockDimX, p.blockDimY, p.blockDimZ, p.sharedMemBytes};
  fn = HandleRef(id, info->kernel ? gpool::remote::HandleKind_Kernel : gpool::remote::HandleKind_Function);
  return CUDA_SUCCESS;
}

CUresult set_kernel(bool on_exec, CUgraphExec exec, CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> dims;
  HandleRef fn;
  std::vector<std::byte> buf;
  if (CUresult st = kernel_args(*p, dims, fn, buf); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {on_exec ? 1u : 0u, reinterpret_cast<uint64_t>(exec), reinterpret_cast<uint64_t>(node)};
  args.insert(args.end(), dims.begin(), dims.end());
  const HandleRef h[] = {fn};
  return Session::instance().sync(Op::GraphSetKernelParams, args, h, buf);
}

CUDA_KERNEL_NODE_PARAMS from_v1(const CUDA_KERNEL_NODE_PARAMS_v1& p) {
  CUDA_KERNEL_NODE_PARAMS q{};
  std::memcpy(&q, &p, sizeof p);  // v1 is the leading part of v2
  return q;
}

CUresult edges(CUgraph g, const CUgraphNode* from, const CUgraphNode* to, const CUgraphEdgeData* data, size_t n,
               bool add) {
  if (n > 0 && (from == nullptr || to == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (data != nullptr) {
    for (size_t i = 0; i < n; ++i) {
      if (data[i].from_port != 0 || data[i].to_port != 0 || data[i].type != 0) {
        return gpool::abi::unimplemented("cuGraphAddDependencies/RemoveDependencies with non-default edge data");
      }
    }
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g), add ? 1u : 0u, n};
  for (size_t i = 0; i < n; ++i) args.push_back(reinterpret_cast<uint64_t>(from[i]));
  for (size_t i = 0; i < n; ++i) args.push_back(reinterpret_cast<uint64_t>(to[i]));
  return Session::instance().sync(Op::GraphEdges, args);
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphAddKernelNode_v2(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                       size_t ndeps, const CUDA_KERNEL_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> dims;
  HandleRef fn;
  std::vector<std::byte> buf;
  if (CUresult st = kernel_args(*p, dims, fn, buf); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {fn};
  return add_node(out, g, deps, ndeps, 0, dims, h, buf);
}

extern "C" CUresult gpool_impl_cuGraphAddKernelNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                    size_t ndeps, const CUDA_KERNEL_NODE_PARAMS_v1* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_KERNEL_NODE_PARAMS q = from_v1(*p);
  return gpool_impl_cuGraphAddKernelNode_v2(out, g, deps, ndeps, &q);
}

extern "C" CUresult gpool_impl_cuGraphAddMemsetNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                    size_t ndeps, const CUDA_MEMSET_NODE_PARAMS* p, CUcontext) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t extra[] = {p->dst, p->pitch, p->value, p->elementSize, p->width, p->height};
  return add_node(out, g, deps, ndeps, 1, extra);
}

extern "C" CUresult gpool_impl_cuGraphAddEmptyNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                   size_t ndeps) {
  return add_node(out, g, deps, ndeps, 2, {});
}

extern "C" CUresult gpool_impl_cuGraphAddChildGraphNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                        size_t ndeps, CUgraph child) {
  if (gpool::shim::user_objects::graph_has_refs(reinterpret_cast<uint64_t>(child))) {
    // Its clone in the node would own copies of the references; the shim does not track child
    // graphs' references (docs/architecture.md, "Graphs through the pool").
    return gpool::abi::unimplemented("cuGraphAddChildGraphNode of a graph holding user objects");
  }
  const uint64_t extra[] = {reinterpret_cast<uint64_t>(child)};
  return add_node(out, g, deps, ndeps, 3, extra);
}

// Only copies between device memory: a node copying client memory could not reach it when the
// graph runs on the server (docs/architecture.md, "Graphs through the pool").
extern "C" CUresult gpool_impl_cuGraphAddMemcpyNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                    size_t ndeps, const CUDA_MEMCPY3D* p, CUcontext) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto device_side = [](CUmemorytype t) { return t == CU_MEMORYTYPE_DEVICE || t == CU_MEMORYTYPE_UNIFIED; };
  const bool one_d = p->Height <= 1 && p->Depth <= 1 && p->srcXInBytes == 0 && p->dstXInBytes == 0 &&
                     p->srcY == 0 && p->dstY == 0 && p->srcZ == 0 && p->dstZ == 0;
  CUdeviceptr base = 0;
  size_t bytes = 0;
  const bool src_dev = device_side(p->srcMemoryType) && find_device_range(p->srcDevice, &base, &bytes);
  const bool dst_dev = device_side(p->dstMemoryType) && find_device_range(p->dstDevice, &base, &bytes);
  // One host side, any shape (the other device memory or an array): the node reads or writes
  // the host buffer when it runs (graph_host_copy.h). A device side the shim does not know is
  // still sent: the server checks it against the session's memory (CUDA_ERROR_INVALID_VALUE).
  if (gpool::shim::hostcopy::has_one_host_side(*p)) return gpool::shim::hostcopy::add_node(out, g, deps, ndeps, *p);
  if (!one_d || !src_dev || !dst_dev) {
    gpool::log::logger("shim").error("cuGraphAddMemcpyNode: through the pool only 1D copies between device "
                                     "allocations can be graph nodes; returning CUDA_ERROR_NOT_SUPPORTED");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const uint64_t extra[] = {p->dstDevice, p->srcDevice, p->WidthInBytes};
  return add_node(out, g, deps, ndeps, 4, extra);
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeSetParams_v2(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS* p) {
  return set_kernel(false, nullptr, node, p);
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeSetParams(CUgraphNode node, const CUDA_KERNEL_NODE_PARAMS_v1* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_KERNEL_NODE_PARAMS q = from_v1(*p);
  return set_kernel(false, nullptr, node, &q);
}

extern "C" CUresult gpool_impl_cuGraphExecKernelNodeSetParams_v2(CUgraphExec exec, CUgraphNode node,
                                                                 const CUDA_KERNEL_NODE_PARAMS* p) {
  return set_kernel(true, exec, node, p);
}

extern "C" CUresult gpool_impl_cuGraphExecKernelNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                              const CUDA_KERNEL_NODE_PARAMS_v1* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_KERNEL_NODE_PARAMS q = from_v1(*p);
  return set_kernel(true, exec, node, &q);
}

extern "C" CUresult gpool_impl_cuGraphAddDependencies_v2(CUgraph g, const CUgraphNode* from, const CUgraphNode* to,
                                                         const CUgraphEdgeData* data, size_t n) {
  return edges(g, from, to, data, n, true);
}

extern "C" CUresult gpool_impl_cuGraphAddDependencies(CUgraph g, const CUgraphNode* from, const CUgraphNode* to,
                                                      size_t n) {
  return edges(g, from, to, nullptr, n, true);
}

extern "C" CUresult gpool_impl_cuGraphRemoveDependencies_v2(CUgraph g, const CUgraphNode* from,
                                                            const CUgraphNode* to, const CUgraphEdgeData* data,
                                                            size_t n) {
  return edges(g, from, to, data, n, false);
}

extern "C" CUresult gpool_impl_cuGraphRemoveDependencies(CUgraph g, const CUgraphNode* from, const CUgraphNode* to,
                                                         size_t n) {
  return edges(g, from, to, nullptr, n, false);
}
