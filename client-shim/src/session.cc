#include "session.h"

#include <utility>

#include "contexts.h"
#include "hostfn.h"
#include "ids.h"
#include "managed.h"
#include "pool.h"
#include "state.h"

namespace gpool::shim {

Session::Session(std::string url, std::string token, uint32_t index, transport::TlsOptions tls)
    : index_(index), wire_(std::move(url), std::move(token), std::move(tls)) {}

void Session::shutdown() {
  std::lock_guard<std::mutex> lock(mu_);
  wire_.shutdown();
}

CUresult Session::init() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!init_done_) {
    init_done_ = true;
    init_result_ = wire_.connect(busy_final_, refused_busy_);
    if (init_result_ == CUDA_SUCCESS) {
      wire_.set_ready(true);
      // Attach: the device list and every attribute, answered locally from now on.
      mu_.unlock();
      Reply reply;
      const CUresult st = sync(Op::Attach, {}, {}, {}, {}, &reply);
      mu_.lock();
      if (st != CUDA_SUCCESS) init_result_ = st;
      else if (!wire_.set_attach(reply)) init_result_ = CUDA_ERROR_NO_DEVICE;
    }
    if (init_result_ != CUDA_SUCCESS) wire_.set_dead(init_result_);
    wire_.set_ready(init_result_ == CUDA_SUCCESS);
  }
  return init_result_;
}

CUresult Session::prepare_locked(std::span<const HandleRef> handles) {
  if (CUresult st = wire_.usable(); st != CUDA_SUCCESS) return st;
  for (const HandleRef& h : handles) {
    if (!id_usable_on(h.id(), index_)) return CUDA_ERROR_INVALID_HANDLE;
  }
  return select_device_locked();
}

CUresult Session::forward_locked(Op op, bool async, std::span<const uint64_t> args,
                                 std::span<const HandleRef> handles,
                                 std::span<const std::byte> inline_data,
                                 std::span<const transport::ConstBytes> segments) {
  if (CUresult st = prepare_locked(handles); st != CUDA_SUCCESS) return st;
  if (CUresult st = hostfn_before_locked(op, args); st != CUDA_SUCCESS) return st;
  const CUresult st = wire_.send(op, async, args, handles, inline_data, segments);
  if (st == CUDA_SUCCESS) hostfn_after_locked(op, args);
  return st;
}

CUresult Session::select_device_locked() {
  const int global = current_device();
  Session* owner = nullptr;
  uint64_t server_ordinal = 0;
  if (global < 0 || Pool::global().locate(global, owner, server_ordinal) != CUDA_SUCCESS ||
      owner != this || static_cast<int>(server_ordinal) == wire_device_) {
    return CUDA_SUCCESS;
  }
  const int local = static_cast<int>(server_ordinal);
  const uint64_t args[] = {static_cast<uint64_t>(local)};
  if (CUresult st = wire_.send(Op::SetDevice, true, args, {}, {}, {}); st != CUDA_SUCCESS) return st;
  wire_device_ = local;
  return CUDA_SUCCESS;
}

CUresult Session::async(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                        std::span<const std::byte> inline_data,
                        std::span<const transport::ConstBytes> segments) {
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  std::lock_guard<std::mutex> lock(mu_);
  if (CUresult st = managed_before_locked(op); st != CUDA_SUCCESS) return st;
  const CUresult st = forward_locked(op, true, args, handles, inline_data, segments);
  // No concurrent managed access: the host may not touch managed memory until the next
  // synchronisation pulls it back (managed.h).
  if (st == CUDA_SUCCESS && op == Op::LaunchKernel && managed::any(index_)) managed_lock_locked(op, handles);
  return st;
}

CUresult Session::async_start(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles) {
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  std::lock_guard<std::mutex> lock(mu_);
  if (CUresult st = managed_before_locked(op); st != CUDA_SUCCESS) return st;
  if (CUresult st = forward_locked(op, true, args, handles, {}, {}); st != CUDA_SUCCESS) return st;
  if (managed::any(index_)) managed_lock_locked(op, handles);  // a graph's kernels may use managed memory
  return wire_.flush();
}

CUresult Session::sync(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                       std::span<const std::byte> inline_data,
                       std::span<const transport::ConstBytes> segments, Reply* reply,
                       std::span<const transport::MutableBytes> dests) {
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  std::lock_guard<std::mutex> lock(mu_);
  if (CUresult st = managed_before_locked(op); st != CUDA_SUCCESS) return st;
  const CUresult st = sync_locked(op, args, handles, inline_data, segments, reply, dests);
  return managed_after_locked(op, st);
}

