// Worker: host functions and graph host nodes held on the server (worker_hostfn.h).
#include "worker_hostfn.h"

#include <cstring>
#include <vector>

#include "gpool/common/log.h"
#include "worker.h"

namespace gpool::server {
namespace {

namespace wire = protocol::wire;
using remote::Op;

spdlog::logger& logger() { return log::logger("worker"); }

}  // namespace

// ---- HostFnHub ----

HostFnHub::Reg* HostFnHub::add(uint64_t id, bool persistent) {
  std::lock_guard<std::mutex> lock(mu_);
  if (id == 0 || closed_ || regs_.count(id) != 0 || regs_.size() >= kMaxRegistrations) {
    logger().warn("host function id {} refused ({})", id,
                  id == 0 ? "zero" : closed_ ? "session ending" : regs_.count(id) ? "already in use" : "too many");
    return nullptr;
  }
  auto r = std::make_unique<Reg>();
  r->hub = this;
  r->id = id;
  r->persistent = persistent;
  Reg* raw = r.get();
  regs_.emplace(id, std::move(r));
  return raw;
}

void HostFnHub::drop(Reg* r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (r->armed) disarm_locked();
  regs_.erase(r->id);
}

HostFnHub::Reg* HostFnHub::add_copy(uint64_t id, Copy copy, std::byte* staging, uint64_t bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  if (closed_) return nullptr;
  auto r = std::make_unique<Reg>();
  r->hub = this;
  r->id = id;
  r->persistent = true;
  r->copy = copy;
  r->staging = staging;
  r->bytes = bytes;
  copy_regs_.push_back(std::move(r));
  return copy_regs_.back().get();
}

void HostFnHub::keep(Reg* r) {
  std::lock_guard<std::mutex> lock(mu_);
  r->persistent = true;
}

HostFnHub::Reg* HostFnHub::find(void* p) {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, r] : regs_) {
    if (r.get() == p) return r.get();
  }
  return nullptr;
}

bool HostFnHub::release(uint64_t firing, std::span<const std::byte> data) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = gates_.find(firing);
  if (it == gates_.end() || it->second.open || it->second.data.size() + data.size() != it->second.want) return false;
  it->second.data.insert(it->second.data.end(), data.begin(), data.end());
  it->second.open = true;
  cv_.notify_all();
  return true;
}

void HostFnHub::close() {
  std::lock_guard<std::mutex> lock(mu_);
  closed_ = true;
  cv_.notify_all();
}

void HostFnHub::arm(Reg* r) {
  std::lock_guard<std::mutex> lock(mu_);
  if (r->armed) return;
  r->armed = true;
  ++armed_;
}

void HostFnHub::arm_tail() {
  std::lock_guard<std::mutex> lock(mu_);
  ++armed_;
}

void HostFnHub::disarm_tail() {
  std::lock_guard<std::mutex> lock(mu_);
  disarm_locked();
}

void HostFnHub::disarm_locked() {
  if (armed_ == 0) return;
  if (--armed_ == 0) {
    ++quiet_;
    cv_.notify_all();
  }
}

uint64_t HostFnHub::tag() {
  std::lock_guard<std::mutex> lock(mu_);
  return armed_ == 0 ? 0 : quiet_ + 1;
}

bool HostFnHub::held(uint64_t tag) {
  std::lock_guard<std::mutex> lock(mu_);
  return tag != 0 && !closed_ && tag == quiet_ + 1;
}

void HostFnHub::wait_quiet() {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return closed_ || armed_ == 0; });
}

void CUDA_CB HostFnHub::tail(void* p) {
  HostFnHub* hub = static_cast<HostFnHub*>(p);
  std::lock_guard<std::mutex> lock(hub->mu_);
  hub->disarm_locked();
}

void CUDA_CB HostFnHub::marker(void* p) {
  Reg* r = static_cast<Reg*>(p);
  r->hub->fire(r, CUDA_SUCCESS);
}

void CUDA_CB HostFnHub::callback_marker(CUstream, CUresult status, void* p) {
  Reg* r = static_cast<Reg*>(p);
  r->hub->fire(r, status);
}

void HostFnHub::fire(Reg* r, CUresult status) {
  uint64_t firing = 0, id = 0;
  bool last = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    id = r->id;
    last = !r->persistent;
    if (!closed_) {
      firing = ++next_firing_;
      gates_.emplace(firing, Gate{false, r->copy == Copy::kPull ? r->bytes : 0, {}});
    }
  }
  std::span<const std::byte> push;
  if (r->copy == Copy::kPush) push = {r->staging, r->bytes};  // the copy node before it is done
  const bool sent = firing != 0 && notify_(id, firing, last, status, push);
  std::unique_lock<std::mutex> lock(mu_);
  if (firing != 0) {
    if (!sent) closed_ = true;  // the client is gone: nothing will open a gate
    cv_.wait(lock, [&] { return closed_ || gates_[firing].open; });
    Gate& g = gates_[firing];
    // The copy node after this marker reads the client's bytes (a vanished client: unchanged).
    if (r->copy == Copy::kPull && g.open && g.data.size() == r->bytes) {
      std::memcpy(r->staging, g.data.data(), r->bytes);
    }
    gates_.erase(firing);
  }
  if (r->armed) {
    r->armed = false;
    disarm_locked();
  }
  if (last) regs_.erase(id);  // frees *r
}

