// Worker: node queries, node removal, clones, exec flags, node enabling, memset and copy node
// parameters, kernel node parameters, exec child graphs and DOT text of CUDA graphs
// (calls.toml 346-356; the rest of graphs: worker_graph.cc).
//
// Every graph, node and exec id is looked up in this session's tables first (graph_of,
// graph_node_of, graph_exec_of), so a forged, stale or foreign id gets CUDA_ERROR_INVALID_VALUE
// and never reaches the driver. Nodes and graphs the driver hands back (neighbours, clones,
// nodes found in a clone) get ids on first use, like the nodes of a captured graph. A destroyed
// node's id leaves the tables. A memset node's new range is checked against the session's
// allocations, as when the node is added; a copy node's new ranges likewise (1D
// device-to-device only, as cuGraphAddMemcpyNode). cuGraphDebugDotPrint: the backend writes the
// DOT text to a memfd of this process (no file on the server's disk), which goes back inline;
// the shim writes it to the client's path.
#include "worker.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "gpool/common/log.h"
#include "gpool/protocol/limits.h"

namespace gpool::server {
namespace {

spdlog::logger& logger_query() { return log::logger("worker"); }

// Most ids one reply names (as worker_graph.cc).
constexpr uint64_t kMaxListed = 4096;

}  // namespace

bool Worker::memset_node_ok(const CUDA_MEMSET_NODE_PARAMS& p) const {
  const uint64_t row = p.width * p.elementSize;
  return p.elementSize <= 4 && p.height != 0 && p.width <= (uint64_t{1} << 40) && p.height <= (uint64_t{1} << 24) &&
         (p.height <= 1 || p.pitch >= row) && range_ok(p.dst, (p.height - 1) * p.pitch + row);
}

CUresult Worker::op_graph_node_neighbours(Ctx& c) {
  GraphNodeNeighboursArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  const uint64_t which = a.which, want = std::min<uint64_t>(a.max_ids, kMaxListed);
  if (n == nullptr || which > 1) return CUDA_ERROR_INVALID_VALUE;
  auto get = which == 0 ? drv_.cuGraphNodeGetDependencies_v2 : drv_.cuGraphNodeGetDependentNodes_v2;
  size_t count = 0;
  if (CUresult st = get(n, nullptr, nullptr, &count); st != CUDA_SUCCESS) return st;
  std::vector<CUgraphNode> nodes(count);
  std::vector<CUgraphEdgeData> edges(count);
  if (count > 0) {
    if (CUresult st = get(n, nodes.data(), edges.data(), &count); st != CUDA_SUCCESS) return st;
  }
  c.results.push_back(count);
  for (size_t i = 0; i < count && i < nodes.size() && i < want; ++i) c.results.push_back(node_id(nodes[i]));
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_destroy_node(Ctx& c) {
  GraphDestroyNodeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = a.node;
  CUgraphNode n = graph_node_of(id);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> nodes;  // a child-graph node's graph and its nodes go with it
  std::vector<CUgraph> owned;
  owned_child_objects(n, nodes, owned);
  const CUresult st = drv_.cuGraphDestroyNode(n);
  if (st != CUDA_SUCCESS) return st;
  graphs_.erase_node(id);
  cond_bodies_.erase(n);
  forget_graph_objects(nodes, owned);
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_clone(Ctx& c) {
  GraphCloneArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraph clone = nullptr;
  const CUresult st = drv_.cuGraphClone(&clone, g);
  if (st == CUDA_SUCCESS) c.results.push_back(graph_id(clone));
  return st;
}

CUresult Worker::op_graph_node_find_in_clone(Ctx& c) {
  GraphNodeFindInCloneArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode original = graph_node_of(a.node);
  CUgraph clone = graph_of(a.clone);
  if (original == nullptr || clone == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode found = nullptr;
  const CUresult st = drv_.cuGraphNodeFindInClone(&found, original, clone);
  if (st == CUDA_SUCCESS) c.results.push_back(node_id(found));
  return st;
}

CUresult Worker::op_graph_exec_flags(Ctx& c) {
  GraphExecGetFlagsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExec e = graph_exec_of(a.exec);
  if (e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  cuuint64_t flags = 0;
  const CUresult st = drv_.cuGraphExecGetFlags(e, &flags);
  if (st == CUDA_SUCCESS) c.results.push_back(flags);
  return st;
}

CUresult Worker::op_graph_node_enabled(Ctx& c) {
  GraphNodeEnabledArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExec e = graph_exec_of(a.exec);
  CUgraphNode n = graph_node_of(a.node);
  if (e == nullptr || n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  n = exec_node(a.exec, n);
  if (a.set != 0) return drv_.cuGraphNodeSetEnabled(e, n, static_cast<unsigned>(a.enabled));
  unsigned enabled = 0;
  const CUresult st = drv_.cuGraphNodeGetEnabled(e, n, &enabled);
  if (st == CUDA_SUCCESS) c.results.push_back(enabled);
  return st;
}

CUresult Worker::op_graph_memset_params(Ctx& c) {
  GraphMemsetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t mode = a.mode;  // 0 get the node's, 1 set on the exec, 2 set on the node
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;  // mode and its fields: the decoder (variants.params)
  if (mode == 0) {
    CUDA_MEMSET_NODE_PARAMS p{};
    const CUresult st = drv_.cuGraphMemsetNodeGetParams(n, &p);
    if (st == CUDA_SUCCESS) c.results = {p.dst, p.pitch, p.value, p.elementSize, p.width, p.height};
    return st;
  }
  CUgraphExec e = mode == 1 ? graph_exec_of(a.exec) : nullptr;
  if (mode == 1 && e == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEMSET_NODE_PARAMS p{};
  p.dst = a.set.dst;
  p.pitch = a.set.pitch;
  p.value = static_cast<unsigned>(a.set.value);
  p.elementSize = static_cast<unsigned>(a.set.element_size);
  p.width = a.set.width;
  p.height = a.set.height;
  if (!memset_node_ok(p)) return CUDA_ERROR_INVALID_VALUE;
  return mode == 1 ? drv_.cuGraphExecMemsetNodeSetParams(e, exec_node(a.exec, n), &p, ctx_)
                   : drv_.cuGraphMemsetNodeSetParams(n, &p);
}

CUresult Worker::op_graph_dot_print(Ctx& c) {
  GraphDebugDotPrintArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const int fd = ::memfd_create("gpool-graph-dot", MFD_CLOEXEC);
  if (fd < 0) return CUDA_ERROR_OPERATING_SYSTEM;
  const std::string path = "/proc/self/fd/" + std::to_string(fd);
  CUresult st = drv_.cuGraphDebugDotPrint(g, path.c_str(), static_cast<unsigned>(a.flags));
  if (st == CUDA_SUCCESS) {
    const off_t size = ::lseek(fd, 0, SEEK_END);
    if (size < 0) {
      st = CUDA_ERROR_OPERATING_SYSTEM;
    } else if (static_cast<size_t>(size) > protocol::kMaxInlineBytes) {
      logger_query().warn("session {}: cuGraphDebugDotPrint: the graph's DOT text ({} bytes) is over the "
                                 "{} bytes a reply carries; returning CUDA_ERROR_NOT_SUPPORTED",
                                 params_.session_id, size, protocol::kMaxInlineBytes);
      st = CUDA_ERROR_NOT_SUPPORTED;
    } else {
      c.inline_out.resize(static_cast<size_t>(size));
      if (size > 0 && ::pread(fd, c.inline_out.data(), c.inline_out.size(), 0) != size) {
        c.inline_out.clear();
        st = CUDA_ERROR_OPERATING_SYSTEM;
      }
    }
  }
  ::close(fd);
  return st;
}

CUresult Worker::op_graph_exec_child_set(Ctx& c) {
  GraphExecChildGraphSetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExec e = graph_exec_of(a.exec);
  CUgraphNode n = graph_node_of(a.node);
  CUgraph child = graph_of(a.child);
  if (e == nullptr || n == nullptr || child == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return drv_.cuGraphExecChildGraphNodeSetParams(e, exec_node(a.exec, n), child);
}

CUresult Worker::op_graph_memcpy_set(Ctx& c) {
  GraphMemcpySetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const bool on_exec = a.on_exec != 0;
  CUgraphExec e = on_exec ? graph_exec_of(a.exec) : nullptr;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr || (on_exec && e == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  // In a graph a host copy node may become a device copy (its tag is then no longer named); an
  // instantiated one keeps its kinds of memory (the driver's rule).
  if (on_exec && host_copy_of(n) != nullptr) {
    logger_query().warn("session {}: cuGraphExecMemcpyNodeSetParams: a copy node with a host side cannot become a "
                        "device copy (the driver's rule): CUDA_ERROR_INVALID_VALUE", params_.session_id);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (on_exec) n = exec_node(a.exec, n);
  const CUdeviceptr dst = a.dst, src = a.src;
  const uint64_t bytes = a.bytes;
  if (!range_ok(dst, bytes) || !range_ok(src, bytes)) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEMCPY3D p{};
  p.srcMemoryType = p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  p.srcDevice = src;
  p.dstDevice = dst;
  p.WidthInBytes = bytes;
  p.Height = p.Depth = 1;
  return on_exec ? drv_.cuGraphExecMemcpyNodeSetParams(e, n, &p, ctx_) : drv_.cuGraphMemcpyNodeSetParams(n, &p);
}

// The node's function is named by the client's id for it (the first in the session's table that
// names the same driver function or kernel), and its parameters are packed at the function's
// offsets, as the client sends them for a launch.
CUresult Worker::op_graph_kernel_get(Ctx& c) {
  GraphKernelGetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_KERNEL_NODE_PARAMS p{};
  if (CUresult st = drv_.cuGraphKernelNodeGetParams_v2(n, &p); st != CUDA_SUCCESS) return st;
  uint64_t fid = 0;
  const Function* f = modules_.function_by_handle(p.func, p.kern, &fid);
  if (f == nullptr) {
    logger_query().warn("session {}: cuGraphKernelNodeGetParams: the node's function is not one of this "
                        "session's; returning CUDA_ERROR_NOT_SUPPORTED", params_.session_id);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (f->param_bytes > protocol::kMaxInlineBytes || (f->offsets.size() > 0 && p.kernelParams == nullptr)) {
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  c.inline_out.assign(f->param_bytes, std::byte{0});
  for (size_t i = 0; i < f->offsets.size() && i < f->sizes.size(); ++i) {
    if (f->offsets[i] + f->sizes[i] > f->param_bytes || p.kernelParams[i] == nullptr) return CUDA_ERROR_NOT_SUPPORTED;
    std::memcpy(c.inline_out.data() + f->offsets[i], p.kernelParams[i], f->sizes[i]);
  }
  c.results = {fid, f->kernel != nullptr ? 1u : 0u, p.gridDimX, p.gridDimY, p.gridDimZ,
               p.blockDimX, p.blockDimY, p.blockDimZ, p.sharedMemBytes};
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
