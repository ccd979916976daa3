// JIT options, JIT logs and JIT linking for the session (protocol/include/gpool/protocol/jit_wire.h).
//
// Link states: one backend CUlinkState per client link (LinkCreate .. LinkDestroy, numbered by
// the client, at most kMaxLinks live per session), so each cuLink* call's errors and logs come
// from the backend call of the same name. The linked image is copied out of the driver at
// LinkComplete and sent by LinkFetch; the client loads it with ModuleLoad like any image.
// A session's leftover states go with the worker process.
#include "worker.h"

#include "image_check.h"

#include "gpool/common/log.h"
#include "gpool/protocol/jit_wire.h"

#include <cstring>
#include <memory>

namespace gpool::server {
namespace jw = protocol::jit;

namespace {

constexpr size_t kMaxLinks = 16;
constexpr uint64_t kMaxLinkInputs = 256;
// One input is at most 1 GiB (the server holds it while linking): calls.toml LinkAddData's segment `max`.

}  // namespace

CUresult Worker::JitCall::decode(uint64_t count, std::span<const uint64_t> pairs) {
  if (count > jw::kMaxOptions || pairs.size() != 2 * count) return CUDA_ERROR_INVALID_VALUE;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t o = pairs[2 * i], v = pairs[2 * i + 1];
    const int opt = static_cast<int>(o);
    if (o >= static_cast<uint64_t>(jw::kNumOptions) || !jw::sendable_option(opt)) return CUDA_ERROR_INVALID_VALUE;
    if (opt == jw::kInfoLogSize || opt == jw::kErrorLogSize) {
      std::vector<char>& buf = opt == jw::kInfoLogSize ? info : error;
      buf.assign(static_cast<size_t>(std::min<uint64_t>(v, jw::kMaxLogBytes)), '\0');
      options.push_back(opt == jw::kInfoLogSize ? CU_JIT_INFO_LOG_BUFFER : CU_JIT_ERROR_LOG_BUFFER);
      values.push_back(buf.data());
      options.push_back(static_cast<CUjit_option>(opt));
      values.push_back(reinterpret_cast<void*>(static_cast<uintptr_t>(buf.size())));
      (opt == jw::kInfoLogSize ? info_slot : error_slot) = static_cast<int>(values.size() - 1);
      continue;
    }
    if (opt == jw::kWallTime) wall_slot = static_cast<int>(values.size());
    if (opt == jw::kThreadsPerBlock) threads_slot = static_cast<int>(values.size());
    options.push_back(static_cast<CUjit_option>(opt));
    values.push_back(reinterpret_cast<void*>(static_cast<uintptr_t>(v)));
  }
  return CUDA_SUCCESS;
}

void Worker::JitCall::encode(Ctx& c) const {
  auto used = [&](int slot, const std::vector<char>& buf) -> uint64_t {
    if (slot < 0 || buf.empty()) return 0;
    const uint64_t n = reinterpret_cast<uintptr_t>(values[static_cast<size_t>(slot)]);
    return std::min<uint64_t>(n, buf.size());
  };
  const uint64_t info_used = used(info_slot, info), error_used = used(error_slot, error);
  uint64_t wall = 0;
  if (wall_slot >= 0) {
    float ms = 0;
    void* v = values[static_cast<size_t>(wall_slot)];
    std::memcpy(&ms, &v, sizeof ms);
    uint32_t bits = 0;
    std::memcpy(&bits, &ms, sizeof bits);
    wall = bits;
  }
  const uint64_t threads =
      threads_slot >= 0 ? reinterpret_cast<uintptr_t>(values[static_cast<size_t>(threads_slot)]) : 0;
  c.results.insert(c.results.end(), {info_used, error_used, wall, threads});
  const auto* i = reinterpret_cast<const std::byte*>(info.data());
  const auto* e = reinterpret_cast<const std::byte*>(error.data());
  c.inline_out.insert(c.inline_out.end(), i, i + info_used);
  c.inline_out.insert(c.inline_out.end(), e, e + error_used);
}

Worker::LinkSession* Worker::link_of(uint64_t id) {
  auto it = links_.find(id);
  return it == links_.end() ? nullptr : it->second.get();
}