// ---- WorkerConnection ----

transport::Status WorkerConnection::flush(transport::Timeout t) {
  std::lock_guard<std::mutex> lock(send_mu_);
  return inner_->flush(t);
}

transport::Status WorkerConnection::after_segment(transport::Status s) {
  // The call's last segment is in: the side thread may receive (HostFnDone) while the call runs.
  if (s.ok() && inner_->segments_left() == 0) {
    frame_open_ = false;
    rx_.done();
  }
  return s;
}

namespace {
transport::Status no_segment() {
  return transport::Status::make(transport::Code::kInvalidArgument, "no segment left in this frame");
}
}  // namespace

transport::Status WorkerConnection::recv_segment(transport::MutableBytes dest, transport::Timeout t) {
  if (!frame_open_) return no_segment();
  return after_segment(inner_->recv_segment(dest, t));
}

transport::Status WorkerConnection::skip_segment(transport::Timeout t) {
  if (!frame_open_) return no_segment();
  return after_segment(inner_->skip_segment(t));
}

transport::Status WorkerConnection::recv_segment_part(transport::MutableBytes dest, transport::Timeout t) {
  if (!frame_open_) return no_segment();
  return after_segment(inner_->recv_segment_part(dest, t));
}

transport::Status WorkerConnection::do_send(const protocol::FrameHeader&, transport::ConstBytes control,
                                            std::span<const transport::ConstBytes> segments,
                                            transport::Timeout timeout) {
  std::lock_guard<std::mutex> lock(send_mu_);
  return inner_->send(control, segments, timeout);
}

transport::Status WorkerConnection::do_recv_head(transport::FrameHead& head, transport::Timeout timeout) {
  return inner_->recv_head(head, timeout);
}

transport::Status WorkerConnection::do_queue(const protocol::FrameHeader&, transport::ConstBytes control,
                                             std::span<const transport::ConstBytes> segments) {
  std::lock_guard<std::mutex> lock(send_mu_);
  return inner_->queue(control, segments);
}

void WorkerConnection::mark_broken(transport::Status) { inner_->shutdown(); }

// ---- Worker ----

void Worker::wrap_connection() {
  rx_ = std::make_unique<transport::ReceiveHandoff>(*conn_);
  auto wrapped = std::make_unique<WorkerConnection>(std::move(conn_), *rx_);
  wrapped_ = wrapped.get();
  conn_ = std::move(wrapped);
  in_ = conn_.get();
}

HostFnHub& Worker::hostfn_hub() {
  if (hostfn_ == nullptr) {
    transport::Connection* out = conn_.get();
    // Never freed: see worker_hostfn.h.
    hostfn_ = new HostFnHub([out](uint64_t id, uint64_t firing, bool last, CUresult status,
                                  std::span<const std::byte> data) {
      return send_host_fn_ready(*out, id, firing, last, status, data);  // worker_graph_host_copy.cc
    });
    HostFnHub* hub = hostfn_;
    std::atomic<int32_t>* refused = &hostfn_refused_;
    const uint64_t session = params_.session_id;
    rx_->start(
        [hub, refused, session](const transport::FrameHead& head) {
          const wire::Call* call = head.envelope->message_as_Call();
          if (call == nullptr || head.segment_count() != 0) return false;  // malformed: the worker refuses it
          if (static_cast<Op>(call->opcode()) == Op::HostCopyPartToServer) {
            host_copy_part(*hub, *refused, session, call);  // worker_graph_host_copy.cc
            return true;
          }
          if (static_cast<Op>(call->opcode()) != Op::HostFnDone) return false;
          host_fn_done(*hub, *refused, session, call);
          return true;
        },
        [hub](const transport::Status&) { hub->close(); });
  }
  return *hostfn_;
}

void Worker::host_fn_done(HostFnHub& hub, std::atomic<int32_t>& refused, uint64_t session,
                          const wire::Call* call) {
  Ctx c;
  c.call = call;
  HostFnDoneArgs a;
  const uint64_t firing = decode_args(c, a) ? a.firing : 0;  // 0 is never held: refused
  // a.data: a host-to-device copy node's bytes (worker_graph_host_copy.cc), the row's inline data
  if (!hub.release(firing, a.data)) {
    logger().warn("session {}: HostFnDone for firing {}, which is not held: refused", session, firing);
    int32_t none = 0;
    refused.compare_exchange_strong(none, CUDA_ERROR_INVALID_VALUE);
  }
}

void Worker::hostfn_close() {
  if (hostfn_ == nullptr) return;
  hostfn_->close();
  conn_->shutdown();
  rx_->stop();
}

CUresult Worker::op_host_fn_done(Ctx& c) {
  // Before any host function was registered (no side thread): only a forged id can come here.
  host_fn_done(hostfn_hub(), hostfn_refused_, params_.session_id, c.call);
  return CUDA_SUCCESS;
}

