// JIT options, JIT logs and JIT linking for the session (protocol/include/gpool/protocol/jit_wire.h).
//
// LinkRun: the client (shim) collected a cuLinkCreate..cuLinkComplete session locally and sends
// its inputs, one segment each, with the link's options. The backend links them here
// (cuLinkCreate_v2/AddData_v2/Complete/Destroy) and the linked image is kept, under a
// per-session number, until the client fetches it with LinkFetch (at most kMaxPendingLinks; the
// oldest is dropped first). The client then loads it with ModuleLoad like any image.
#include "worker.h"

#include "gpool/common/log.h"
#include "gpool/protocol/jit_wire.h"

#include <cstring>

namespace gpool::server {
namespace jw = protocol::jit;

namespace {

constexpr size_t kMaxPendingLinks = 8;
constexpr uint64_t kMaxLinkInputs = 64;

}  // namespace

CUresult Worker::JitCall::decode(const Ctx& c, size_t first, size_t* next) {
  const uint64_t count = c.arg(first);
  if (count > jw::kMaxOptions || c.arg_count() < first + 1 + 2 * count) return CUDA_ERROR_INVALID_VALUE;
  for (uint64_t i = 0; i < count; ++i) {
    const uint64_t o = c.arg(first + 1 + 2 * i), v = c.arg(first + 2 + 2 * i);
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
  *next = first + 1 + 2 * count;
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

CUresult Worker::op_link_run(Ctx& c) {
  auto skip_all = [&](CUresult st) {
    while (in_->segments_left() > 0) {
      if (!in_->skip_segment().ok()) {
        c.fatal = true;
        return CUDA_ERROR_UNKNOWN;
      }
    }
    return st;
  };
  JitCall jit;
  size_t at = 0;
  if (CUresult st = jit.decode(c, 0, &at); st != CUDA_SUCCESS) return skip_all(st);
  const uint64_t inputs = c.arg(at);
  if (inputs == 0 || inputs > kMaxLinkInputs || c.arg_count() != at + 1 + inputs ||
      head_.segment_lengths.size() != inputs || in_->segments_left() != inputs) {
    return skip_all(CUDA_ERROR_INVALID_VALUE);
  }
  CUlinkState state = nullptr;
  CUresult st = drv_.cuLinkCreate_v2(static_cast<unsigned>(jit.options.size()), jit.options.data(),
                                     jit.values.data(), &state);
  if (st != CUDA_SUCCESS) {
    jit.encode(c);
    return skip_all(st);
  }
  for (uint64_t i = 0; i < inputs; ++i) {
    const uint64_t type = c.arg(at + 1 + i);
    const uint64_t bytes = head_.segment_lengths[i];
    std::vector<std::byte> data(bytes + 1);  // NUL after PTX text
    if (!in_->recv_segment({data.data(), bytes}).ok()) {
      drv_.cuLinkDestroy(state);
      c.fatal = true;
      return CUDA_ERROR_UNKNOWN;
    }
    if (st != CUDA_SUCCESS) continue;  // receive the rest, add nothing more
    if (type > CU_JIT_INPUT_NVVM) {
      st = CUDA_ERROR_INVALID_VALUE;
      continue;
    }
    const std::string name = "input " + std::to_string(i);
    st = drv_.cuLinkAddData_v2(state, static_cast<CUjitInputType>(type), data.data(), bytes, name.c_str(), 0,
                               nullptr, nullptr);
  }
  void* image = nullptr;
  size_t size = 0;
  if (st == CUDA_SUCCESS) st = drv_.cuLinkComplete(state, &image, &size);
  uint64_t id = 0;
  if (st == CUDA_SUCCESS) {
    if (pending_links_.size() >= kMaxPendingLinks) pending_links_.erase(pending_links_.begin());
    id = ++link_counter_;
    const auto* p = static_cast<const std::byte*>(image);
    pending_links_[id].assign(p, p + size);
  }
  drv_.cuLinkDestroy(state);  // the image was copied; the driver frees its own
  c.results = {id, static_cast<uint64_t>(size)};
  jit.encode(c);
  return st;
}

CUresult Worker::op_link_fetch(Ctx& c) {
  auto it = pending_links_.find(c.arg(0));
  if (it == pending_links_.end() || it->second.size() != c.arg(1)) return CUDA_ERROR_INVALID_VALUE;
  fetched_link_ = std::move(it->second);
  pending_links_.erase(it);
  c.segments_out.push_back({fetched_link_.data(), fetched_link_.size()});
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
