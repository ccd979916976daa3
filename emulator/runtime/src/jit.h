// JIT options (CUjit_option arrays of cuModuleLoadDataEx, cuLinkCreate,
// cuLinkAddData/File and cuLibraryLoadData) as the interpreter honours them.
//
// What changes behaviour:
//  - CU_JIT_MAX_REGISTERS caps each kernel's register count (NUM_REGS,
//    MAX_THREADS_PER_BLOCK, occupancy, the launch-resource check); values
//    below 16 count as 16, as ptxas does.
//  - CU_JIT_THREADS_PER_BLOCK (in/out) caps registers so that a block of that
//    many threads fits the register file; the value written back is the
//    count targeted (the input, at most 1024).
//  - CU_JIT_INFO/ERROR_LOG_BUFFER with *_SIZE_BYTES (in: capacity, out: bytes
//    written including the NUL); CU_JIT_LOG_VERBOSE adds per-kernel lines.
//  - CU_JIT_WALL_TIME (out: float milliseconds of the load or link).
//  - CU_JIT_TARGET (a CUjit_target) bounds the PTX selected (at most that
//    virtual architecture); CU_JIT_TARGET_FROM_CUCONTEXT is the default.
// Accepted with no effect on the interpreter: optimisation level, fallback
// strategy (the emulator always runs PTX), cache mode, debug/line info,
// the LTO-era flags and the other compile-quality options.
// Refused: an option number outside CUjit_option (CUDA_ERROR_INVALID_VALUE),
// CU_JIT_GLOBAL_SYMBOL_NAMES/ADDRESSES/COUNT (binding device symbols to host
// addresses; CUDA_ERROR_NOT_SUPPORTED), both logged by name.
//
// Thread safety: a JitOptions belongs to one call (or one CUlinkState).
#pragma once

#include "runtime.h"

#include <string>

namespace gpool::emu::rt {

struct JitOptions {
  uint32_t max_registers = 0;      // 0: no cap
  uint32_t threads_per_block = 0;  // 0: no cap
  uint32_t target_sm = 0;          // 0: the device's
  bool verbose = false;
  char* info_buf = nullptr;
  size_t info_cap = 0;
  char* error_buf = nullptr;
  size_t error_cap = 0;
  // Slots written back (index into optionValues, -1: none).
  int info_size_slot = -1, error_size_slot = -1, wall_time_slot = -1, threads_slot = -1;
  std::string info, error;  // accumulated log text
  int64_t start_ns = 0;

  // Register cap for kernels built under these options (0: none), for a device with
  // `regs_per_block` registers per block.
  uint32_t register_cap(int regs_per_block) const;
};

// Reads an option array. Errors: INVALID_VALUE (null arrays with n > 0, an unknown option),
// NOT_SUPPORTED (options listed above).
CUresult jit_parse(unsigned n, const CUjit_option* options, void* const* values, JitOptions* out,
                   const char* api);

// Copies the logs into the caller's buffers and writes the output values back into `values`.
void jit_finish(JitOptions& o, void** values);

}  // namespace gpool::emu::rt
