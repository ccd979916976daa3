// Shim: JIT options on the wire (see jit_options.h).
#include "jit_options.h"

#include <algorithm>
#include <cstring>

#include "gpool/common/log.h"
#include "gpool/protocol/jit_wire.h"

namespace gpool::shim {
namespace jw = protocol::jit;

CUresult encode_jit(unsigned n, const CUjit_option* options, void* const* values, JitRequest* out,
                    const char* api) {
  out->args = {0};
  if (n == 0) return CUDA_SUCCESS;
  if (options == nullptr || n > jw::kMaxOptions) return CUDA_ERROR_INVALID_VALUE;
  uint64_t count = 0;
  for (unsigned i = 0; i < n; ++i) {
    int o = 0;  // read as an int: a number outside the enum is not a valid CUjit_option value
    std::memcpy(&o, &options[i], sizeof o);
    void* v = values != nullptr ? values[i] : nullptr;
    const int slot = values != nullptr ? static_cast<int>(i) : -1;
    if (o < 0 || o >= jw::kNumOptions) {
      gpool::log::logger("shim").error("{}: unknown JIT option {}", api, o);
      return CUDA_ERROR_INVALID_VALUE;
    }
    switch (o) {
      case jw::kInfoLogBuffer: out->info_buf = static_cast<char*>(v); continue;
      case jw::kErrorLogBuffer: out->error_buf = static_cast<char*>(v); continue;
      case jw::kInfoLogSize:
        out->info_cap = reinterpret_cast<uintptr_t>(v);
        out->info_size_slot = slot;
        break;
      case jw::kErrorLogSize:
        out->error_cap = reinterpret_cast<uintptr_t>(v);
        out->error_size_slot = slot;
        break;
      case jw::kWallTime: out->wall_slot = slot; break;
      case jw::kThreadsPerBlock: out->threads_slot = slot; break;
      default:
        if (!jw::sendable_option(o)) {
          gpool::log::logger("shim").error(
              "{}: JIT option {} passes pointers into this process and cannot be sent to a gpool server", api, o);
          return CUDA_ERROR_NOT_SUPPORTED;
        }
    }
    out->args.push_back(static_cast<uint64_t>(o));
    out->args.push_back(o == jw::kWallTime ? 0 : static_cast<uint64_t>(reinterpret_cast<uintptr_t>(v)));
    ++count;
  }
  out->args[0] = count;
  return CUDA_SUCCESS;
}

void apply_jit_answer(const JitRequest& req, const Reply& reply, size_t first, void** values) {
  if (reply.results.size() < first + 4) return;
  const uint64_t info_used = reply.results[first], error_used = reply.results[first + 1];
  if (info_used + error_used > reply.inline_data.size()) return;  // a malformed answer: leave things as they are
  auto copy = [&](char* buf, size_t cap, int slot, size_t from, uint64_t n) {
    size_t written = 0;
    if (buf != nullptr && cap > 0 && n > 0) {
      written = std::min<size_t>(n, cap);
      std::memcpy(buf, reply.inline_data.data() + from, written);
      buf[written - 1] = '\0';
    } else if (buf != nullptr && cap > 0) {
      buf[0] = '\0';
    }
    if (values != nullptr && slot >= 0) values[slot] = reinterpret_cast<void*>(static_cast<uintptr_t>(written));
  };
  copy(req.info_buf, req.info_cap, req.info_size_slot, 0, info_used);
  copy(req.error_buf, req.error_cap, req.error_size_slot, info_used, error_used);
  if (values == nullptr) return;
  if (req.wall_slot >= 0) {
    const auto bits = static_cast<uint32_t>(reply.results[first + 2]);
    float ms = 0;
    std::memcpy(&ms, &bits, sizeof ms);
    void* slot = nullptr;
    std::memcpy(&slot, &ms, sizeof ms);
    values[req.wall_slot] = slot;
  }
  if (req.threads_slot >= 0) values[req.threads_slot] = reinterpret_cast<void*>(static_cast<uintptr_t>(reply.results[first + 3]));
}

}  // namespace gpool::shim
