// Worker: graph copy nodes with a host side (worker_graph_host_copy.h).
#include "worker_graph_host_copy.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "gpool/common/log.h"
#include "gpool/protocol/limits.h"
#include "worker.h"
#include "worker_hostfn.h"

namespace gpool::server {
namespace {

using remote::Op;

spdlog::logger& logger() { return log::logger("worker"); }

constexpr size_t kPart = protocol::kMaxInlineBytes;  // one note's inline data

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

std::vector<CUgraphNode> graph_nodes(const Driver& drv, CUgraph g) {
  size_t n = 0;
  std::vector<CUgraphNode> nodes;
  if (drv.cuGraphGetNodes(g, nullptr, &n) != CUDA_SUCCESS) return nodes;
  nodes.resize(n);
  if (n > 0 && drv.cuGraphGetNodes(g, nodes.data(), &n) != CUDA_SUCCESS) n = 0;
  nodes.resize(n);
  return nodes;
}

// True when `test(node, type, depth)` holds for a node of `g` (at `depth`) or of a child graph
// in it (at depth + 1, and so on), at most 16 levels down. Child graph nodes are walked into, not
// tested; a node whose type cannot be read is skipped.
template <typename Test>
bool any_node(const Driver& drv, CUgraph g, int depth, const Test& test) {
  if (depth > 16) return false;
  for (CUgraphNode node : graph_nodes(drv, g)) {
    CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
    if (drv.cuGraphNodeGetType(node, &type) != CUDA_SUCCESS) continue;
    if (type == CU_GRAPH_NODE_TYPE_GRAPH) {
      CUgraph child = nullptr;
      if (drv.cuGraphChildGraphNodeGetGraph(node, &child) == CUDA_SUCCESS && any_node(drv, child, depth + 1, test)) {
        return true;
      }
    } else if (test(node, type, depth)) {
      return true;
    }
  }
  return false;
}

}  // namespace

void HostCopyTag::Free::operator()(std::byte* p) const { std::free(p); }

CUDA_MEMCPY3D HostCopyShape::params(void* host) const {
  CUDA_MEMCPY3D p{};
  CUmemorytype* host_type = to_device ? &p.srcMemoryType : &p.dstMemoryType;
  *host_type = CU_MEMORYTYPE_HOST;
  if (to_device) {
    p.srcHost = host;
    p.srcPitch = rows > 1 || depth > 1 ? width : 0;
    p.srcHeight = depth > 1 ? rows : 0;
    p.dstMemoryType = dev_type;
    p.dstDevice = dev;
    p.dstArray = array;
    p.dstXInBytes = x;
    p.dstY = y;
    p.dstZ = z;
    p.dstPitch = pitch;
    p.dstHeight = height;
  } else {
    p.dstHost = host;
    p.dstPitch = rows > 1 || depth > 1 ? width : 0;
    p.dstHeight = depth > 1 ? rows : 0;
    p.srcMemoryType = dev_type;
    p.srcDevice = dev;
    p.srcArray = array;
    p.srcXInBytes = x;
    p.srcY = y;
    p.srcZ = z;
    p.srcPitch = pitch;
    p.srcHeight = height;
  }
  p.WidthInBytes = width;
  p.Height = rows;
  p.Depth = depth;
  return p;
}

bool send_host_fn_ready(transport::Connection& out, uint64_t id, uint64_t firing, bool last, CUresult status,
                        std::span<const std::byte> data) {
  size_t off = 0;
  while (data.size() - off > kPart) {  // every part but the last
    flatbuffers::FlatBufferBuilder fbb;
    const uint64_t args[] = {id, firing, off};
    remote::build_call(fbb, 0, 0, Op::HostCopyPartToClient, true, args, {}, data.subspan(off, kPart), 0);
    if (!out.send(protocol::finished_bytes(fbb)).ok()) return false;
    off += kPart;
  }
  flatbuffers::FlatBufferBuilder fbb;
  const uint64_t args[] = {id, firing, last ? 1u : 0u, static_cast<uint64_t>(static_cast<uint32_t>(status))};
  remote::build_call(fbb, 0, 0, Op::HostFnReady, true, args, {}, data.subspan(off), 0);
  return out.send(protocol::finished_bytes(fbb)).ok();
}

// ---- HostFnHub: a host-to-device node's bytes in parts ----

bool HostFnHub::part(uint64_t firing, uint64_t offset, std::span<const std::byte> data) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = gates_.find(firing);
  if (it == gates_.end() || it->second.open) return false;
  Gate& g = it->second;
  // In order, never past what the firing waits for, and never the last part (HostFnDone's).
  if (offset != g.data.size() || data.empty() || g.data.size() + data.size() >= g.want) return false;
  g.data.insert(g.data.end(), data.begin(), data.end());
  return true;
}

