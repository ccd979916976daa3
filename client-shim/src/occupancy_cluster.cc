// Shim: cuOccupancyMaxActiveClusters and cuOccupancyMaxPotentialClusterSize, forwarded with
// the launch configuration flattened (calls.toml OccupancyCluster). Attributes that carry a
// handle or a pointer (events, graph nodes) have no meaning for an occupancy question and are
// not forwarded: CUDA_ERROR_NOT_SUPPORTED, logged.
#include <cstring>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

CUresult occupancy_cluster(uint64_t which, int* out, CUfunction fn, const CUlaunchConfig* cfg) {
  if (out == nullptr || cfg == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (cfg->numAttrs > 0 && cfg->attrs == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t id = reinterpret_cast<uint64_t>(fn);
  const auto info = find_function(id);
  if (!info) return CUDA_ERROR_INVALID_HANDLE;
  if (cfg->numAttrs > 32) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < cfg->numAttrs; ++i) {
    switch (cfg->attrs[i].id) {
      case CU_LAUNCH_ATTRIBUTE_IGNORE:
      case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
      case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
      case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
      case CU_LAUNCH_ATTRIBUTE_PRIORITY:
        break;
      default:
        return gpool::abi::unimplemented("cluster occupancy with a launch attribute other than cluster "
                                         "shape, scheduling policy, cooperative or priority");
    }
  }
  std::vector<std::byte> attrs(cfg->numAttrs * sizeof(CUlaunchAttribute));
  if (!attrs.empty()) std::memcpy(attrs.data(), cfg->attrs, attrs.size());
  const uint64_t args[] = {which, cfg->gridDimX, cfg->gridDimY, cfg->gridDimZ, cfg->blockDimX,
                           cfg->blockDimY, cfg->blockDimZ, cfg->sharedMemBytes};
  const HandleRef h[] = {HandleRef(id, info->kernel ? gpool::remote::HandleKind_Kernel
                                                    : gpool::remote::HandleKind_Function),
                         stream_ref(cfg->hStream)};
  Reply r;
  if (CUresult st = Session::current().sync(Op::OccupancyCluster, args, h, attrs, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() != 1) return CUDA_ERROR_UNKNOWN;
  *out = static_cast<int>(static_cast<int64_t>(r.results[0]));
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuOccupancyMaxActiveClusters(int* clusters, CUfunction fn, const CUlaunchConfig* cfg) {
  return occupancy_cluster(0, clusters, fn, cfg);
}

extern "C" CUresult gpool_impl_cuOccupancyMaxPotentialClusterSize(int* size, CUfunction fn, const CUlaunchConfig* cfg) {
  return occupancy_cluster(1, size, fn, cfg);
}
