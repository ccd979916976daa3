// Worker: graph copy nodes with a host side (worker_graph_host_copy.h).
#include "worker_graph_host_copy.h"

#include "gpool/common/log.h"
#include "worker.h"
#include "worker_hostfn.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

std::vector<CUgraphNode> neighbours(const Driver& drv, CUgraphNode n, bool dependents) {
  size_t count = 0;
  auto get = dependents ? drv.cuGraphNodeGetDependentNodes_v2 : drv.cuGraphNodeGetDependencies_v2;
  std::vector<CUgraphNode> out;
  if (get(n, nullptr, nullptr, &count) != CUDA_SUCCESS) return out;
  out.resize(count);
  if (count > 0 && get(n, out.data(), nullptr, &count) != CUDA_SUCCESS) out.clear();
  out.resize(count);
  return out;
}

}  // namespace

HostCopies& Worker::host_copies() {
  if (host_copies_ == nullptr) host_copies_ = std::make_unique<HostCopies>();
  return *host_copies_;
}

// A tag buffer for a new node, or nullptr (logged) over the limits.
const HostCopyTag* Worker::host_copy_tag(uint64_t client_id, bool to_device, CUdeviceptr device, uint64_t bytes,
                                         CUresult& st) {
  HostCopies& hc = host_copies();
  st = CUDA_ERROR_INVALID_VALUE;
  if (client_id == 0 || bytes == 0 || !range_ok(device, bytes)) {
    logger().warn("session {}: a graph copy node with a host side names {} bytes at {:#x}, not the session's "
                  "memory (or id 0): refused", params_.session_id, bytes, device);
    return nullptr;
  }
  if (bytes > HostCopies::kMaxBytes || hc.total + bytes > HostCopies::kMaxTotal) {
    logger().warn("session {}: a graph copy node with a host side of {} bytes is over the pool's limit ({} bytes a "
                  "node, {} a session): CUDA_ERROR_NOT_SUPPORTED", params_.session_id, bytes,
                  HostCopies::kMaxBytes, HostCopies::kMaxTotal);
    st = CUDA_ERROR_NOT_SUPPORTED;
    return nullptr;
  }
  HostCopyTag t;
  t.to_device = to_device;
  t.client_id = client_id;
  t.bytes = bytes;
  t.tag = std::make_unique<std::byte[]>(bytes);
  const std::byte* key = t.tag.get();
  hc.total += bytes;
  st = CUDA_SUCCESS;
  return &hc.tags.emplace(key, std::move(t)).first->second;
}

