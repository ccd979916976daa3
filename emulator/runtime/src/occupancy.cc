// cuOccupancy*: occupancy from the thread, block, register and shared-memory
// limits of the emulated SM (see DeviceProfile).
#include "occupancy.h"

#include "context.h"

#include <algorithm>

namespace gpool::emu::rt {

int active_blocks_per_sm(const Function& f, const Device& d, int block_threads, size_t dyn_shared) {
  const DeviceProfile& p = d.prof;
  if (block_threads <= 0 || block_threads > max_threads_per_block(f, d)) return 0;
  const uint64_t shared = uint64_t{f.info->static_shared_bytes} + dyn_shared;
  if (shared > static_cast<uint64_t>(p.shared_per_block_optin)) return 0;
  const int warps = (block_threads + 31) / 32;
  int blocks = std::min(p.max_blocks_per_sm, p.max_threads_per_sm / (warps * 32));
  const int regs_per_warp = static_cast<int>(round_up(static_cast<uint64_t>(regs_per_thread(f)) * 32, 256));
  blocks = std::min(blocks, (p.regs_per_sm / regs_per_warp) / warps);
  if (shared > 0) {
    const uint64_t per_block = shared + static_cast<uint64_t>(p.reserved_shared_per_block);
    blocks = std::min<int>(blocks, static_cast<int>(static_cast<uint64_t>(p.shared_per_sm) / per_block));
  }
  return std::max(blocks, 0);
}

namespace {

CUresult resolve(CUfunction func, Function** f, Device** d) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  CUresult ready_err = CUDA_SUCCESS;
  *f = find_ready_function(func, &ready_err);
  if (*f == nullptr) return ready_err;
  *d = ctx->dev;
  return CUDA_SUCCESS;
}

int cluster_size_of(const Function& f, const CUlaunchConfig* config) {
  int size = 1;
  if (f.cluster_dims[0] > 0) size = f.cluster_dims[0] * std::max(1, f.cluster_dims[1].load()) * std::max(1, f.cluster_dims[2].load());
  for (unsigned i = 0; config != nullptr && i < config->numAttrs && config->attrs != nullptr; ++i) {
    if (config->attrs[i].id == CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION) {
      const auto& c = config->attrs[i].value.clusterDim;
      size = static_cast<int>(c.x * c.y * c.z);
    }
  }
  return size;
}

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(int* numBlocks, CUfunction func,
                                                                                    int blockSize,
                                                                                    size_t dynamicSMemSize,
                                                                                    unsigned int flags) {
  if (numBlocks == nullptr || blockSize <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags & ~static_cast<unsigned>(CU_OCCUPANCY_DISABLE_CACHING_OVERRIDE)) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  Device* d = nullptr;
  if (CUresult r = resolve(func, &f, &d); r != CUDA_SUCCESS) return r;
  *numBlocks = active_blocks_per_sm(*f, *d, blockSize, dynamicSMemSize);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuOccupancyMaxActiveBlocksPerMultiprocessor(int* numBlocks, CUfunction func,
                                                                           int blockSize, size_t dynamicSMemSize) {
  return gpool_impl_cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(numBlocks, func, blockSize,
                                                                          dynamicSMemSize, 0);
}

extern "C" CUresult gpool_impl_cuOccupancyMaxPotentialBlockSizeWithFlags(int* minGridSize, int* blockSize,
                                                                         CUfunction func,
                                                                         CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                                         size_t dynamicSMemSize, int blockSizeLimit,
                                                                         unsigned int flags) {
  if (minGridSize == nullptr || blockSize == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  Device* d = nullptr;
  if (CUresult r = resolve(func, &f, &d); r != CUDA_SUCCESS) return r;
  int limit = max_threads_per_block(*f, *d);
  if (blockSizeLimit > 0) limit = std::min(limit, blockSizeLimit);
  int best_threads = 0, best_blocks = 0, best_size = 0;
  for (int size = (limit / 32) * 32; size > 0; size -= 32) {
    const size_t dyn = blockSizeToDynamicSMemSize ? blockSizeToDynamicSMemSize(size) : dynamicSMemSize;
    const int blocks = active_blocks_per_sm(*f, *d, size, dyn);
    if (blocks * size > best_threads) {
      best_threads = blocks * size;
      best_blocks = blocks;
      best_size = size;
    }
  }
  if (best_size == 0 && limit > 0 && limit < 32) {  // a limit below one warp
    const size_t dyn = blockSizeToDynamicSMemSize ? blockSizeToDynamicSMemSize(limit) : dynamicSMemSize;
    best_blocks = active_blocks_per_sm(*f, *d, limit, dyn);
    best_size = best_blocks > 0 ? limit : 0;
  }
  *blockSize = best_size;
  *minGridSize = best_blocks * d->prof.sms;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuOccupancyMaxPotentialBlockSize(int* minGridSize, int* blockSize, CUfunction func,
                                                                CUoccupancyB2DSize blockSizeToDynamicSMemSize,
                                                                size_t dynamicSMemSize, int blockSizeLimit) {
  return gpool_impl_cuOccupancyMaxPotentialBlockSizeWithFlags(minGridSize, blockSize, func, blockSizeToDynamicSMemSize,
                                                              dynamicSMemSize, blockSizeLimit, 0);
}

extern "C" CUresult gpool_impl_cuOccupancyAvailableDynamicSMemPerBlock(size_t* dynamicSmemSize, CUfunction func,
                                                                       int numBlocks, int blockSize) {
  if (dynamicSmemSize == nullptr || numBlocks <= 0 || blockSize <= 0) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  Device* d = nullptr;
  if (CUresult r = resolve(func, &f, &d); r != CUDA_SUCCESS) return r;
  const DeviceProfile& p = d->prof;
  if (active_blocks_per_sm(*f, *d, blockSize, 0) < numBlocks) {
    *dynamicSmemSize = 0;
    return CUDA_SUCCESS;
  }
  const int64_t per_block = p.shared_per_sm / numBlocks - p.reserved_shared_per_block;
  int64_t avail = per_block - static_cast<int64_t>(f->info->static_shared_bytes);
  avail = std::min<int64_t>(avail, p.shared_per_block_optin - static_cast<int64_t>(f->info->static_shared_bytes));
  *dynamicSmemSize = static_cast<size_t>(std::max<int64_t>(avail, 0));
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuOccupancyMaxPotentialClusterSize(int* clusterSize, CUfunction func,
                                                                  const CUlaunchConfig* config) {
  if (clusterSize == nullptr || config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  Device* d = nullptr;
  if (CUresult r = resolve(func, &f, &d); r != CUDA_SUCCESS) return r;
  // Launches with clusters larger than one block are not emulated.
  *clusterSize = 1;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuOccupancyMaxActiveClusters(int* numClusters, CUfunction func,
                                                            const CUlaunchConfig* config) {
  if (numClusters == nullptr || config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Function* f = nullptr;
  Device* d = nullptr;
  if (CUresult r = resolve(func, &f, &d); r != CUDA_SUCCESS) return r;
  const int threads = static_cast<int>(config->blockDimX * config->blockDimY * config->blockDimZ);
  const int per_sm = active_blocks_per_sm(*f, *d, threads, config->sharedMemBytes);
  const int cluster = std::max(1, cluster_size_of(*f, config));
  *numClusters = per_sm * d->prof.sms / cluster;
  return CUDA_SUCCESS;
}
