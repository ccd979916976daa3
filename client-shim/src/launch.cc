// Shim: kernel launches (async: packed with the cached parameter layout, never a round trip),
// occupancy (sync). Host functions: hostfn.cc.
#include <algorithm>
#include <cstring>
#include <iterator>
#include <vector>

#include "contexts.h"
#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/launch_attributes.h"
#include "pool.h"
#include "state.h"

using namespace gpool::shim;

namespace gpool::shim {

CUresult pack_kernel_params(const FunctionInfo& f, void** params, void** extra, std::vector<std::byte>& buf) {
  buf.assign(f.param_bytes, std::byte{0});
  if (params != nullptr) {
    for (size_t i = 0; i < f.offsets.size(); ++i) {
      if (params[i] == nullptr) return CUDA_ERROR_INVALID_VALUE;
      std::memcpy(buf.data() + f.offsets[i], params[i], f.sizes[i]);
    }
  } else if (extra != nullptr) {
    const void* ptr = nullptr;
    size_t size = 0;
    for (size_t i = 0; extra[i] != CU_LAUNCH_PARAM_END; i += 2) {
      if (extra[i] == CU_LAUNCH_PARAM_BUFFER_POINTER) ptr = extra[i + 1];
      else if (extra[i] == CU_LAUNCH_PARAM_BUFFER_SIZE) size = *static_cast<size_t*>(extra[i + 1]);
      else return CUDA_ERROR_INVALID_VALUE;
    }
    if (ptr == nullptr || size < f.param_bytes) return CUDA_ERROR_INVALID_VALUE;
    std::memcpy(buf.data(), ptr, f.param_bytes);
  } else if (!f.offsets.empty()) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

}  // namespace gpool::shim

namespace {

// Block and grid dimension limits of every device CUDA 13 supports (compute capability 7.5 and
// up: CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_* and MAX_GRID_DIM_*), checked here so that an
// impossible configuration is refused by the launch itself, as the driver does, instead of by
// the server at the next synchronizing call.
constexpr unsigned kMaxBlock[3] = {1024, 1024, 64};
constexpr unsigned kMaxGrid[3] = {2147483647u, 65535, 65535};

// `attrs`: a cuLaunchKernelEx list already checked by check_launch_attributes; when it holds
// anything but IGNORE the launch travels as LaunchKernelAttrs with it (so a captured launch gives
// a node with the program's attributes, graph_attr.cc), else as LaunchKernel.
CUresult launch(CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                unsigned bz, unsigned smem, CUstream stream, void** params, void** extra, bool coop,
                const CUlaunchAttribute* attrs = nullptr, unsigned num_attrs = 0) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t id = reinterpret_cast<uint64_t>(fn);
  auto f = find_function(id);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  if (gx == 0 || gy == 0 || gz == 0 || bx == 0 || by == 0 || bz == 0) return CUDA_ERROR_INVALID_VALUE;
  if (f->max_threads == 0) {
    // The server could not describe this function (no layout, no block limit): its backend
    // cannot run it. The launch goes to the backend anyway, synchronously, so that it fails the
    // way the backend fails it directly (the emulator: sticky CUDA_ERROR_INVALID_PTX), never
    // with an error of the shim's own that a library might ignore (Session::launch_undescribed).
    const HandleRef h[] = {HandleRef(id, f->kernel ? gpool::remote::HandleKind_Kernel
                                                   : gpool::remote::HandleKind_Function),
                           stream_ref(stream)};
    const uint64_t args[] = {gx, gy, gz, bx, by, bz, smem, coop ? 1u : 0u};
    return Session::instance().launch_undescribed(Op::LaunchKernel, args, h, {});
  }
  // Launch configuration errors are reported by the launch itself (not sticky), as the driver does.
  if (uint64_t{bx} * by * bz > f->max_threads) return CUDA_ERROR_INVALID_VALUE;
  if (bx > kMaxBlock[0] || by > kMaxBlock[1] || bz > kMaxBlock[2]) return CUDA_ERROR_INVALID_VALUE;
  if (gx > kMaxGrid[0] || gy > kMaxGrid[1] || gz > kMaxGrid[2]) return CUDA_ERROR_INVALID_VALUE;
  if (smem > f->max_dynamic_smem) return CUDA_ERROR_INVALID_VALUE;
  thread_local std::vector<std::byte> buf;
  if (CUresult st = pack_kernel_params(*f, params, extra, buf); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {HandleRef(id, f->kernel ? gpool::remote::HandleKind_Kernel
                                                 : gpool::remote::HandleKind_Function),
                         stream_ref(stream)};
  if (num_attrs > 0) {
    thread_local std::vector<uint64_t> ex;
    ex.assign({gx, gy, gz, bx, by, bz, smem, 0});
    for (unsigned i = 0; i < num_attrs; ++i) {
      int aid = 0;
      std::memcpy(&aid, &attrs[i].id, sizeof aid);
      if (aid == CU_LAUNCH_ATTRIBUTE_IGNORE) continue;
      uint64_t words[sizeof(CUlaunchAttributeValue) / 8];
      std::memcpy(words, &attrs[i].value, sizeof words);
      ex.push_back(static_cast<uint64_t>(aid));
      ex.insert(ex.end(), std::begin(words), std::end(words));
      ++ex[7];
    }
    if (ex[7] > 32) return gpool::abi::unimplemented("cuLaunchKernelEx with more than 32 attributes");
    if (ex[7] != 0) return Session::instance().async(Op::LaunchKernelAttrs, ex, h, buf);
  }
  const uint64_t args[] = {gx, gy, gz, bx, by, bz, smem, coop ? 1u : 0u};
  return Session::instance().async(Op::LaunchKernel, args, h, buf);
}

}  // namespace

extern "C" CUresult gpool_impl_cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                              unsigned bx, unsigned by, unsigned bz, unsigned smem,
                                              CUstream s, void** params, void** extra) {
  return launch(f, gx, gy, gz, bx, by, bz, smem, s, params, extra, false);
}