CUresult Worker::op_link_create(Ctx& c) {
  LinkCreateArgs a;  // the JIT options' count is bounded by jit_wire.h's kMaxOptions (64) on the row
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = a.link;
  if (id == 0 || links_.count(id) || links_.size() >= kMaxLinks) return CUDA_ERROR_INVALID_VALUE;
  auto link = std::make_unique<LinkSession>();
  if (CUresult st = link->jit.decode(a.jit_count, a.jit); st != CUDA_SUCCESS) return st;
  // The option arrays (and the log buffers they point to) live in `link` for the state's life:
  // the driver writes the logs at each later call.
  const CUresult st = drv_.cuLinkCreate_v2(static_cast<unsigned>(link->jit.options.size()),
                                           link->jit.options.data(), link->jit.values.data(), &link->state);
  link->jit.encode(c);
  if (st == CUDA_SUCCESS) links_[id] = std::move(link);
  return st;
}

CUresult Worker::op_link_add(Ctx& c) {
  LinkAddDataArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;  // the input segment is skipped unread
  LinkSession* link = link_of(a.link);
  const uint64_t type = a.input_type;
  // One segment of 1 byte .. 1 GiB: the decoder (calls.toml segments).
  if (link == nullptr || type > CU_JIT_INPUT_NVVM || link->inputs >= kMaxLinkInputs) {
    if (in_->segments_left() > 0 && !in_->skip_segment().ok()) {
      c.fatal = true;
      return CUDA_ERROR_UNKNOWN;
    }
    return link == nullptr ? CUDA_ERROR_INVALID_HANDLE : CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t bytes = a.input_bytes;
  std::vector<std::byte> data(bytes + 1);  // NUL after PTX text
  if (!in_->recv_segment({data.data(), bytes}).ok()) {
    c.fatal = true;
    return CUDA_ERROR_UNKNOWN;
  }
  // Images get the same bounds check as uploads to ModuleLoad (a wrapper holds pointers the
  // driver would follow; headers must stay inside what was sent).
  if (type == CU_JIT_INPUT_CUBIN || type == CU_JIT_INPUT_FATBINARY) {
    if (std::string why; !image_bounds_ok({data.data(), bytes}, why)) {
      log::logger("worker").warn("session {}: refused a link input of {} bytes: {}", params_.session_id, bytes, why);
      return CUDA_ERROR_INVALID_IMAGE;
    }
  }
  const std::string name = "input " + std::to_string(link->inputs++);
  const CUresult st = drv_.cuLinkAddData_v2(link->state, static_cast<CUjitInputType>(type), data.data(), bytes,
                                            name.c_str(), 0, nullptr, nullptr);
  link->jit.encode(c);
  return st;
}

CUresult Worker::op_link_complete(Ctx& c) {
  LinkCompleteArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  LinkSession* link = link_of(a.link);
  if (link == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  void* image = nullptr;
  size_t size = 0;
  const CUresult st = drv_.cuLinkComplete(link->state, &image, &size);
  if (st == CUDA_SUCCESS) {
    const auto* p = static_cast<const std::byte*>(image);
    link->image.assign(p, p + size);  // the driver's copy goes with the state
  }
  c.results = {st == CUDA_SUCCESS ? static_cast<uint64_t>(size) : 0};
  link->jit.encode(c);
  return st;
}

CUresult Worker::op_link_fetch(Ctx& c) {
  LinkFetchArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  LinkSession* link = link_of(a.link);
  if (link == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (link->image.empty() || link->image.size() != a.image_bytes) return CUDA_ERROR_INVALID_VALUE;
  c.segments_out.push_back({link->image.data(), link->image.size()});
  return CUDA_SUCCESS;
}

CUresult Worker::op_link_destroy(Ctx& c) {
  LinkDestroyArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  auto it = links_.find(a.link);
  if (it == links_.end()) return CUDA_ERROR_INVALID_HANDLE;
  const CUresult st = drv_.cuLinkDestroy(it->second->state);
  links_.erase(it);
  return st;
}

}  // namespace gpool::server