CUresult Session::sync_locked(Op op, std::span<const uint64_t> args,
                              std::span<const HandleRef> handles,
                              std::span<const std::byte> inline_data,
                              std::span<const transport::ConstBytes> segments, Reply* reply,
                              std::span<const transport::MutableBytes> dests) {
  if (CUresult st = prepare_locked(handles); st != CUDA_SUCCESS) return st;
  return wire_.call(op, args, handles, inline_data, segments, reply, dests);
}

CUresult Session::launch_undescribed(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                                     std::span<const std::byte> inline_data) {
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  std::lock_guard<std::mutex> lock(mu_);
  if (CUresult st = managed_before_locked(op); st != CUDA_SUCCESS) return st;
  const CUresult st = sync_locked(op, args, handles, inline_data, {}, nullptr, {});
  // Only a launch's INVALID_PTX is sticky (a module load's is a plain error, wire_session.cc).
  if (st == CUDA_ERROR_INVALID_PTX) wire_.restore_context_error(st);
  return managed_after_locked(op, st);
}

CUresult Session::reset_device(uint64_t ordinal) {
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  std::lock_guard<std::mutex> lock(mu_);
  // Dirty managed pages are not pushed: the memory they belong to is about to be freed.
  const CUresult sticky = wire_.take_context_error();
  const uint64_t args[] = {ordinal};
  Reply reply;
  const CUresult st = sync_locked(Op::DeviceReset, args, {}, {}, {}, &reply, {});
  if (st != CUDA_SUCCESS) {
    wire_.restore_context_error(sticky);
    return st;
  }
  for (uint64_t base : reply.results) {
    (void)managed::remove(static_cast<uintptr_t>(base));
    remove_range_at(index_, base);  // unified-address copies and pointer attributes forget it
  }
  device_wrote_ = false;
  return CUDA_SUCCESS;
}

CUresult Session::sync_value(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                             uint64_t& out) {
  Reply r;
  if (CUresult st = sync(op, args, handles, {}, {}, &r); st != CUDA_SUCCESS) return st;
  if (r.results.empty()) return CUDA_ERROR_UNKNOWN;
  out = r.results[0];
  return CUDA_SUCCESS;
}

void Session::start_host_fns() {
  std::call_once(host_fns_started_, [this] {
    wire_.start_side_reader(
        [this](const transport::FrameHead& head) {
          const protocol::wire::Call* note = head.envelope->message_as_Call();
          if (note != nullptr && static_cast<Op>(note->opcode()) == Op::HostCopyPartToClient &&
              head.segment_count() == 0 && note->args() != nullptr && note->args()->size() == 3 &&
              note->inline_data() != nullptr) {  // graph_host_copy.h
            const auto* d = note->inline_data();
            hostfn::part(note->args()->Get(1), note->args()->Get(2),
                         {reinterpret_cast<const std::byte*>(d->data()), d->size()});
            return true;
          }
          if (note == nullptr || static_cast<Op>(note->opcode()) != Op::HostFnReady ||
              head.segment_count() != 0 || note->args() == nullptr || note->args()->size() != 4) {
            return false;  // the next sync call's (a malformed note ends the session there)
          }
          std::span<const std::byte> data;  // a device-to-host graph copy node's bytes
          if (const auto* d = note->inline_data(); d != nullptr) {
            data = {reinterpret_cast<const std::byte*>(d->data()), d->size()};
          }
          hostfn::ready(*this, note->args()->Get(0), note->args()->Get(1), note->args()->Get(2) != 0,
                        static_cast<CUresult>(static_cast<int32_t>(note->args()->Get(3))), data);
          return true;
        });
  });
}

CUresult Session::flush() {
  std::lock_guard<std::mutex> lock(mu_);
  return wire_.flush();
}

CUresult Session::host_fn_done(uint64_t firing, std::span<const std::byte> data) {
  return wire_.send_out_of_band(Op::HostFnDone, firing, data);
}

CUresult Session::host_copy_part(uint64_t firing, uint64_t offset, std::span<const std::byte> data) {
  const uint64_t args[] = {firing, offset};
  return wire_.send_out_of_band(Op::HostCopyPartToServer, args, data);
}

}  // namespace gpool::shim
