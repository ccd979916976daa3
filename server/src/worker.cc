#include "worker.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <optional>

#include "gpool/common/log.h"
#include "worker_hostfn.h"
#include "worker_watch.h"

namespace gpool::server {
namespace {

namespace wire = protocol::wire;
using remote::Op;

spdlog::logger& logger() { return log::logger("worker"); }

// Replaces fd `target` (1 or 2) by an append-only memory file; returns the memory file's fd.
int capture_fd(int target, const char* name) {
  const int fd = ::memfd_create(name, MFD_CLOEXEC);
  if (fd < 0) return -1;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_APPEND);
  std::fflush(target == 1 ? stdout : stderr);
  if (::dup2(fd, target) < 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

uint64_t Worker::Ctx::arg(size_t i) const {
  return call->args() != nullptr && i < call->args()->size() ? call->args()->Get(i) : 0;
}
size_t Worker::Ctx::arg_count() const { return call->args() ? call->args()->size() : 0; }
std::span<const uint64_t> Worker::Ctx::args() const {
  // FlatBuffers stores a [ulong] vector contiguously, little-endian (the only byte order the
  // server builds for), and verify_envelope refused the frame if the vector is not 8-byte
  // aligned, so the span aliases the received frame for the call's lifetime.
  if (call->args() == nullptr) return {};
  return {call->args()->data(), call->args()->size()};
}
size_t Worker::Ctx::handle_count() const { return call->handles() ? call->handles()->size() : 0; }
uint64_t Worker::Ctx::handle_id(size_t i) const {
  return i < handle_count() ? call->handles()->Get(i)->id() : 0;
}
remote::HandleKind Worker::Ctx::handle_kind(size_t i) const {
  return i < handle_count() ? call->handles()->Get(i)->kind() : protocol::wire::HandleKind_Context;
}
std::string_view Worker::Ctx::inline_text() const {
  if (call->inline_data() == nullptr) return {};
  return {reinterpret_cast<const char*>(call->inline_data()->data()), call->inline_data()->size()};
}

std::span<const std::byte> Worker::Ctx::inline_bytes() const {
  if (call->inline_data() == nullptr) return {};
  return {reinterpret_cast<const std::byte*>(call->inline_data()->data()), call->inline_data()->size()};
}

void attach_backend(const std::string& backend_path, Attachment& out) {
  out.ok = false;
  if (!out.drv.load(backend_path, out.error)) return;
  CUresult st = out.drv.cuInit(0);
  int count = 0;
  if (st == CUDA_SUCCESS) st = out.drv.cuDeviceGetCount(&count);
  if (st == CUDA_SUCCESS && count < 1) st = CUDA_ERROR_NO_DEVICE;
  for (int i = 0; st == CUDA_SUCCESS && i < count; ++i) {
    CUdevice dev = 0;
    CUcontext ctx = nullptr;
    st = out.drv.cuDeviceGet(&dev, i);
    if (st == CUDA_SUCCESS) st = out.drv.cuDevicePrimaryCtxRetain(&ctx, dev);
    if (st == CUDA_SUCCESS) out.contexts.push_back(ctx);
  }
  if (st == CUDA_SUCCESS) st = out.drv.cuCtxSetCurrent(out.contexts[0]);
  if (st != CUDA_SUCCESS) {
    out.error = fmt::format("driver backend {} failed to give the primary contexts of its {} "
                            "device(s): CUresult {}",
                            backend_path, count, static_cast<int>(st));
    return;
  }
  out.ok = true;
}

Worker::Worker(std::unique_ptr<transport::Connection> conn, const WorkerParams& params,
               SessionSlot& slot, Attachment* attached)
    : conn_(std::move(conn)), params_(params), slot_(slot), attached_(attached),
      images_(params.image_cache_dir, params.image_cache_max_bytes, params.tenant,
              [this](uint64_t n) { return charge_images(n); }, [this](uint64_t n) { uncharge_images(n); }) {
  wrap_connection();  // worker_hostfn.cc
}

bool Worker::attach_backend(std::string& error) {
  Attachment fresh;
  Attachment& a = attached_ != nullptr ? *attached_ : fresh;
  if (attached_ == nullptr) server::attach_backend(params_.backend_path, a);
  if (!a.ok) {
    error = a.error;
    return false;
  }
  drv_ = a.drv;
  return open_devices(a.contexts, error);  // worker_device.cc
}

void Worker::redirect_logs() {
  // fd 2 is about to become a memory file whose bytes go to the client (device printf and
  // assert output); the worker's own log lines belong to the server's stderr instead.
  const int fd = ::fcntl(2, F_DUPFD_CLOEXEC, 3);
  if (fd >= 0) log::set_output_fd(fd);  // kept open for the life of the process
}

void Worker::count_call(const transport::FrameHead& head, const Ctx& c, CUresult st) {
  uint64_t in = 0, out = c.bytes_sent;
  for (uint32_t i = 0; i < head.segment_count() && i < head.segment_lengths.size(); ++i) {
    in += head.segment_lengths[i];
  }
  for (const transport::ConstBytes& seg : c.segments_out) out += seg.size();
  const bool failed = st != CUDA_SUCCESS;
  slot_.bytes_in.fetch_add(in, std::memory_order_relaxed);
  slot_.bytes_out.fetch_add(out, std::memory_order_relaxed);
  if (failed) slot_.errors.fetch_add(1, std::memory_order_relaxed);
  if (params_.tenants != nullptr && params_.tenant_index >= 0 && params_.tenant_index < kMaxTenants) {
    TenantSlot& t = params_.tenants->slot(params_.tenant_index);
    t.calls.fetch_add(1, std::memory_order_relaxed);
    t.bytes_in.fetch_add(in, std::memory_order_relaxed);
    t.bytes_out.fetch_add(out, std::memory_order_relaxed);
    if (failed) t.errors.fetch_add(1, std::memory_order_relaxed);
  }
}

void Worker::capture_output() {
  out_fd_[0] = capture_fd(1, "gpool-worker-stdout");
  out_fd_[1] = capture_fd(2, "gpool-worker-stderr");
}

bool Worker::send_output() {
  for (int i = 0; i < 2; ++i) {
    if (out_fd_[i] < 0) continue;
    struct stat st {};
    if (::fstat(out_fd_[i], &st) != 0 || static_cast<uint64_t>(st.st_size) <= out_sent_[i]) continue;
    const uint64_t n = static_cast<uint64_t>(st.st_size) - out_sent_[i];
    out_buf_.resize(n);
    const ssize_t got = ::pread(out_fd_[i], out_buf_.data(), n, static_cast<off_t>(out_sent_[i]));
    if (got <= 0) continue;
    out_sent_[i] += static_cast<uint64_t>(got);
    remote::build_call(fbb_, 0, 0, i == 0 ? Op::OutputStdout : Op::OutputStderr, true, {}, {},
                       {}, 1);
    const transport::ConstBytes seg{out_buf_.data(), static_cast<size_t>(got)};
    if (!conn_->send(protocol::finished_bytes(fbb_), {&seg, 1}).ok()) return false;
  }
  return true;
}

int run_worker(std::unique_ptr<transport::Connection> conn, const WorkerParams& params,
               SessionSlot& slot, Attachment* attached) {
  Worker w(std::move(conn), params, slot, attached);
  return w.run();
}

int Worker::run() {
  const int rc = run_session();
  hostfn_close();  // no backend thread stays held at a host function (worker_hostfn.h)
  return rc;
}

int Worker::run_session() {
  std::string error;
  if (!attach_backend(error)) {
    logger().error("session {}: {}", params_.session_id, error);
    flatbuffers::FlatBufferBuilder fbb;
    auto abort = wire::CreateAbort(fbb, wire::AbortReason_WorkerFailed, fbb.CreateString(error));
    protocol::finish_envelope(fbb, abort);
    (void)conn_->send(protocol::finished_bytes(fbb));
    return 3;
  }
  redirect_logs();
  capture_output();
  start_heartbeat(slot_);  // the supervisor's watchdog (worker_watch.h)
  for (;;) {
    slot_.phase.store(kPhaseIdle);
    // Never hold a device turn while waiting for the client (launch_meter.h).
    if (meter_.holding() && !rx_->frame_ready()) settle_turn();
    transport::Status s = rx_->next(head_);
    if (!s.ok()) {
      if (s.code == transport::Code::kDisconnected) {
        logger().info("session {}: client {} disconnected", params_.session_id, conn_->peer());
        return 0;
      }
      logger().warn("session {}: closing: {}", params_.session_id, s.text);
      if (s.code == transport::Code::kProtocol) {
        flatbuffers::FlatBufferBuilder fbb;
        auto abort = wire::CreateAbort(fbb, wire::AbortReason_MalformedFrame, fbb.CreateString(s.text));
        protocol::finish_envelope(fbb, abort);
        (void)conn_->send(protocol::finished_bytes(fbb), {}, std::chrono::milliseconds(500));
      }
      return 1;
    }
    const wire::Envelope* env = head_.envelope;
    // A frame without segments is all read: the side thread may receive while it runs.
    wrapped_->open_frame(head_.segment_count());
    if (head_.segment_count() == 0) rx_->done();
    switch (env->message_type()) {
      case wire::Message_Call: {
        const bool ok = handle_call(env->message_as_Call(), head_);
        rx_->done();
        if (!ok) return 1;
        break;
      }
      case wire::Message_Ping: {
        fbb_.Clear();
        auto pong = wire::CreatePong(fbb_, env->message_as_Ping()->nonce());
        protocol::finish_envelope(fbb_, pong);
        if (!conn_->send(protocol::finished_bytes(fbb_)).ok()) return 1;
        break;
      }
      case wire::Message_Abort:
        logger().info("session {}: client aborted: {}", params_.session_id,
                      env->message_as_Abort()->text() ? env->message_as_Abort()->text()->str() : "");
        return 0;
      default: {
        fbb_.Clear();
        auto un = wire::CreateUnimplemented(fbb_, static_cast<uint8_t>(env->message_type()), 0, 0);
        protocol::finish_envelope(fbb_, un);
        if (!conn_->send(protocol::finished_bytes(fbb_)).ok()) return 1;
        break;
      }
    }
  }
}

bool Worker::handle_call(const wire::Call* call, const transport::FrameHead& head) {
  if (static_cast<Op>(call->opcode()) == Op::HostFnDone) {  // out of band (seq 0)
    host_fn_done(hostfn_hub(), hostfn_refused_, params_.session_id, call);
    return true;
  }
  if (const int32_t r = hostfn_refused_.exchange(0); r != 0 && sticky_status_ == 0) {
    sticky_status_ = r;  // a forged HostFnDone (worker_hostfn.cc)
    sticky_seq_ = completed_seq_;
  }
  Ctx c;
  c.call = call;
  c.op = static_cast<Op>(call->opcode());
  c.segments = head.segment_lengths;  // checked by the row's decoder (calls.toml `segments`)
  const bool async = (call->flags() & wire::CallFlags_Async) != 0;
  slot_.calls.fetch_add(1, std::memory_order_relaxed);
  bool known = true;
  slot_.phase.store(kPhaseDevice);  // nothing is sent until dispatch returns (but D2H chunks)
  if (c.op != Op::LaunchKernel && meter_.holding()) settle_turn();
  CUresult st;
  {
    // Launches and synchronizations wait for device work: the tenant's max_kernel_ms applies.
    const bool waits = c.op == Op::LaunchKernel || c.op == Op::CtxSynchronize ||
                       c.op == Op::StreamSynchronize || c.op == Op::EventSynchronize;
    std::optional<KernelWait> wait;
    if (waits) wait.emplace(slot_);
    st = dispatch(c, known);  // generated from the call table (calls_server.cc)
  }
  slot_.phase.store(kPhaseBusy);
  if (c.fatal) return false;
  count_call(head, c, known ? st : CUDA_ERROR_NOT_SUPPORTED);
  if (!known) {
    logger().warn("session {}: call opcode {} is not implemented by this server",
                  params_.session_id, call->opcode());
    if (async) {
      st = CUDA_ERROR_NOT_SUPPORTED;
    } else {
      fbb_.Clear();
      auto un = wire::CreateUnimplemented(fbb_, static_cast<uint8_t>(wire::Message_Call),
                                          call->call_id(), call->opcode());
      protocol::finish_envelope(fbb_, un);
      return conn_->send(protocol::finished_bytes(fbb_)).ok();
    }
  }
  completed_seq_ = call->seq();
  if (async) {
    if (st != CUDA_SUCCESS && sticky_status_ == 0) {
      sticky_status_ = static_cast<int32_t>(st);
      sticky_seq_ = call->seq();
    }
    return true;
  }
  if (!send_output()) return false;
  slot_.replies.fetch_add(1, std::memory_order_relaxed);
  remote::build_reply(fbb_, call->call_id(), static_cast<int32_t>(st), completed_seq_,
                      sticky_status_, sticky_seq_, c.results, c.inline_out,
                      static_cast<uint32_t>(c.segments_out.size()));
  sticky_status_ = 0;
  sticky_seq_ = 0;
  return conn_->send(protocol::finished_bytes(fbb_), c.segments_out).ok();
}

void Worker::settle_turn() {
  const KernelWait wait(slot_);  // waits for the turn's launches
  const CUresult st = meter_.settle();
  if (st != CUDA_SUCCESS && sticky_status_ == 0) {
    sticky_status_ = static_cast<int32_t>(st);
    sticky_seq_ = turn_seq_;
  }
}

CUresult Worker::op_goodbye(Ctx& c) {
  GoodbyeArgs a;  // the client is going away; nothing to do but check the call's shape
  return decode_args(c, a) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult Worker::op_attach(Ctx& c) {
  AttachArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  // The session's visible devices (worker_device.cc), numbered from 0 as the client sees them.
  std::vector<remote::DeviceInfo> list(devices_.size());
  for (size_t i = 0; i < devices_.size(); ++i) {
    remote::DeviceInfo& d = list[i];
    const CUdevice dev = devices_[i].dev;
    char name[256] = {};
    drv_.cuDeviceGetName(name, sizeof name - 1, dev);
    d.name = name;
    size_t total = 0;
    drv_.cuDeviceTotalMem_v2(&total, dev);
    d.total_mem = tenant_total(devices_[i].physical, total);  // the tenant's view (quota)
    CUuuid uuid{};
    drv_.cuDeviceGetUuid_v2(&uuid, dev);
    std::memcpy(d.uuid.data(), uuid.bytes, 16);
    for (int a = 1; a < remote::kAttrCount; ++a) {
      int v = 0;
      if (drv_.cuDeviceGetAttribute(&v, static_cast<CUdevice_attribute>(a), dev) == CUDA_SUCCESS) {
        d.attrs[static_cast<size_t>(a)] = v;
      }
    }
  }
  int version = 0;
  drv_.cuDriverGetVersion(&version);
  remote::encode_devices(list, c.inline_out);
  c.results = {list.size(), static_cast<uint64_t>(version)};
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
