// Stream capture state and its entry points (cuStreamBeginCapture*,
// cuStreamEndCapture, cuStreamIsCapturing, cuStreamGetCaptureInfo*,
// cuStreamUpdateCaptureDependencies*, cuThreadExchangeStreamCaptureMode).
#include "capture.h"

#include "context.h"
#include "event.h"

#include <algorithm>
#include <set>

namespace gpool::emu::rt {
namespace {

// Captures in progress (begun, not ended), guarded by graph_mu(); g_active
// mirrors its size so that the common case (no capture anywhere) costs one
// atomic load per call.
std::vector<std::shared_ptr<Capture>> g_captures;
std::atomic<int> g_active{0};
std::atomic<uint64_t> g_next_capture_id{1};

// The calling thread's capture interaction mode (cuThreadExchangeStreamCaptureMode).
thread_local CUstreamCaptureMode t_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;

bool blocking_member_of(const Capture& c, Context* ctx) {
  for (const auto& m : c.members) {
    if (m->ctx == ctx && !(m->flags & CU_STREAM_NON_BLOCKING)) return true;
  }
  return false;
}

// REQUIRES: graph_mu held. Invalidates the captures that have a blocking
// stream in `ctx`; true when there was one.
bool invalidate_blocking_in(Context* ctx) {
  bool hit = false;
  for (const auto& c : g_captures) {
    if (blocking_member_of(*c, ctx)) {
      if (!c->invalidated) log().info("stream capture {} invalidated: implicit use of the legacy stream", c->id);
      c->invalidated = true;
      hit = true;
    }
  }
  return hit;
}

void add_unique(std::vector<GraphNode*>* v, GraphNode* n) {
  if (std::find(v->begin(), v->end(), n) == v->end()) v->push_back(n);
}

// REQUIRES: graph_mu held. Ends `c`: every member leaves it.
void end_capture(const std::shared_ptr<Capture>& c) {
  for (const auto& m : c->members) {
    if (m->cap == c) {
      m->cap.reset();
      m->cap_deps.clear();
    }
  }
  c->members.clear();
  auto it = std::find(g_captures.begin(), g_captures.end(), c);
  if (it != g_captures.end()) {
    g_captures.erase(it);
    g_active.fetch_sub(1);
  }
}

bool node_in(const Graph* g, const void* h) {
  GraphNode* n = lookup<GraphNode>(h);
  return n != nullptr && n->graph == g;
}

}  // namespace

CUresult capture_gate(const std::shared_ptr<Stream>& s, bool* capturing) {
  *capturing = false;
  if (g_active.load(std::memory_order_acquire) == 0) return CUDA_SUCCESS;
  std::lock_guard lock(graph_mu());
  if (s->cap) {
    if (s->cap->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    *capturing = true;
    return CUDA_SUCCESS;
  }
  if (s->role == Stream::Role::Legacy && invalidate_blocking_in(s->ctx)) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  return CUDA_SUCCESS;
}

CUresult capture_gate_sync(const std::shared_ptr<Stream>& s) {
  if (g_active.load(std::memory_order_acquire) == 0) return CUDA_SUCCESS;
  std::lock_guard lock(graph_mu());
  if (s->cap) {
    if (!s->cap->invalidated) log().info("stream capture {} invalidated: synchronous use of a capturing stream", s->cap->id);
    s->cap->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  if (s->role == Stream::Role::Legacy && invalidate_blocking_in(s->ctx)) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  return CUDA_SUCCESS;
}

CUresult capture_unsafe_call(const char* what) {
  if (g_active.load(std::memory_order_acquire) == 0) return CUDA_SUCCESS;
  if (t_mode == CU_STREAM_CAPTURE_MODE_RELAXED) return CUDA_SUCCESS;
  const auto self = std::this_thread::get_id();
  std::lock_guard lock(graph_mu());
  bool prohibited = false;
  for (const auto& c : g_captures) {
    const bool own = c->thread == self && c->mode != CU_STREAM_CAPTURE_MODE_RELAXED;
    const bool other_global = t_mode == CU_STREAM_CAPTURE_MODE_GLOBAL && c->thread != self &&
                              c->mode == CU_STREAM_CAPTURE_MODE_GLOBAL;
    if (own || other_global) {
      if (!c->invalidated) log().info("stream capture {} invalidated: {} is not permitted while capturing", c->id, what);
      c->invalidated = true;
      prohibited = true;
    }
  }
  return prohibited ? CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED : CUDA_SUCCESS;
}

CUresult capture_add(const std::shared_ptr<Stream>& s, std::unique_ptr<GraphNode> node) {
  std::lock_guard lock(graph_mu());
  if (!s->cap) return CUDA_ERROR_ILLEGAL_STATE;
  if (s->cap->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  GraphNode* n = graph_add(s->cap->graph, std::move(node), s->cap_deps);
  s->cap_deps.assign(1, n);
  return CUDA_SUCCESS;
}

CUresult capture_kernel(const std::shared_ptr<Stream>& s, KernelLaunch k, const CUlaunchAttribute* attrs,
                        unsigned num_attrs) {
  auto n = std::make_unique<GraphNode>();
  n->type = CU_GRAPH_NODE_TYPE_KERNEL;
  n->given_func = k.func;
  set_kernel_launch(n.get(), std::move(k));
  kernel_node_take_attrs(n.get(), attrs, num_attrs);
  return capture_add(s, std::move(n));
}

CUresult capture_fail(const std::shared_ptr<Stream>& s, CUresult err) {
  std::lock_guard lock(graph_mu());
  if (s->cap) {
    if (!s->cap->invalidated) log().info("stream capture {} invalidated (error {})", s->cap->id, static_cast<int>(err));
    s->cap->invalidated = true;
  }
  return err;
}

CUresult capture_event_record(Event* e, const std::shared_ptr<Stream>& s) {
  std::lock_guard lock(graph_mu());
  if (!s->cap) return CUDA_ERROR_ILLEGAL_STATE;
  if (s->cap->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  e->cap = s->cap;
  e->cap_nodes = s->cap_deps;
  return CUDA_SUCCESS;
}

CUresult capture_event_wait(const std::shared_ptr<Stream>& s, Event* e, bool* handled) {
  *handled = false;
  if (g_active.load(std::memory_order_acquire) == 0) return CUDA_SUCCESS;
  std::lock_guard lock(graph_mu());
  const bool event_live = e->cap && !e->cap->members.empty();
  if (!event_live) {
    if (!s->cap) return CUDA_SUCCESS;  // an ordinary wait
    if (!s->cap->invalidated) log().info("stream capture {} invalidated: wait on an event from outside the capture", s->cap->id);
    s->cap->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
  }
  const auto& c = e->cap;
  *handled = true;
  if (s->cap == c) {
    if (c->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    for (GraphNode* n : e->cap_nodes) add_unique(&s->cap_deps, n);
    return CUDA_SUCCESS;
  }
  if (s->cap) {
    s->cap->invalidated = true;
    c->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_ISOLATION;
  }
  if (s->role == Stream::Role::Legacy) {
    c->invalidated = true;
    return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
  }
  if (c->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  // The stream joins the capture (a fork).
  s->cap = c;
  s->cap_deps = e->cap_nodes;
  c->members.push_back(s);
  return CUDA_SUCCESS;
}

bool capture_event_pending(Event* e) {
  if (g_active.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard lock(graph_mu());
  return e->cap && !e->cap->members.empty();
}

void capture_event_clear(Event* e) {
  if (g_active.load(std::memory_order_acquire) == 0 && !e->cap) return;
  std::lock_guard lock(graph_mu());
  e->cap.reset();
  e->cap_nodes.clear();
}

bool capture_uses_graph_locked(const Graph* g) {
  for (const auto& c : g_captures) {
    if (c->graph == g) return true;
  }
  return false;
}

void capture_stream_gone(Stream* s) {
  std::lock_guard lock(graph_mu());
  if (!s->cap) return;
  auto c = s->cap;
  if (c->origin == s) {
    // Nobody can end this capture any more: it ends here, and its graph goes with it.
    log().info("stream capture {} ended: its origin stream was destroyed", c->id);
    end_capture(c);
    if (c->own_graph) delete c->graph;
    c->graph = nullptr;
    return;
  }
  auto it = std::find_if(c->members.begin(), c->members.end(), [&](const auto& m) { return m.get() == s; });
  if (it != c->members.end()) c->members.erase(it);
  s->cap.reset();
  s->cap_deps.clear();
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

CUresult begin_capture(CUstream h, CUstreamCaptureMode mode, Graph* into, const CUgraphNode* deps, size_t ndeps) {
  if (mode != CU_STREAM_CAPTURE_MODE_GLOBAL && mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(h, &s); r != CUDA_SUCCESS) return r;
  if (s->role == Stream::Role::Legacy) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  std::lock_guard lock(graph_mu());
  if (s->cap) return CUDA_ERROR_ILLEGAL_STATE;
  std::vector<GraphNode*> initial;
  if (into != nullptr) {
    if (ndeps > 0 && deps == nullptr) return CUDA_ERROR_INVALID_VALUE;
    for (size_t i = 0; i < ndeps; ++i) {
      if (!node_in(into, deps[i])) return CUDA_ERROR_INVALID_VALUE;
      add_unique(&initial, lookup<GraphNode>(deps[i]));
    }
  }
  auto c = std::make_shared<Capture>();
  c->id = g_next_capture_id.fetch_add(1);
  c->mode = mode;
  c->thread = std::this_thread::get_id();
  if (into != nullptr) {
    c->graph = into;
    c->own_graph = false;
  } else {
    c->graph = graph_new(true).release();
  }
  c->origin = s.get();
  c->members.push_back(s);
  s->cap = c;
  s->cap_deps = std::move(initial);
  g_captures.push_back(c);
  g_active.fetch_add(1);
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuStreamBeginCapture_v2(CUstream hStream, CUstreamCaptureMode mode) {
  return begin_capture(hStream, mode, nullptr, nullptr, 0);
}

extern "C" CUresult gpool_impl_cuStreamBeginCapture(CUstream hStream) {
  return begin_capture(hStream, CU_STREAM_CAPTURE_MODE_GLOBAL, nullptr, nullptr, 0);
}

extern "C" CUresult gpool_impl_cuStreamBeginCaptureToGraph(CUstream hStream, CUgraph hGraph,
                                                           const CUgraphNode* dependencies,
                                                           const CUgraphEdgeData* dependencyData,
                                                           size_t numDependencies, CUstreamCaptureMode mode) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Graph* g = lookup<Graph>(hGraph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dependencyData != nullptr) {
    for (size_t i = 0; i < numDependencies; ++i) {
      const CUgraphEdgeData& d = dependencyData[i];
      if (d.from_port != 0 || d.to_port != 0 || d.type != 0) {
        return gpool::abi::unimplemented("cuStreamBeginCaptureToGraph with non-default edge data");
      }
    }
  }
  return begin_capture(hStream, mode, g, dependencies, numDependencies);
}

extern "C" CUresult gpool_impl_cuStreamEndCapture(CUstream hStream, CUgraph* phGraph) {
  if (phGraph == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  Graph* doomed = nullptr;
  CUresult result = CUDA_SUCCESS;
  {
    std::lock_guard lock(graph_mu());
    if (!s->cap) return CUDA_ERROR_ILLEGAL_STATE;
    auto c = s->cap;
    if (c->origin != s.get()) {
      c->invalidated = true;
      return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
    }
    if (c->mode != CU_STREAM_CAPTURE_MODE_RELAXED && c->thread != std::this_thread::get_id()) {
      return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
    }
    // Every other member's dependencies must have been joined back into the
    // origin stream: each must be the origin's dependency or an ancestor of one.
    std::set<const GraphNode*> reach;
    std::vector<GraphNode*> work = s->cap_deps;
    while (!work.empty()) {
      GraphNode* n = work.back();
      work.pop_back();
      if (!reach.insert(n).second) continue;
      for (GraphNode* d : n->deps) work.push_back(d);
    }
    bool unjoined = false;
    for (const auto& m : c->members) {
      if (m == s) continue;
      for (GraphNode* n : m->cap_deps) {
        if (reach.count(n) == 0) unjoined = true;
      }
    }
    if (c->invalidated) {
      result = CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    } else if (unjoined) {
      result = CUDA_ERROR_STREAM_CAPTURE_UNJOINED;
    }
    end_capture(c);
    if (result == CUDA_SUCCESS) {
      *phGraph = reinterpret_cast<CUgraph>(c->graph);
    } else {
      *phGraph = nullptr;
      if (c->own_graph) doomed = c->graph;
    }
  }
  if (doomed != nullptr) graph_delete(doomed);
  return result;
}

extern "C" CUresult gpool_impl_cuStreamIsCapturing(CUstream hStream, CUstreamCaptureStatus* captureStatus) {
  if (captureStatus == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  if (s->role == Stream::Role::Legacy) {
    for (const auto& c : g_captures) {
      if (blocking_member_of(*c, s->ctx)) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
  }
  if (!s->cap) {
    *captureStatus = CU_STREAM_CAPTURE_STATUS_NONE;
  } else {
    *captureStatus = s->cap->invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuThreadExchangeStreamCaptureMode(CUstreamCaptureMode* mode) {
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (*mode != CU_STREAM_CAPTURE_MODE_GLOBAL && *mode != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      *mode != CU_STREAM_CAPTURE_MODE_RELAXED) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  std::swap(t_mode, *mode);
  return CUDA_SUCCESS;
}

// The dependency and edge arrays stay valid until the next capture call of
// the same stream (the driver documents: until the next API call on it).
extern "C" CUresult gpool_impl_cuStreamGetCaptureInfo_v3(CUstream hStream, CUstreamCaptureStatus* captureStatus_out,
                                                         cuuint64_t* id_out, CUgraph* graph_out,
                                                         const CUgraphNode** dependencies_out,
                                                         const CUgraphEdgeData** edgeData_out,
                                                         size_t* numDependencies_out) {
  if (captureStatus_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream_nosticky(hStream, &s); r != CUDA_SUCCESS) return r;
  thread_local std::vector<CUgraphEdgeData> t_edges;
  std::lock_guard lock(graph_mu());
  if (s->role == Stream::Role::Legacy) {
    for (const auto& c : g_captures) {
      if (blocking_member_of(*c, s->ctx)) return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
    }
  }
  if (!s->cap) {
    *captureStatus_out = CU_STREAM_CAPTURE_STATUS_NONE;
    if (id_out) *id_out = 0;
    if (graph_out) *graph_out = nullptr;
    if (dependencies_out) *dependencies_out = nullptr;
    if (edgeData_out) *edgeData_out = nullptr;
    if (numDependencies_out) *numDependencies_out = 0;
    return CUDA_SUCCESS;
  }
  const auto& c = *s->cap;
  *captureStatus_out = c.invalidated ? CU_STREAM_CAPTURE_STATUS_INVALIDATED : CU_STREAM_CAPTURE_STATUS_ACTIVE;
  if (id_out) *id_out = c.id;
  if (graph_out) *graph_out = reinterpret_cast<CUgraph>(c.graph);
  if (dependencies_out) *dependencies_out = reinterpret_cast<const CUgraphNode*>(s->cap_deps.data());
  if (edgeData_out) {
    t_edges.assign(s->cap_deps.size(), CUgraphEdgeData{});
    *edgeData_out = t_edges.data();
  }
  if (numDependencies_out) *numDependencies_out = s->cap_deps.size();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamGetCaptureInfo_v2(CUstream hStream, CUstreamCaptureStatus* captureStatus_out,
                                                         cuuint64_t* id_out, CUgraph* graph_out,
                                                         const CUgraphNode** dependencies_out,
                                                         size_t* numDependencies_out) {
  return gpool_impl_cuStreamGetCaptureInfo_v3(hStream, captureStatus_out, id_out, graph_out, dependencies_out,
                                              nullptr, numDependencies_out);
}

extern "C" CUresult gpool_impl_cuStreamGetCaptureInfo(CUstream hStream, CUstreamCaptureStatus* captureStatus_out,
                                                      cuuint64_t* id_out) {
  return gpool_impl_cuStreamGetCaptureInfo_v3(hStream, captureStatus_out, id_out, nullptr, nullptr, nullptr, nullptr);
}

extern "C" CUresult gpool_impl_cuStreamUpdateCaptureDependencies_v2(CUstream hStream, CUgraphNode* dependencies,
                                                                    const CUgraphEdgeData* dependencyData,
                                                                    size_t numDependencies, unsigned int flags) {
  if (flags != CU_STREAM_ADD_CAPTURE_DEPENDENCIES && flags != CU_STREAM_SET_CAPTURE_DEPENDENCIES) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (numDependencies > 0 && dependencies == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dependencyData != nullptr) {
    for (size_t i = 0; i < numDependencies; ++i) {
      if (dependencyData[i].from_port != 0 || dependencyData[i].to_port != 0 || dependencyData[i].type != 0) {
        return gpool::abi::unimplemented("cuStreamUpdateCaptureDependencies with non-default edge data");
      }
    }
  }
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(hStream, &s); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  if (!s->cap) return CUDA_ERROR_ILLEGAL_STATE;
  if (s->cap->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  std::vector<GraphNode*> nodes;
  for (size_t i = 0; i < numDependencies; ++i) {
    if (!node_in(s->cap->graph, dependencies[i])) return CUDA_ERROR_INVALID_VALUE;
    add_unique(&nodes, lookup<GraphNode>(dependencies[i]));
  }
  if (flags == CU_STREAM_SET_CAPTURE_DEPENDENCIES) s->cap_deps.clear();
  for (GraphNode* n : nodes) add_unique(&s->cap_deps, n);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuStreamUpdateCaptureDependencies(CUstream hStream, CUgraphNode* dependencies,
                                                                 size_t numDependencies, unsigned int flags) {
  return gpool_impl_cuStreamUpdateCaptureDependencies_v2(hStream, dependencies, nullptr, numDependencies, flags);
}
