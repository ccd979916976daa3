// gpool::abi::check_launch_attributes: cuLaunchKernelEx's attribute list, one answer for the
// emulator and the client shim (launch_attributes.h).
#include "gpool/driver_abi/launch_attributes.h"

#include <cstring>

#include "gpool/driver_abi/backend.h"

namespace gpool::abi {

CUresult check_launch_attributes(const CUlaunchConfig& config, bool* cooperative) {
  *cooperative = false;
  if (config.numAttrs > 0 && config.attrs == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (unsigned i = 0; i < config.numAttrs; ++i) {
    const CUlaunchAttribute& a = config.attrs[i];
    // The id as the integer the caller stored: a program may pass any value (an unknown one is
    // INVALID_VALUE below), and loading it as the enum type would be undefined behaviour.
    int id = 0;
    std::memcpy(&id, &a.id, sizeof id);
    switch (id) {
      case CU_LAUNCH_ATTRIBUTE_IGNORE:
        break;
      case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
        *cooperative = a.value.cooperative != 0;
        break;
      case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION: {
        const auto& d = a.value.clusterDim;
        if (d.x == 0 || d.y == 0 || d.z == 0 || config.gridDimX % d.x || config.gridDimY % d.y ||
            config.gridDimZ % d.z) {
          return CUDA_ERROR_INVALID_VALUE;
        }
        if (d.x * d.y * d.z > 1) return unimplemented("cuLaunchKernelEx with thread-block clusters");
        break;
      }
      // Scheduling hints with no effect on a launch's results (cuBLASLt sets
      // PROGRAMMATIC_STREAM_SERIALIZATION, others PRIORITY or an access policy): accepted.
      case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
      case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
      case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
      case CU_LAUNCH_ATTRIBUTE_PRIORITY:
      case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
      case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
      case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
      case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING:
        break;
      case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
        return unimplemented("cuLaunchKernelEx with CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT");
      case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
        return unimplemented("cuLaunchKernelEx with CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT");
      default:
        return CUDA_ERROR_INVALID_VALUE;
    }
  }
  return CUDA_SUCCESS;
}

}  // namespace gpool::abi
