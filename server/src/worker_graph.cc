// Worker: CUDA graphs and stream capture for the session (calls.toml 330-345; node queries,
// clones, node setters and DOT text 346-356: worker_graph_query.cc).
//
// Capture happens here, in the backend: BeginCapture starts it on the session's stream, and the
// launches, copies, memsets, event records and waits the client then sends for that stream (the
// ordinary async calls) are recorded by the driver instead of run. EndCapture hands the graph
// back.
//
// Handles: graphs, graph nodes and executable graphs live in this session's table (graphs_,
// graph_table.h) under ids the worker chooses (kind tag in the top 16 bits, a
// counter below), returned to the client by the sync calls that create them. Every call looks
// its ids up in the tables of the expected kind first, so a forged id, a stale one or another
// session's gets CUDA_ERROR_INVALID_VALUE (what the driver answers for a bad graph handle) and
// never reaches the driver. A node's id is only valid with its own graph's calls.
//
// GraphLaunch is async (one message, no reply) and metered like a kernel launch.
// Memory nodes: the memory a launch allocates is charged to the tenant's quota at the launch
// (worker_graph_mem.cc). Host nodes never reach the server: the shim refuses host functions in a
// capture (client-shim/src/launch.cc), and GraphInstantiate refuses graphs with host nodes.
#include "worker.h"

#include "gpool/common/log.h"

#include <cstring>
#include <functional>

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

// Most ids one reply names (node lists, edges): bounded by the reply's size limit.
constexpr uint64_t kMaxListed = 4096;

}  // namespace

uint64_t Worker::graph_id(CUgraph g) { return graphs_.graph_id(g); }

uint64_t Worker::node_id(CUgraphNode n) { return graphs_.node_id(n); }

CUgraph Worker::graph_of(uint64_t id) const {
  CUgraph g = graphs_.graph(id);
  if (g == nullptr) {
    logger().warn("session {}: graph id {:#x} is not a graph of this session", params_.session_id, id);
  }
  return g;
}

CUgraphNode Worker::graph_node_of(uint64_t id) const {
  CUgraphNode n = graphs_.node(id);
  if (n == nullptr) {
    logger().warn("session {}: graph node id {:#x} is not a node of this session", params_.session_id, id);
  }
  return n;
}

CUgraphExec Worker::graph_exec_of(uint64_t id) const {
  CUgraphExec e = graphs_.exec(id);
  if (e == nullptr) {
    logger().warn("session {}: graph exec id {:#x} is not an executable graph of this session",
                  params_.session_id, id);
  }
  return e;
}

CUresult Worker::op_stream_begin_capture(Ctx& c) {
  StreamBeginCaptureArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  settle_turn();  // a metered turn's timing events must not land in the capture
  DeviceScope scope(*this, device_of(s));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  return drv_.cuStreamBeginCapture_v2(s, static_cast<CUstreamCaptureMode>(a.mode));
}

CUresult Worker::op_stream_end_capture(Ctx& c) {
  StreamEndCaptureArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  DeviceScope scope(*this, device_of(s));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  // The graph being captured, which a failed end destroys: its id (if the client was told one
  // through GetCaptureInfo) must go with it.
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  CUgraph capturing = nullptr;
  drv_.cuStreamGetCaptureInfo_v3(s, &status, nullptr, &capturing, nullptr, nullptr, nullptr);
  CUgraph g = nullptr;
  const CUresult st = drv_.cuStreamEndCapture(s, &g);
  if (capturing != nullptr) graphs_.end_capture(capturing);
  // A capture into the client's own graph (StreamBeginCaptureToGraph) leaves that graph the client's.
  const bool into = capturing != nullptr && graphs_.end_capture_into(capturing);
  if (st != CUDA_SUCCESS) {
    if (capturing != nullptr && !into) graphs_.forget_graph(capturing);
    return st;
  }
  c.results.push_back(graph_id(g));
  return CUDA_SUCCESS;
}

CUresult Worker::op_stream_capture_info(Ctx& c) {
  StreamGetCaptureInfoArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  const uint64_t want = std::min<uint64_t>(a.max_deps, kMaxListed);
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  cuuint64_t id = 0;
  CUgraph g = nullptr;
  const CUgraphNode* deps = nullptr;
  size_t ndeps = 0;
  const CUresult st = drv_.cuStreamGetCaptureInfo_v3(s, &status, &id, &g, &deps, nullptr, &ndeps);
  if (st != CUDA_SUCCESS) return st;
  c.results = {static_cast<uint64_t>(status), id, 0, ndeps};
  if (status == CU_STREAM_CAPTURE_STATUS_NONE || g == nullptr) return CUDA_SUCCESS;
  graphs_.mark_capturing(g);
  c.results[2] = graph_id(g);
  for (size_t i = 0; i < ndeps && i < want; ++i) c.results.push_back(node_id(deps[i]));
  return CUDA_SUCCESS;
}

