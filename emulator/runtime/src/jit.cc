// JIT option parsing and write-back (see jit.h).
#include "jit.h"

#include <algorithm>
#include <cstring>

namespace gpool::emu::rt {
namespace {

uint32_t as_uint(void* v) { return static_cast<uint32_t>(reinterpret_cast<uintptr_t>(v)); }

// CUjit_target values are the virtual architecture's number (CU_TARGET_COMPUTE_75 = 75),
// with 65536 added for the "a" variants and 131072 for the "f" ones (CUDA 12.9+).
uint32_t target_arch(uint32_t t) { return t % 65536; }

void copy_log(const std::string& text, char* buf, size_t cap, int slot, void** values) {
  size_t written = 0;
  if (buf != nullptr && cap > 0) {
    const size_t n = std::min(text.size(), cap - 1);
    std::memcpy(buf, text.data(), n);
    buf[n] = '\0';
    written = n + 1;
  }
  if (slot >= 0) values[slot] = reinterpret_cast<void*>(static_cast<uintptr_t>(written));
}

}  // namespace

uint32_t JitOptions::register_cap(int regs_per_block) const {
  uint32_t cap = 0;
  if (max_registers != 0) cap = std::max<uint32_t>(max_registers, 16);
  if (threads_per_block != 0) {
    const uint32_t warps = (std::min<uint32_t>(threads_per_block, 1024) + 31) / 32;
    const uint32_t per_warp = static_cast<uint32_t>(regs_per_block) / warps / 256 * 256;
    const uint32_t per_thread = std::clamp<uint32_t>(per_warp / 32 / 8 * 8, 16, 255);
    cap = cap == 0 ? per_thread : std::min(cap, per_thread);
  }
  return cap;
}

CUresult jit_parse(unsigned n, const CUjit_option* options, void* const* values, JitOptions* out,
                   const char* api) {
  out->start_ns = now_ns();
  if (n == 0) return CUDA_SUCCESS;
  if (options == nullptr) return CUDA_ERROR_INVALID_VALUE;  // values may be null: no option then has a value
  for (unsigned i = 0; i < n; ++i) {
    void* v = values != nullptr ? values[i] : nullptr;
    const int slot = values != nullptr ? static_cast<int>(i) : -1;
    // Read as an int: a number outside the enum (refused below) is not a valid CUjit_option value.
    int opt = 0;
    std::memcpy(&opt, &options[i], sizeof opt);
    switch (opt) {
      case CU_JIT_MAX_REGISTERS: out->max_registers = as_uint(v); break;
      case CU_JIT_THREADS_PER_BLOCK:
        out->threads_per_block = as_uint(v);
        out->threads_slot = slot;
        break;
      case CU_JIT_WALL_TIME: out->wall_time_slot = slot; break;
      case CU_JIT_INFO_LOG_BUFFER: out->info_buf = static_cast<char*>(v); break;
      case CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES:
        out->info_cap = as_uint(v);
        out->info_size_slot = slot;
        break;
      case CU_JIT_ERROR_LOG_BUFFER: out->error_buf = static_cast<char*>(v); break;
      case CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES:
        out->error_cap = as_uint(v);
        out->error_size_slot = slot;
        break;
      case CU_JIT_LOG_VERBOSE: out->verbose = as_uint(v) != 0; break;
      case CU_JIT_TARGET: out->target_sm = target_arch(as_uint(v)); break;
      case CU_JIT_GLOBAL_SYMBOL_NAMES:
      case CU_JIT_GLOBAL_SYMBOL_ADDRESSES:
      case CU_JIT_GLOBAL_SYMBOL_COUNT:
        log().error("{}: JIT option {} (binding device symbols to host addresses) is not supported by the emulator",
                    api, opt);
        return CUDA_ERROR_NOT_SUPPORTED;
      default:
        if (opt < 0 || opt >= CU_JIT_NUM_OPTIONS) {
          log().error("{}: unknown JIT option {}", api, opt);
          return CUDA_ERROR_INVALID_VALUE;
        }
        // Optimisation level, fallback strategy, cache mode, debug/line info and the other
        // code-quality options: nothing to do for an interpreter.
        log().debug("{}: JIT option {} has no effect on the emulator", api, opt);
        break;
    }
  }
  return CUDA_SUCCESS;
}

void jit_finish(JitOptions& o, void** values) {
  if (values == nullptr) return;
  copy_log(o.info, o.info_buf, o.info_cap, o.info_size_slot, values);
  copy_log(o.error, o.error_buf, o.error_cap, o.error_size_slot, values);
  if (o.wall_time_slot >= 0) {
    const float ms = static_cast<float>(now_ns() - o.start_ns) / 1e6f;
    void* slot = nullptr;
    std::memcpy(&slot, &ms, sizeof ms);  // the driver stores the float in the pointer slot
    values[o.wall_time_slot] = slot;
  }
  if (o.threads_slot >= 0) {
    values[o.threads_slot] =
        reinterpret_cast<void*>(static_cast<uintptr_t>(std::min<uint32_t>(o.threads_per_block, 1024)));
  }
}

}  // namespace gpool::emu::rt