extern "C" CUresult gpool_impl_cuLaunchCooperativeKernel(CUfunction f, unsigned gx, unsigned gy,
                                                         unsigned gz, unsigned bx, unsigned by,
                                                         unsigned bz, unsigned smem, CUstream s,
                                                         void** params) {
  return launch(f, gx, gy, gz, bx, by, bz, smem, s, params, nullptr, true);
}

extern "C" CUresult gpool_impl_cuLaunchKernelEx(const CUlaunchConfig* c, CUfunction f, void** params,
                                                void** extra) {
  if (c == nullptr) return CUDA_ERROR_INVALID_VALUE;
  // The same answers as the emulator's cuLaunchKernelEx, so a library's launch behaves alike
  // directly and through the pool; the attributes travel with the launch (LaunchKernelAttrs),
  // so the backend sees them and a captured launch keeps them on its node.
  bool coop = false;
  if (CUresult st = gpool::abi::check_launch_attributes(*c, &coop); st != CUDA_SUCCESS) return st;
  return launch(f, c->gridDimX, c->gridDimY, c->gridDimZ, c->blockDimX, c->blockDimY, c->blockDimZ,
                c->sharedMemBytes, c->hStream, params, extra, coop, c->attrs, c->numAttrs);
}

extern "C" CUresult gpool_impl_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
    int* blocks, CUfunction f, int block_size, size_t smem, unsigned int flags) {
  if (blocks == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t id = reinterpret_cast<uint64_t>(f);
  auto info = find_function(id);
  if (!info) return CUDA_ERROR_INVALID_HANDLE;
  const uint64_t args[] = {static_cast<uint64_t>(block_size), smem, flags};
  const HandleRef h[] = {HandleRef(id, info->kernel ? gpool::remote::HandleKind_Kernel
                                                    : gpool::remote::HandleKind_Function)};
  uint64_t v = 0;
  if (CUresult st = Session::instance().sync_value(Op::OccupancyMaxActiveBlocks, args, h, v); st != CUDA_SUCCESS) {
    return st;
  }
  *blocks = static_cast<int>(v);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction f,
                                                                           int block_size, size_t smem) {
  return gpool_impl_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(blocks, f, block_size, smem, 0);
}

// The block size with the highest occupancy, found on the client: the callback that maps a
// block size to its dynamic shared memory is the caller's code, so it runs here, and each
// candidate (a multiple of the warp size up to the function's and the caller's limit, largest
// first; ties keep the larger size) costs one forwarded per-block-size occupancy query.
extern "C" CUresult gpool_impl_cuOccupancyMaxPotentialBlockSizeWithFlags(
    int* min_grid, int* block_size, CUfunction f, CUoccupancyB2DSize smem_of, size_t smem,
    int limit, unsigned int flags) {
  if (min_grid == nullptr || block_size == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  auto info = find_function(reinterpret_cast<uint64_t>(f));
  if (!info) return CUDA_ERROR_INVALID_HANDLE;
  const gpool::remote::DeviceInfo* dev = Pool::global().device(current_device());
  if (dev == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  int max = static_cast<int>(info->max_threads);
  if (limit > 0) max = std::min(max, limit);
  int best_threads = 0, best_blocks = 0, best_size = 0;
  auto try_size = [&](int size) -> CUresult {
    int blocks = 0;
    const size_t dyn = smem_of != nullptr ? smem_of(size) : smem;
    const CUresult st = gpool_impl_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(&blocks, f, size, dyn, flags);
    if (st == CUDA_SUCCESS && blocks * size > best_threads) {
      best_threads = blocks * size;
      best_blocks = blocks;
      best_size = size;
    }
    return st;
  };
  for (int size = (max / 32) * 32; size > 0; size -= 32) {
    if (CUresult st = try_size(size); st != CUDA_SUCCESS) return st;
  }
  if (best_size == 0 && max > 0 && max < 32) {  // a limit below one warp
    if (CUresult st = try_size(max); st != CUDA_SUCCESS) return st;
  }
  *block_size = best_size;
  *min_grid = best_blocks * dev->attrs[CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT];
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuOccupancyMaxPotentialBlockSize(int* min_grid, int* block_size, CUfunction f,
                                                                CUoccupancyB2DSize smem_of, size_t smem,
                                                                int limit) {
  return gpool_impl_cuOccupancyMaxPotentialBlockSizeWithFlags(min_grid, block_size, f, smem_of, smem, limit, 0);
}