void Worker::host_copy_part(HostFnHub& hub, std::atomic<int32_t>& refused, uint64_t session,
                            const protocol::wire::Call* call) {
  Ctx c;
  c.call = call;
  HostCopyPartToServerArgs a;
  std::span<const std::byte> data;
  if (const auto* d = call->inline_data(); d != nullptr) {
    data = {reinterpret_cast<const std::byte*>(d->data()), d->size()};
  }
  if (!decode_args(c, a) || !hub.part(a.firing, a.offset, data)) {
    logger().warn("session {}: a host copy part for firing {} at offset {} ({} bytes) that the firing does not "
                  "wait for: refused", session, a.firing, a.offset, data.size());
    int32_t none = 0;
    refused.compare_exchange_strong(none, CUDA_ERROR_INVALID_VALUE);
  }
}

CUresult Worker::op_host_copy_part(Ctx& c) {
  // Before any host function was registered (no side thread): only a forged firing can come here.
  host_copy_part(hostfn_hub(), hostfn_refused_, params_.session_id, c.call);
  return CUDA_SUCCESS;
}

// ---- nodes ----

HostCopies& Worker::host_copies() {
  if (host_copies_ == nullptr) host_copies_ = std::make_unique<HostCopies>();
  return *host_copies_;
}

// Decodes a device side [type, address or array id, x, y, z, pitch, height] and the copy's
// [width, height, depth] into `s`, checking it is the session's. Errors as the driver's.
CUresult Worker::host_copy_shape(bool to_device, std::span<const uint64_t> side, uint64_t width, uint64_t rows,
                                 uint64_t depth, HostCopyShape& s) {
  s = HostCopyShape{};
  s.to_device = to_device;
  s.x = side[2];
  s.y = side[3];
  s.z = side[4];
  s.pitch = side[5];
  s.height = side[6];
  s.width = width;
  s.rows = rows == 0 ? 1 : rows;
  s.depth = depth == 0 ? 1 : depth;
  using u128 = unsigned __int128;
  if (width == 0 || u128{width} * s.rows * s.depth > (u128{1} << 40)) return CUDA_ERROR_INVALID_VALUE;
  if (side[0] == CU_MEMORYTYPE_ARRAY) {
    const ArrayTable::Array* a = arrays_.find_array(side[1]);
    if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    s.dev_type = CU_MEMORYTYPE_ARRAY;
    s.array = a->arr;  // the driver checks the array's bounds when the node is made
    return CUDA_SUCCESS;
  }
  if (side[0] != CU_MEMORYTYPE_DEVICE && side[0] != CU_MEMORYTYPE_UNIFIED) return CUDA_ERROR_INVALID_VALUE;
  s.dev = side[1];
  // The whole strided extent inside one allocation of this session (128 bits: client numbers
  // must not wrap it into a small one).
  const bool flat = s.rows == 1 && s.depth == 1;
  if (!flat && s.pitch < s.width) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t h = s.height != 0 ? s.height : s.rows;
  if (s.depth > 1 && s.height < s.rows) return CUDA_ERROR_INVALID_VALUE;  // the driver's rule
  const u128 first = (u128{s.z} * h + s.y) * s.pitch + s.x;
  const u128 extent = flat ? first + s.width : ((u128{s.z} + s.depth - 1) * h + s.y + s.rows - 1) * s.pitch + s.x + s.width;
  if (extent > (u128{1} << 48) || !range_ok(s.dev, static_cast<uint64_t>(extent))) {
    logger().warn("session {}: a graph copy node with a host side names {} bytes at {:#x}, not the session's memory: "
                  "refused", params_.session_id, static_cast<uint64_t>(extent), s.dev);
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

// A tag buffer for a new node, or nullptr (logged) over the limits.
const HostCopyTag* Worker::host_copy_tag(uint64_t client_id, const HostCopyShape& shape, CUresult& st) {
  HostCopies& hc = host_copies();
  st = CUDA_ERROR_INVALID_VALUE;
  if (client_id == 0) return nullptr;
  const uint64_t bytes = shape.bytes();
  if (hc.total + bytes > HostCopies::kMaxTotal) {
    logger().warn("session {}: a graph copy node with a host side of {} bytes is over the pool's limit ({} bytes of "
                  "host copy nodes and their staging a session, {} in use): CUDA_ERROR_OUT_OF_MEMORY",
                  params_.session_id, bytes, HostCopies::kMaxTotal, hc.total);
    st = CUDA_ERROR_OUT_OF_MEMORY;
    return nullptr;
  }
  HostCopyTag t;
  t.shape = shape;
  t.client_id = client_id;
  t.tag.reset(static_cast<std::byte*>(std::calloc(bytes, 1)));
  if (t.tag == nullptr) {
    st = CUDA_ERROR_OUT_OF_MEMORY;
    return nullptr;
  }
  const std::byte* key = t.tag.get();
  hc.total += bytes;
  st = CUDA_SUCCESS;
  return &hc.tags.emplace(key, std::move(t)).first->second;
}

void Worker::host_copy_tag_drop(const HostCopyTag* t) {
  HostCopies& hc = host_copies();
  hc.total -= t->bytes();
  hc.tags.erase(t->tag.get());
}

// Records the copy in the stream's capture: results [1], or [0] when the stream is not capturing.
CUresult Worker::capture_host_copy(Ctx& c, uint64_t client_id, const HostCopyShape& shape) {
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
  if (graph != nullptr && host_copy_body_refused(graph)) return CUDA_ERROR_NOT_SUPPORTED;
  CUresult st = CUDA_SUCCESS;
  const HostCopyTag* t = host_copy_tag(client_id, shape, st);
  if (t == nullptr) return st;
  const CUDA_MEMCPY3D p = shape.params(t->tag.get());
  st = drv_.cuMemcpy3DAsync_v2(&p, stream);
  if (st != CUDA_SUCCESS) {
    host_copy_tag_drop(t);
    return st;
  }
  (void)hostfn_hub();  // the client's answers are read from now on
  c.results = {1};
  return CUDA_SUCCESS;
}

// A conditional body cannot hold the marker host nodes (the driver allows no host nodes there).
bool Worker::host_copy_body_refused(CUgraph g) {
  for (const auto& [node, bodies] : cond_bodies_) {
    for (uint64_t id : bodies) {
      if (graphs_.graph(id) == g) {
        logger().warn("session {}: a copy node with a host side in a conditional body cannot run through the pool "
                      "(its marker would be a host node, which bodies cannot hold): CUDA_ERROR_NOT_SUPPORTED",
                      params_.session_id);
        return true;
      }
    }
  }
  return false;
}

CUresult Worker::op_capture_host_copy(Ctx& c) {
  CaptureHostCopyArgs a;
  if (!decode_args(c, a) || a.direction > 1) return CUDA_ERROR_INVALID_VALUE;
  HostCopyShape s;
  const uint64_t side[] = {CU_MEMORYTYPE_DEVICE, a.device, 0, 0, 0, 0, 0};
  if (CUresult st = host_copy_shape(a.direction == 0, side, a.bytes, 1, 1, s); st != CUDA_SUCCESS) return st;
  return capture_host_copy(c, a.host_fn, s);
}

CUresult Worker::op_capture_host_copy_3d(Ctx& c) {
  CaptureHostCopy3DArgs a;
  if (!decode_args(c, a) || a.direction > 1) return CUDA_ERROR_INVALID_VALUE;
  HostCopyShape s;
  const uint64_t side[] = {a.dev_type, a.dev_where, a.dev_x, a.dev_y, a.dev_z, a.dev_pitch, a.dev_height};
  if (CUresult st = host_copy_shape(a.direction == 0, side, a.width_bytes, a.height, a.depth, s); st != CUDA_SUCCESS) {
    return st;
  }
  return capture_host_copy(c, a.host_fn, s);
}

CUresult Worker::add_host_copy_node(Ctx& c, uint64_t graph, std::span<const uint64_t> dep_ids, uint64_t client_id,
                                    const HostCopyShape& shape) {
  CUgraph g = graph_of(graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (host_copy_body_refused(g)) return CUDA_ERROR_NOT_SUPPORTED;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(dep_ids, deps)) return CUDA_ERROR_INVALID_VALUE;
  CUresult st = CUDA_SUCCESS;
  const HostCopyTag* t = host_copy_tag(client_id, shape, st);
  if (t == nullptr) return st;
  const CUDA_MEMCPY3D p = shape.params(t->tag.get());
  CUgraphNode node = nullptr;
  st = drv_.cuGraphAddMemcpyNode(&node, g, deps.data(), deps.size(), &p, ctx_);
  if (st != CUDA_SUCCESS) {
    host_copy_tag_drop(t);
    return st;
  }
  (void)hostfn_hub();
  c.results = {node_id(node)};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_add_host_copy_node(Ctx& c) {
  GraphAddHostCopyNodeArgs a;
  if (!decode_args(c, a) || a.direction > 1) return CUDA_ERROR_INVALID_VALUE;
  HostCopyShape s;
  const uint64_t side[] = {CU_MEMORYTYPE_DEVICE, a.device, 0, 0, 0, 0, 0};
  if (CUresult st = host_copy_shape(a.direction == 0, side, a.bytes, 1, 1, s); st != CUDA_SUCCESS) return st;
  return add_host_copy_node(c, a.graph, a.deps, a.host_fn, s);
}

CUresult Worker::op_graph_add_host_copy_node_3d(Ctx& c) {
  GraphAddHostCopyNode3DArgs a;
  if (!decode_args(c, a) || a.direction > 1) return CUDA_ERROR_INVALID_VALUE;
  HostCopyShape s;
  const uint64_t side[] = {a.dev_type, a.dev_where, a.dev_x, a.dev_y, a.dev_z, a.dev_pitch, a.dev_height};
  if (CUresult st = host_copy_shape(a.direction == 0, side, a.width_bytes, a.height, a.depth, s); st != CUDA_SUCCESS) {
    return st;
  }
  return add_host_copy_node(c, a.graph, a.deps, a.host_fn, s);
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

// True when `g` (or a child graph in it) has host copy nodes.
bool Worker::graph_has_host_copies(CUgraph g, int depth) {
  if (host_copies_ == nullptr) return false;
  return any_node(drv_, g, depth,
                  [this](CUgraphNode node, CUgraphNodeType, int) { return host_copy_of(node) != nullptr; });
}

// True when a conditional body in `g` (or in a child graph, at any depth) has host copy nodes.
bool Worker::host_copies_in_bodies(CUgraph g, int depth) {
  if (host_copies_ == nullptr) return false;
  return any_node(drv_, g, depth, [this](CUgraphNode node, CUgraphNodeType type, int d) {
    if (type != CU_GRAPH_NODE_TYPE_CONDITIONAL) return false;
    auto it = cond_bodies_.find(node);
    if (it == cond_bodies_.end()) return false;
    for (uint64_t id : it->second) {
      CUgraph body = graphs_.graph(id);
      if (body != nullptr && (graph_has_host_copies(body, d + 1) || host_copies_in_bodies(body, d + 1))) return true;
    }
    return false;
  });
}

// Gives each host copy node of `g` (a graph of the clone, or a child graph inside it) a new
// staging buffer and its marker; recurses into child graphs. Top-level copy nodes and their
// markers are recorded in `out.markers`.
CUresult Worker::host_copy_rewrite(CUgraph g, HostCopyExec& out, int depth) {
  if (depth > 16) return CUDA_ERROR_NOT_SUPPORTED;
  for (CUgraphNode cn : graph_nodes(drv_, g)) {
    CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
    if (drv_.cuGraphNodeGetType(cn, &type) != CUDA_SUCCESS) continue;
    if (type == CU_GRAPH_NODE_TYPE_GRAPH) {
      CUgraph child = nullptr;
      if (CUresult st = drv_.cuGraphChildGraphNodeGetGraph(cn, &child); st != CUDA_SUCCESS) return st;
      if (CUresult st = host_copy_rewrite(child, out, depth + 1); st != CUDA_SUCCESS) return st;
      continue;
    }
    const HostCopyTag* t = host_copy_of(cn);
    if (t == nullptr) continue;
    CUgraphNode marker = nullptr;
    if (CUresult st = host_copy_stage(g, cn, *t, out, marker); st != CUDA_SUCCESS) return st;
    if (depth == 0) out.markers[cn] = marker;
  }
  return CUDA_SUCCESS;
}

// Node `cn` of graph `g` (a clone's) copies through a new staging buffer; its new marker goes
// before it (host to device) or after it (device to host).
CUresult Worker::host_copy_stage(CUgraph g, CUgraphNode cn, const HostCopyTag& t, HostCopyExec& out,
                                 CUgraphNode& marker) {
  HostCopies& hc = host_copies();
  const uint64_t bytes = t.bytes();
  if (hc.total + bytes > HostCopies::kMaxTotal) {
    logger().warn("session {}: staging for a {}-byte host copy node is over the session's {} bytes: "
                  "CUDA_ERROR_OUT_OF_MEMORY", params_.session_id, bytes, HostCopies::kMaxTotal);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  auto buf = std::make_unique<std::byte[]>(bytes);
  const CUDA_MEMCPY3D p = t.shape.params(buf.get());
  if (CUresult st = drv_.cuGraphMemcpyNodeSetParams(cn, &p); st != CUDA_SUCCESS) return st;
  HostFnHub::Reg* r = hostfn_hub().add_copy(t.client_id, t.to_device() ? HostFnHub::Copy::kPull : HostFnHub::Copy::kPush,
                                            buf.get(), bytes);
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  hc.total += bytes;
  out.staging.push_back({std::move(buf), bytes});
  const CUDA_HOST_NODE_PARAMS hp{&HostFnHub::marker, r};
  CUresult st = CUDA_SUCCESS;
  if (t.to_device()) {  // deps -> marker -> copy
    const std::vector<CUgraphNode> deps = neighbours(drv_, cn, false);
    if (st = drv_.cuGraphAddHostNode(&marker, g, deps.data(), deps.size(), &hp); st != CUDA_SUCCESS) return st;
    const std::vector<CUgraphNode> to(deps.size(), cn);
    if (!deps.empty()) st = drv_.cuGraphRemoveDependencies_v2(g, deps.data(), to.data(), nullptr, deps.size());
    if (st == CUDA_SUCCESS) st = drv_.cuGraphAddDependencies_v2(g, &marker, &cn, nullptr, 1);
  } else {  // copy -> marker -> dependents
    const std::vector<CUgraphNode> outs = neighbours(drv_, cn, true);
    if (st = drv_.cuGraphAddHostNode(&marker, g, &cn, 1, &hp); st != CUDA_SUCCESS) return st;
    if (!outs.empty()) {
      const std::vector<CUgraphNode> from(outs.size(), cn), mfrom(outs.size(), marker);
      st = drv_.cuGraphRemoveDependencies_v2(g, from.data(), outs.data(), nullptr, outs.size());
      if (st == CUDA_SUCCESS) st = drv_.cuGraphAddDependencies_v2(g, mfrom.data(), outs.data(), nullptr, outs.size());
    }
  }
  return st;
}

// A clone of `g` to instantiate: each host copy node copies to or from a new staging buffer
// (kept in `out`) and gets its marker. `clone` is left null when `g` has no host copies.
CUresult Worker::host_copy_clone(CUgraph g, HostCopyExec& out, CUgraph& clone) {
  clone = nullptr;
  if (host_copies_in_bodies(g, 0)) {
    logger().warn("session {}: a conditional body with copy nodes with a host side cannot run through the pool: "
                  "CUDA_ERROR_NOT_SUPPORTED", params_.session_id);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (!graph_has_host_copies(g, 0)) return CUDA_SUCCESS;
  if (CUresult st = drv_.cuGraphClone(&clone, g); st != CUDA_SUCCESS) return st;
  const CUresult st = host_copy_rewrite(clone, out, 0);
  if (st != CUDA_SUCCESS) {
    drv_.cuGraphDestroy(clone);
    clone = nullptr;
    host_copy_retire(std::move(out.staging), {});  // its markers never ran
    out.staging.clear();
    out.markers.clear();
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

// Staging no marker can use any more: freed now if none of its devices' launches may still
// run, else when they have all been synchronised (host_copy_release_retired).
void Worker::host_copy_retire(std::vector<HostCopyStaging>&& staging, const std::set<int>& launched_on) {
  HostCopies& hc = host_copies();
  if (launched_on.empty()) {
    for (const HostCopyStaging& b : staging) hc.total -= b.bytes;
    return;
  }
  hc.retired.push_back({std::move(staging), launched_on});
}

// After a successful cuCtxSynchronize of physical device `device`: the context's work (graph
// launches included) is done, and a destroyed exec is never launched again, so no marker of it
// can run there any more.
void Worker::host_copy_release_retired(int device) {
  if (host_copies_ == nullptr) return;
  auto& retired = host_copies_->retired;
  for (size_t i = 0; i < retired.size();) {
    retired[i].pending.erase(device);
    if (!retired[i].pending.empty()) {
      ++i;
      continue;
    }
    for (const HostCopyStaging& b : retired[i].staging) host_copies_->total -= b.bytes;
    retired.erase(retired.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void Worker::host_copy_launched(uint64_t exec_id, int device) {
  if (host_copies_ == nullptr) return;
  auto it = host_copies_->execs.find(exec_id);
  if (it != host_copies_->execs.end()) it->second.launched_on.insert(device);
}

void Worker::host_copy_exec_destroyed(uint64_t exec_id) {
  if (host_copies_ == nullptr) return;
  auto it = host_copies_->execs.find(exec_id);
  if (it == host_copies_->execs.end()) return;
  drv_.cuGraphDestroy(it->second.clone);
  host_copy_retire(std::move(it->second.staging), it->second.launched_on);
  host_copies_->execs.erase(it);
}

// ---- new parameters ----

// cuGraphMemcpyNodeSetParams on a host copy node: a new tag (the node names the client's new
// buffer id from now on). cuGraphExecMemcpyNodeSetParams: the driver's rules (1D, same
// direction and device), then a new staging buffer and marker registration for the exec's node.
CUresult Worker::op_graph_host_copy_set(Ctx& c) {
  GraphHostCopyNodeSetParamsArgs a;
  if (!decode_args(c, a) || a.direction > 1) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  const bool on_exec = a.on_exec != 0;
  CUgraphExec e = on_exec ? graph_exec_of(a.exec) : nullptr;
  if (n == nullptr || (on_exec && e == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNodeType type = CU_GRAPH_NODE_TYPE_EMPTY;
  if (drv_.cuGraphNodeGetType(n, &type) != CUDA_SUCCESS || type != CU_GRAPH_NODE_TYPE_MEMCPY) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const HostCopyTag* old = host_copy_of(n);
  if (on_exec && old == nullptr) {  // an instantiated device copy cannot get a host side (the driver's rule)
    logger().warn("session {}: cuGraphExecMemcpyNodeSetParams: host-side parameters for a device copy node: refused",
                  params_.session_id);
    return CUDA_ERROR_INVALID_VALUE;
  }
  HostCopyShape s;
  const uint64_t side[] = {a.dev_type, a.dev_where, a.dev_x, a.dev_y, a.dev_z, a.dev_pitch, a.dev_height};
  if (CUresult st = host_copy_shape(a.direction == 0, side, a.width_bytes, a.height, a.depth, s); st != CUDA_SUCCESS) {
    return st;
  }
  if (!on_exec) {
    CUresult st = CUDA_SUCCESS;
    const HostCopyTag* t = host_copy_tag(a.host_fn, s, st);
    if (t == nullptr) return st;
    const CUDA_MEMCPY3D p = s.params(t->tag.get());
    st = drv_.cuGraphMemcpyNodeSetParams(n, &p);
    if (st != CUDA_SUCCESS) host_copy_tag_drop(t);
    return st;  // the old tag stays: clones of the graph may still name it
  }
  return exec_host_copy_set(a.exec, e, n, *old, a.host_fn, s);
}

CUresult Worker::exec_host_copy_set(uint64_t exec_id, CUgraphExec e, CUgraphNode n, const HostCopyTag& old,
                                    uint64_t client_id, const HostCopyShape& s) {
  HostCopies& hc = host_copies();
  auto it = hc.execs.find(exec_id);
  CUgraphNode cn = exec_node(exec_id, n);
  auto m = it == hc.execs.end() ? decltype(it->second.markers)::iterator{} : it->second.markers.find(cn);
  if (it == hc.execs.end() || m == it->second.markers.end()) {
    logger().warn("session {}: cuGraphExecMemcpyNodeSetParams: the node is not a host copy node of the exec",
                  params_.session_id);
    return CUDA_ERROR_INVALID_VALUE;
  }
  // The driver's rules for an instantiated copy node: both operands 1D before and after, the
  // same kinds of memory (so the same direction), device memory on the same device.
  const bool flat = s.rows == 1 && s.depth == 1 && old.shape.rows == 1 && old.shape.depth == 1;
  if (!flat || s.to_device != old.to_device() || s.dev_type != CU_MEMORYTYPE_DEVICE ||
      old.shape.dev_type != CU_MEMORYTYPE_DEVICE) {
    logger().warn("session {}: cuGraphExecMemcpyNodeSetParams: only 1D copies keeping their kinds of memory may "
                  "change (the driver's rule): CUDA_ERROR_INVALID_VALUE", params_.session_id);
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t bytes = s.bytes();
  if (hc.total + bytes > HostCopies::kMaxTotal) return CUDA_ERROR_OUT_OF_MEMORY;
  auto buf = std::make_unique<std::byte[]>(bytes);
  const CUDA_MEMCPY3D p = s.params(buf.get());
  HostFnHub::Reg* r = hostfn_hub().add_copy(client_id, s.to_device ? HostFnHub::Copy::kPull : HostFnHub::Copy::kPush,
                                            buf.get(), bytes);
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = drv_.cuGraphExecMemcpyNodeSetParams(e, cn, &p, ctx_); st != CUDA_SUCCESS) return st;
  // The registration's buffer lives with the exec's (the old buffer stays: a launch may be running).
  hc.total += bytes;
  it->second.staging.push_back({std::move(buf), bytes});
  const CUDA_HOST_NODE_PARAMS hp{&HostFnHub::marker, r};
  return drv_.cuGraphExecHostNodeSetParams(e, m->second, &hp);
}

}  // namespace gpool::server
