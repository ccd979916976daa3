// Worker: occupancy with thread-block clusters (calls.toml OccupancyCluster):
// cuOccupancyMaxActiveClusters and cuOccupancyMaxPotentialClusterSize with the launch
// configuration rebuilt from the call. Only attributes that are plain values reach the driver
// (cluster shape, preferred shape and policy, cooperative, priority, ignore); one that carries a handle or a
// pointer (events, graph nodes) is refused with CUDA_ERROR_INVALID_VALUE, so nothing the client
// sends is taken for an address.
#include <cstring>

#include "worker.h"

namespace gpool::server {
namespace {

bool plain_value(CUlaunchAttributeID id) {
  switch (id) {
    case CU_LAUNCH_ATTRIBUTE_IGNORE:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
      return true;
    default:
      return false;
  }
}

}  // namespace

CUresult Worker::op_occupancy_cluster(Ctx& c) {
  OccupancyClusterArgs a;
  if (!decode_args(c, a) || c.handle_count() != 2) return CUDA_ERROR_INVALID_VALUE;
  Function* f = function_of(c, 0);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 1, stream); st != CUDA_SUCCESS) return st;
  // Whole CUlaunchAttribute records, at most 32: the decoder (calls.toml inline attrs).
  std::vector<CUlaunchAttribute> attrs(a.attrs.size() / sizeof(CUlaunchAttribute));
  if (!attrs.empty()) std::memcpy(attrs.data(), a.attrs.data(), a.attrs.size());
  for (const CUlaunchAttribute& a : attrs) {
    if (!plain_value(a.id)) return CUDA_ERROR_INVALID_VALUE;
  }
  CUlaunchConfig cfg{};
  cfg.gridDimX = static_cast<unsigned>(a.gx);
  cfg.gridDimY = static_cast<unsigned>(a.gy);
  cfg.gridDimZ = static_cast<unsigned>(a.gz);
  cfg.blockDimX = static_cast<unsigned>(a.bx);
  cfg.blockDimY = static_cast<unsigned>(a.by);
  cfg.blockDimZ = static_cast<unsigned>(a.bz);
  cfg.sharedMemBytes = static_cast<unsigned>(a.shared_bytes);
  cfg.hStream = stream;
  cfg.attrs = attrs.empty() ? nullptr : attrs.data();
  cfg.numAttrs = static_cast<unsigned>(attrs.size());
  int value = 0;
  CUresult st = CUDA_ERROR_INVALID_VALUE;
  if (a.which == 0) {
    st = drv_.cuOccupancyMaxActiveClusters(&value, f->fn, &cfg);
  } else if (a.which == 1) {
    st = drv_.cuOccupancyMaxPotentialClusterSize(&value, f->fn, &cfg);
  }
  if (st == CUDA_SUCCESS) c.results = {static_cast<uint64_t>(static_cast<int64_t>(value))};
  return st;
}

}  // namespace gpool::server