CUresult Worker::op_launch_host_func(Ctx& c) {
  LaunchHostFuncArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  if (c.handle_count() != 1) return CUDA_ERROR_INVALID_VALUE;
  CUstream s = nullptr;
  if (CUresult st = stream_of(c, 0, s); st != CUDA_SUCCESS) return st;
  DeviceScope scope(*this, device_of(s));
  // Recorded into a capture, the marker becomes a host node that may fire any number of times.
  CUstreamCaptureStatus capture = CU_STREAM_CAPTURE_STATUS_NONE;
  if (drv_.cuStreamIsCapturing(s, &capture) != CUDA_SUCCESS) capture = CU_STREAM_CAPTURE_STATUS_NONE;
  HostFnHub& hub = hostfn_hub();
  HostFnHub::Reg* r = hub.add(a.host_fn, capture != CU_STREAM_CAPTURE_STATUS_NONE);
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // A marker that will fire from this stream: work enqueued from now on may wait for it.
  if (capture == CU_STREAM_CAPTURE_STATUS_NONE) hub.arm(r);
  const CUresult st = a.stream_callback != 0 ? drv_.cuStreamAddCallback(s, &HostFnHub::callback_marker, r, 0)
                                     : drv_.cuLaunchHostFunc(s, &HostFnHub::marker, r);
  if (st != CUDA_SUCCESS) hub.drop(r);
  return st;
}

void Worker::hostfn_graph_tail(CUstream stream) {
  // Any graph may hold host nodes of this session (also in child graphs and conditional bodies):
  // the stream may wait for the client until the tail after the graph has run.
  if (hostfn_ == nullptr) return;
  hostfn_->arm_tail();
  if (drv_.cuLaunchHostFunc(stream, &HostFnHub::tail, hostfn_) != CUDA_SUCCESS) hostfn_->disarm_tail();
}

uint64_t Worker::hostfn_tag() { return hostfn_ == nullptr ? 0 : hostfn_->tag(); }

bool Worker::hostfn_held(uint64_t tag) { return hostfn_ != nullptr && hostfn_->held(tag); }

CUresult Worker::op_host_fn_settle(Ctx& c) {
  HostFnSettleArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  // The call has no segments: the side thread reads HostFnDone while this waits.
  if (hostfn_ != nullptr) hostfn_->wait_quiet();
  c.results = {spill_budget()};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_add_host_node(Ctx& c) {
  GraphAddHostNodeArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraph g = graph_of(a.graph);
  if (g == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<CUgraphNode> deps;
  if (!dependency_nodes(a.deps, deps)) return CUDA_ERROR_INVALID_VALUE;
  HostFnHub& hub = hostfn_hub();
  HostFnHub::Reg* r = hub.add(a.host_fn, true);
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_HOST_NODE_PARAMS p{&HostFnHub::marker, r};
  CUgraphNode node = nullptr;
  const CUresult st = drv_.cuGraphAddHostNode(&node, g, deps.data(), deps.size(), &p);
  if (st != CUDA_SUCCESS) {
    hub.drop(r);
    return st;
  }
  c.results = {node_id(node)};
  return CUDA_SUCCESS;
}

CUresult Worker::op_graph_host_node_get(Ctx& c) {
  GraphHostNodeGetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_HOST_NODE_PARAMS p{};
  if (CUresult st = drv_.cuGraphHostNodeGetParams(n, &p); st != CUDA_SUCCESS) return st;
  HostFnHub::Reg* r = p.fn == &HostFnHub::marker ? hostfn_hub().find(p.userData) : nullptr;
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;  // not a host node this session made
  c.results = {r->id};
  return CUDA_SUCCESS;
}

bool Worker::host_node_ours(CUgraphNode n) {
  CUDA_HOST_NODE_PARAMS p{};
  if (hostfn_ == nullptr || drv_.cuGraphHostNodeGetParams(n, &p) != CUDA_SUCCESS) return false;
  return p.fn == &HostFnHub::marker && hostfn_->find(p.userData) != nullptr;
}

CUresult Worker::op_graph_host_node_set(Ctx& c) {
  GraphHostNodeSetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  HostFnHub& hub = hostfn_hub();
  HostFnHub::Reg* r = hub.add(a.host_fn, true);
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_HOST_NODE_PARAMS p{&HostFnHub::marker, r};
  const CUresult st = drv_.cuGraphHostNodeSetParams(n, &p);
  if (st != CUDA_SUCCESS) hub.drop(r);
  return st;
}

CUresult Worker::op_graph_exec_host_node_set(Ctx& c) {
  GraphExecHostNodeSetParamsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphExec e = graph_exec_of(a.exec);
  CUgraphNode n = graph_node_of(a.node);
  if (e == nullptr || n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  HostFnHub& hub = hostfn_hub();
  HostFnHub::Reg* r = hub.add(a.host_fn, true);
  if (r == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUDA_HOST_NODE_PARAMS p{&HostFnHub::marker, r};
  const CUresult st = drv_.cuGraphExecHostNodeSetParams(e, exec_node(a.exec, n), &p);
  if (st != CUDA_SUCCESS) hub.drop(r);
  return st;
}

}  // namespace gpool::server