CUresult Worker::op_stream_is_capturing(Ctx& c) {
  StreamIsCapturingArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  const CUresult st = drv_.cuStreamIsCapturing(s, &status);
  if (st == CUDA_SUCCESS) c.results.push_back(static_cast<uint64_t>(status));
  return st;
}

CUresult Worker::op_graph_create(Ctx& c) {
  GraphCreateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = nullptr;
  const CUresult st = drv_.cuGraphCreate(&g, static_cast<unsigned>(a.flags));
  if (st == CUDA_SUCCESS) c.results.push_back(graph_id(g));
  return st;
}

CUresult Worker::op_graph_destroy(Ctx& c) {
  GraphDestroyArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  // A child graph belongs to its node (worker_graph_capture.cc).
  if (g != nullptr && graphs_.capturing_into(g)) return CUDA_ERROR_ILLEGAL_STATE;
  if (g == nullptr || graphs_.capturing(g) || graphs_.child_owned(g)) return CUDA_ERROR_INVALID_VALUE;
  for (const auto& [node, bodies] : cond_bodies_) {  // a conditional node's body is the node's
    for (uint64_t id : bodies) {
      if (id == a.graph) return CUDA_ERROR_INVALID_VALUE;
    }
  }
  // Its nodes' ids go with it, and so do those of the graphs its child-graph nodes own.
  std::vector<CUgraphNode> nodes;
  std::vector<CUgraph> owned;
  owned_graph_objects(g, nodes, owned);
  const CUresult st = drv_.cuGraphDestroy(g);
  if (st != CUDA_SUCCESS) return st;
  graphs_.erase_graph(a.graph, {});
  forget_graph_objects(nodes, owned);
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_list(Ctx& c) {
  GraphListArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t which = a.what, want = std::min<uint64_t>(a.max_ids, kMaxListed);
  size_t n = 0;
  std::vector<CUgraphNode> from, to;
  CUresult st = CUDA_SUCCESS;
  if (which == 2) {
    st = drv_.cuGraphGetEdges_v2(g, nullptr, nullptr, nullptr, &n);
    if (st != CUDA_SUCCESS) return st;
    from.resize(n);
    to.resize(n);
    if (n > 0) st = drv_.cuGraphGetEdges_v2(g, from.data(), to.data(), nullptr, &n);
  } else if (which <= 1) {
    auto get = which == 0 ? drv_.cuGraphGetNodes : drv_.cuGraphGetRootNodes;
    st = get(g, nullptr, &n);
    if (st != CUDA_SUCCESS) return st;
    from.resize(n);
    if (n > 0) st = get(g, from.data(), &n);
  } else {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (st != CUDA_SUCCESS) return st;
  c.results.push_back(n);
  for (size_t i = 0; i < n && i < want; ++i) c.results.push_back(node_id(from[i]));
  if (which == 2) {
    for (size_t i = 0; i < n && i < want; ++i) c.results.push_back(node_id(to[i]));
  }
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_node_type(Ctx& c) {
  GraphNodeGetTypeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
  const CUresult st = drv_.cuGraphNodeGetType(n, &t);
  if (st == CUDA_SUCCESS) c.results.push_back(static_cast<uint64_t>(t));
  return st;
}

CUresult Worker::op_graph_instantiate(Ctx& c) {
  GraphInstantiateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // Host nodes cannot run here (see the header); memory nodes are remembered for the launches.
  size_t n = 0;
  std::vector<CUgraphNode> nodes;
  if (CUresult st = drv_.cuGraphGetNodes(g, nullptr, &n); st != CUDA_SUCCESS) return st;
  nodes.resize(n);
  if (n > 0) {
    if (CUresult st = drv_.cuGraphGetNodes(g, nodes.data(), &n); st != CUDA_SUCCESS) return st;
  }
  for (CUgraphNode node : nodes) {
    CUgraphNodeType t = CU_GRAPH_NODE_TYPE_EMPTY;
    if (drv_.cuGraphNodeGetType(node, &t) != CUDA_SUCCESS) continue;
    if (t == CU_GRAPH_NODE_TYPE_HOST && host_node_ours(node)) continue;  // worker_hostfn.cc
    if (t == CU_GRAPH_NODE_TYPE_HOST) {
      logger().warn("session {}: a graph with host nodes the session did not add cannot run through "
                    "the pool; returning CUDA_ERROR_NOT_SUPPORTED", params_.session_id);
      return CUDA_ERROR_NOT_SUPPORTED;
    }
  }
  // Host copy nodes: the exec is made from a clone with their markers (worker_graph_host_copy.cc).
  HostCopyExec copies;
  CUgraph clone = nullptr;
  if (CUresult st = host_copy_clone(g, copies, clone); st != CUDA_SUCCESS) return st;
  CUgraphExec e = nullptr;
  const CUresult st = drv_.cuGraphInstantiateWithFlags(&e, clone != nullptr ? clone : g, a.flags);
  if (st != CUDA_SUCCESS) {
    if (clone != nullptr) drv_.cuGraphDestroy(clone);
    host_copy_retire(std::move(copies.staging), {});  // its markers never ran
    return st;
  }
  const uint64_t id = graphs_.add_exec(e);
  if (clone != nullptr) {
    copies.clone = clone;
    host_copies().execs.emplace(id, std::move(copies));
  }
  graph_mem_instantiated(id, nodes, a.flags);
  c.results.push_back(id);
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_exec_destroy(Ctx& c) {
  GraphExecDestroyArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExec e = graphs_.exec(a.exec);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  settle_turn();
  const CUresult st = drv_.cuGraphExecDestroy(e);
  graph_exec_mem_.erase(a.exec);  // its live allocations stay in the allocation table until freed
  host_copy_exec_destroyed(a.exec);
  graphs_.erase_exec(a.exec);
  return st;
}

CUresult Worker::op_graph_launch(Ctx& c, bool upload) {
  GraphLaunchArgs a;  // GraphUpload: the same layout
  GraphUploadArgs ua;
  if (upload ? !decode_args(c, ua) : !decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t exec_id = upload ? ua.exec : a.exec;
  CUgraphExec e = graph_exec_of(exec_id);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  const size_t device = device_of(stream);
  DeviceScope scope(*this, device);
  if (scope.status != CUDA_SUCCESS) return scope.status;
  if (upload) return drv_.cuGraphUpload(e, stream);
  // Graph memory the launch allocates is charged first (worker_graph_mem.cc); a launch into a
  // capture allocates nothing.
  std::vector<CUdeviceptr> charged;
  const bool has_mem = graph_exec_mem_.count(exec_id) != 0 && !stream_capturing(stream);
  if (has_mem) {
    if (CUresult st = graph_mem_before_launch(exec_id, charged); st != CUDA_SUCCESS) return st;
  }
  CUresult launched = CUDA_SUCCESS;
  const CUresult st = graph_launch_metered(c, e, stream, device, launched);
  // Its host copy markers may run until that device is synchronised (worker_graph_host_copy.cc).
  host_copy_launched(exec_id, devices_.empty() ? 0 : devices_[device].physical);
  if (has_mem) graph_mem_after_launch(exec_id, charged, launched == CUDA_SUCCESS);
  if (launched == CUDA_SUCCESS && !stream_capturing(stream)) hostfn_graph_tail(stream);
  return st;
}

// The launch itself, metered like a kernel launch when the server meters; `launched` is the
// driver's answer to cuGraphLaunch (the result may also carry the metered turn's error).
CUresult Worker::graph_launch_metered(Ctx& c, CUgraphExec e, CUstream stream, size_t device, CUresult& launched) {
  CUstreamCaptureStatus capturing = CU_STREAM_CAPTURE_STATUS_NONE;
  const int physical = devices_.empty() ? 0 : devices_[device].physical;
  if (meter_.holding() && meter_.device() != static_cast<size_t>(physical)) settle_turn();
  if (!meter_.enabled() || drv_.cuStreamIsCapturing(stream, &capturing) != CUDA_SUCCESS ||
      capturing != CU_STREAM_CAPTURE_STATUS_NONE || !meter_.begin(static_cast<size_t>(physical), stream)) {
    return launched = drv_.cuGraphLaunch(e, stream);
  }
  // Metered like a kernel launch (op_launch): the whole graph is one launch of the turn.
  turn_seq_ = c.call->seq();
  CUresult st = launched = drv_.cuGraphLaunch(e, stream);
  const CUresult done = meter_.end(stream, st);
  if (st == CUDA_SUCCESS) st = done;
  return st;
}

CUresult Worker::op_graph_exec_update(Ctx& c) {
  GraphExecUpdateArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExec e = graph_exec_of(a.exec);
  CUgraph g = graph_of(a.graph);
  if (e == nullptr || g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // A graph with host copy nodes updates the exec through a clone with markers, as it was made.
  HostCopyExec copies;
  CUgraph clone = nullptr;
  if (CUresult st = host_copy_clone(g, copies, clone); st != CUDA_SUCCESS) return st;
  CUgraphExecUpdateResultInfo info{};
  const CUresult st = drv_.cuGraphExecUpdate_v2(e, clone != nullptr ? clone : g, &info);
  if (clone != nullptr) {
    // The clone's nodes have no ids of the session; its error nodes are reported as none.
    info.errorNode = info.errorFromNode = nullptr;
    HostCopies& hc = host_copies();
    auto it = hc.execs.find(a.exec);
    if (st == CUDA_SUCCESS && it == hc.execs.end()) {
      copies.clone = clone;  // the exec's node lookups now go through this clone
      hc.execs.emplace(a.exec, std::move(copies));
    } else {
      // The exec's nodes now use these buffers and markers (kept); the clone itself is not needed.
      if (st == CUDA_SUCCESS) {
        for (auto& b : copies.staging) it->second.staging.push_back(std::move(b));
      } else {
        host_copy_retire(std::move(copies.staging), {});  // the exec never used them
      }
      drv_.cuGraphDestroy(clone);
    }
  }
  c.results = {static_cast<uint64_t>(info.result), info.errorNode ? node_id(info.errorNode) : 0,
               info.errorFromNode ? node_id(info.errorFromNode) : 0};
  return st;
}

}  // namespace gpool::server

namespace gpool::server {

// A copy between client memory and the device cannot be a graph node: when the graph runs, the
// client's memory is not here. Such a copy on a capturing stream is refused, and the capture is
// invalidated as the driver does for an unsupported operation (a synchronisation of the
// capturing stream is exactly that).
CUresult Worker::refuse_host_copy_in_capture(CUstream stream) {
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  if (drv_.cuStreamIsCapturing(stream, &status) != CUDA_SUCCESS || status == CU_STREAM_CAPTURE_STATUS_NONE) {
    return CUDA_SUCCESS;
  }
  logger().warn("session {}: a copy between client memory and the device in a stream capture cannot be a graph "
                "node through the pool; returning CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", params_.session_id);
  drv_.cuStreamSynchronize(stream);  // invalidates the capture
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

}  // namespace gpool::server

namespace gpool::server {

namespace {

// The dependency ids at args[first..first+n) as this graph's nodes. False for an id that is
// not a node of this session (logged by graph_node_of).
bool node_list(const std::function<CUgraphNode(uint64_t)>& of, const std::vector<uint64_t>& ids,
               std::vector<CUgraphNode>& out) {
  for (uint64_t id : ids) {
    CUgraphNode n = of(id);
    if (n == nullptr) return false;
    out.push_back(n);
  }
  return true;
}

}  // namespace

// The kernel parameters of a GraphAddNode / GraphSetKernelParams call: function handle 0,
// `dims` = [gx, gy, gz, bx, by, bz, shared_bytes], `params` the packed parameter buffer (the row's
// inline data, as LaunchKernel's), which must be the function's size.
CUresult Worker::graph_kernel_params(Ctx& c, const std::array<uint64_t, 7>& dims, std::span<const std::byte> params,
                                     std::vector<uint64_t>& storage, std::vector<void*>& argv,
                                     CUDA_KERNEL_NODE_PARAMS& p) {
  Function* f = function_of(c, 0);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const size_t have = params.size();
  if (have != f->param_bytes) return CUDA_ERROR_INVALID_VALUE;
  storage.assign((have + 7) / 8 + 1, 0);
  if (have != 0) std::memcpy(storage.data(), params.data(), have);
  argv.resize(f->offsets.size());
  for (size_t i = 0; i < argv.size(); ++i) argv[i] = reinterpret_cast<char*>(storage.data()) + f->offsets[i];
  p = CUDA_KERNEL_NODE_PARAMS{};
  p.func = f->fn;
  auto u = [&](size_t i) { return static_cast<unsigned>(dims[i]); };
  p.gridDimX = u(0);
  p.gridDimY = u(1);
  p.gridDimZ = u(2);
  p.blockDimX = u(3);
  p.blockDimY = u(4);
  p.blockDimZ = u(5);
  p.sharedMemBytes = u(6);
  p.kernelParams = argv.data();
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_add_node(Ctx& c) {
  GraphAddNodeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t kind = a.kind;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode node = nullptr;  // the decoder checked the kind's fields (calls.toml variants.params)
  CUresult st = CUDA_ERROR_INVALID_VALUE;
  switch (kind) {
    case 0: {  // kernel
      std::vector<uint64_t> storage;
      std::vector<void*> argv;
      CUDA_KERNEL_NODE_PARAMS p{};
      const auto& k = a.kernel;
      if (CUresult r = graph_kernel_params(c, {k.gx, k.gy, k.gz, k.bx, k.by, k.bz, k.shared_bytes}, k.params, storage,
                                           argv, p);
          r != CUDA_SUCCESS) {
        return r;
      }
      st = drv_.cuGraphAddKernelNode_v2(&node, g, deps.data(), deps.size(), &p);
      break;
    }
    case 1: {  // memset
      CUDA_MEMSET_NODE_PARAMS p{};
      p.dst = a.memset.dst;
      p.pitch = a.memset.pitch;
      p.value = static_cast<unsigned>(a.memset.value);
      p.elementSize = static_cast<unsigned>(a.memset.element_size);
      p.width = a.memset.width;
      p.height = a.memset.height;
      if (!memset_node_ok(p)) return CUDA_ERROR_INVALID_VALUE;
      st = drv_.cuGraphAddMemsetNode(&node, g, deps.data(), deps.size(), &p, ctx_);
      break;
    }
    case 2:  // empty
      st = drv_.cuGraphAddEmptyNode(&node, g, deps.data(), deps.size());
      break;
    case 3: {  // child graph
      CUgraph child = graph_of(a.child.id);
      if (child == nullptr) return CUDA_ERROR_INVALID_VALUE;
      // Host copy nodes run in child graphs (worker_graph_host_copy.cc), not in conditional bodies.
      if (graph_has_host_copies(child, 0) && host_copy_body_refused(g)) return CUDA_ERROR_NOT_SUPPORTED;
      st = drv_.cuGraphAddChildGraphNode(&node, g, deps.data(), deps.size(), child);
      break;
    }
    case 4: {  // device-to-device copy
      const CUdeviceptr dst = a.copy.dst, src = a.copy.src;
      const uint64_t bytes = a.copy.bytes;
      if (!range_ok(dst, bytes) || !range_ok(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
      CUDA_MEMCPY3D p{};
      p.srcMemoryType = p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
      p.srcDevice = src;
      p.dstDevice = dst;
      p.WidthInBytes = bytes;
      p.Height = p.Depth = 1;
      st = drv_.cuGraphAddMemcpyNode(&node, g, deps.data(), deps.size(), &p, ctx_);
      break;
    }
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  if (st == CUDA_SUCCESS) c.results.push_back(node_id(node));
  return st;
}

CUresult Worker::op_graph_set_kernel(Ctx& c) {
  GraphSetKernelParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const bool on_exec = a.on_exec != 0;
  CUgraphExec e = on_exec ? graph_exec_of(a.exec) : nullptr;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr || (on_exec && e == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (on_exec) n = exec_node(a.exec, n);
  std::vector<uint64_t> storage;
  std::vector<void*> argv;
  CUDA_KERNEL_NODE_PARAMS p{};
  if (CUresult r = graph_kernel_params(c, {a.gx, a.gy, a.gz, a.bx, a.by, a.bz, a.shared_bytes}, a.params, storage,
                                       argv, p);
      r != CUDA_SUCCESS) {
    return r;
  }
  return on_exec ? drv_.cuGraphExecKernelNodeSetParams_v2(e, n, &p) : drv_.cuGraphKernelNodeSetParams_v2(n, &p);
}

CUresult Worker::op_graph_edges(Ctx& c) {
  GraphEdgesArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  const bool add = a.add != 0;
  const uint64_t n = a.n;
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const std::vector<uint64_t> from_ids(a.from.begin(), a.from.end()), to_ids(a.to.begin(), a.to.end());
  std::vector<CUgraphNode> from, to;
  auto of = [this](uint64_t id) { return graph_node_of(id); };
  if (!node_list(of, from_ids, from) || !node_list(of, to_ids, to)) return CUDA_ERROR_INVALID_VALUE;
  return add ? drv_.cuGraphAddDependencies_v2(g, from.data(), to.data(), nullptr, n)
             : drv_.cuGraphRemoveDependencies_v2(g, from.data(), to.data(), nullptr, n);
}

}  // namespace gpool::server