CUresult Worker::op_capture_host_copy(Ctx& c) {
  CaptureHostCopyArgs a;
  if (!decode_args(c, a) || a.direction > 1) return CUDA_ERROR_INVALID_VALUE;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  DeviceScope scope(*this, device_of(stream));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
  CUgraph graph = nullptr;
  if (drv_.cuStreamGetCaptureInfo_v3(stream, &status, nullptr, &graph, nullptr, nullptr, nullptr) != CUDA_SUCCESS ||
      status != CU_STREAM_CAPTURE_STATUS_ACTIVE) {
    c.results = {0};  // not capturing: the client sends the ordinary copy
    return CUDA_SUCCESS;
  }
  if (graph != nullptr && graphs_.child_owned(graph)) {
    logger().warn("session {}: a host copy captured into a child or conditional body graph is not supported "
                  "through the pool", params_.session_id);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  CUresult st = CUDA_SUCCESS;
  const bool to_device = a.direction == 0;
  const HostCopyTag* t = host_copy_tag(a.host_fn, to_device, a.device, a.bytes, st);
  if (t == nullptr) return st;
  st = to_device ? drv_.cuMemcpyHtoDAsync_v2(a.device, t->tag.get(), a.bytes, stream)
                 : drv_.cuMemcpyDtoHAsync_v2(t->tag.get(), a.device, a.bytes, stream);
  if (st != CUDA_SUCCESS) return st;
  (void)hostfn_hub();  // the client's answers are read from now on
  c.results = {1};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_add_host_copy_node(Ctx& c) {
  GraphAddHostCopyNodeArgs a;
  if (!decode_args(c, a) || a.direction > 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (graphs_.child_owned(g)) return CUDA_ERROR_NOT_SUPPORTED;  // see op_capture_host_copy
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  CUresult st = CUDA_SUCCESS;
  const bool to_device = a.direction == 0;
  const HostCopyTag* t = host_copy_tag(a.host_fn, to_device, a.device, a.bytes, st);
  if (t == nullptr) return st;
  CUDA_MEMCPY3D p{};
  if (to_device) {
    p.srcMemoryType = CU_MEMORYTYPE_HOST;
    p.srcHost = t->tag.get();
    p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    p.dstDevice = a.device;
  } else {
    p.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    p.srcDevice = a.device;
    p.dstMemoryType = CU_MEMORYTYPE_HOST;
    p.dstHost = t->tag.get();
  }
  p.WidthInBytes = a.bytes;
  p.Height = p.Depth = 1;
  CUgraphNode node = nullptr;
  st = drv_.cuGraphAddMemcpyNode(&node, g, deps.data(), deps.size(), &p, ctx_);
  if (st != CUDA_SUCCESS) return st;
  (void)hostfn_hub();
  c.results = {node_id(node)};
  return CUDA_SUCCESS;
}

// The tag of a memcpy node, or nullptr when it is not a host copy node of this session.
const HostCopyTag* Worker::host_copy_of(CUgraphNode n) {
  if (host_copies_ == nullptr) return nullptr;
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  if (drv_.cuGraphNodeGetType(n, &type) != CUDA_SUCCESS || type != CU_GRAPH_NODE_TYPE_MEMCPY) return nullptr;
  CUDA_MEMCPY3D p{};
  if (drv_.cuGraphMemcpyNodeGetParams(n, &p) != CUDA_SUCCESS) return nullptr;
  const void* hosts[] = {p.srcHost, p.dstHost};
  for (const void* host : hosts) {
    auto it = host_copies_->tags.find(static_cast<const std::byte*>(host));
    if (host != nullptr && it != host_copies_->tags.end()) return &it->second;
  }
  return nullptr;
}

// True when `g` (or a child graph in it) has host copy nodes; `nested`: one is inside a child.
bool Worker::graph_has_host_copies(CUgraph g, bool& nested, int depth) {
  if (host_copies_ == nullptr || depth > 16) return false;
  size_t n = 0;
  if (drv_.cuGraphGetNodes(g, nullptr, &n) != CUDA_SUCCESS) return false;
  std::vector<CUgraphNode> nodes(n);
  if (n > 0 && drv_.cuGraphGetNodes(g, nodes.data(), &n) != CUDA_SUCCESS) return false;
  bool any = false;
  for (CUgraphNode node : nodes) {
    CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
    if (drv_.cuGraphNodeGetType(node, &type) != CUDA_SUCCESS) continue;
    if (type == CU_GRAPH_NODE_TYPE_GRAPH) {
      CUgraph child = nullptr;
      bool inner = false;
      if (drv_.cuGraphChildGraphNodeGetGraph(node, &child) == CUDA_SUCCESS &&
          graph_has_host_copies(child, inner, depth + 1)) {
        nested = true;
        any = true;
      }
    } else if (host_copy_of(node) != nullptr) {
      any = true;
      if (depth > 0) nested = true;
    }
  }
  return any;
}

// A clone of `g` to instantiate: each host copy node copies to or from a new staging buffer
// (kept in `out`) and gets its marker. `out.clone` is left null when `g` has no host copies.
CUresult Worker::host_copy_clone(CUgraph g, HostCopyExec& out, CUgraph& clone) {
  clone = nullptr;
  bool nested = false;
  if (!graph_has_host_copies(g, nested, 0)) return CUDA_SUCCESS;
  if (nested) {
    logger().warn("session {}: a child graph with host copy nodes cannot run through the pool; "
                  "returning CUDA_ERROR_NOT_SUPPORTED", params_.session_id);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  HostCopies& hc = host_copies();
  if (CUresult st = drv_.cuGraphClone(&clone, g); st != CUDA_SUCCESS) return st;
  size_t n = 0;
  CUresult st = drv_.cuGraphGetNodes(g, nullptr, &n);
  std::vector<CUgraphNode> nodes(n);
  if (st == CUDA_SUCCESS && n > 0) st = drv_.cuGraphGetNodes(g, nodes.data(), &n);
  HostFnHub& hub = hostfn_hub();
  for (size_t i = 0; st == CUDA_SUCCESS && i < nodes.size(); ++i) {
    const HostCopyTag* t = host_copy_of(nodes[i]);
    if (t == nullptr) continue;
    if (hc.total + t->bytes > HostCopies::kMaxTotal) {
      st = CUDA_ERROR_OUT_OF_MEMORY;
      break;
    }
    CUgraphNode cn = nullptr;
    if (st = drv_.cuGraphNodeFindInClone(&cn, nodes[i], clone); st != CUDA_SUCCESS) break;
    auto buf = std::make_unique<std::byte[]>(t->bytes);
    CUDA_MEMCPY3D p{};
    if (st = drv_.cuGraphMemcpyNodeGetParams(cn, &p); st != CUDA_SUCCESS) break;
    if (t->to_device) {
      p.srcHost = buf.get();
    } else {
      p.dstHost = buf.get();
    }
    if (st = drv_.cuGraphMemcpyNodeSetParams(cn, &p); st != CUDA_SUCCESS) break;
    HostFnHub::Reg* r = hub.add_copy(t->client_id, t->to_device ? HostFnHub::Copy::kPull : HostFnHub::Copy::kPush,
                                     buf.get(), t->bytes);
    if (r == nullptr) {
      st = CUDA_ERROR_INVALID_VALUE;
      break;
    }
    hc.total += t->bytes;
    out.staging.push_back(std::move(buf));
    const CUDA_HOST_NODE_PARAMS hp{&HostFnHub::marker, r};
    CUgraphNode marker = nullptr;
    if (t->to_device) {  // deps -> marker -> copy
      const std::vector<CUgraphNode> deps = neighbours(drv_, cn, false);
      if (st = drv_.cuGraphAddHostNode(&marker, clone, deps.data(), deps.size(), &hp); st != CUDA_SUCCESS) break;
      const std::vector<CUgraphNode> to(deps.size(), cn);
      if (!deps.empty()) st = drv_.cuGraphRemoveDependencies_v2(clone, deps.data(), to.data(), nullptr, deps.size());
      if (st == CUDA_SUCCESS) st = drv_.cuGraphAddDependencies_v2(clone, &marker, &cn, nullptr, 1);
    } else {  // copy -> marker -> dependents
      const std::vector<CUgraphNode> outs = neighbours(drv_, cn, true);
      if (st = drv_.cuGraphAddHostNode(&marker, clone, &cn, 1, &hp); st != CUDA_SUCCESS) break;
      if (!outs.empty()) {
        const std::vector<CUgraphNode> from(outs.size(), cn), mfrom(outs.size(), marker);
        st = drv_.cuGraphRemoveDependencies_v2(clone, from.data(), outs.data(), nullptr, outs.size());
        if (st == CUDA_SUCCESS) st = drv_.cuGraphAddDependencies_v2(clone, mfrom.data(), outs.data(), nullptr, outs.size());
      }
    }
  }
  if (st != CUDA_SUCCESS) {
    drv_.cuGraphDestroy(clone);
    clone = nullptr;
  }
  return st;
}

// The exec's own node for a node of the graph it was instantiated from.
CUgraphNode Worker::exec_node(uint64_t exec_id, CUgraphNode n) {
  if (host_copies_ == nullptr || n == nullptr) return n;
  auto it = host_copies_->execs.find(exec_id);
  if (it == host_copies_->execs.end()) return n;
  CUgraphNode cn = nullptr;
  return drv_.cuGraphNodeFindInClone(&cn, n, it->second.clone) == CUDA_SUCCESS ? cn : n;
}

void Worker::host_copy_exec_destroyed(uint64_t exec_id) {
  if (host_copies_ == nullptr) return;
  auto it = host_copies_->execs.find(exec_id);
  if (it == host_copies_->execs.end()) return;
  drv_.cuGraphDestroy(it->second.clone);
  for (auto& b : it->second.staging) host_copies_->retired.push_back(std::move(b));
  host_copies_->execs.erase(it);
}

}  // namespace gpool::server
