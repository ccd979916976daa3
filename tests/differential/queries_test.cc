// Differential bodies: entry points the shim forwards or answers itself since issue 9 (stream
// attributes, module enumeration, function and device queries, cluster occupancy), the same on
// every backend.
#include <cstring>
#include <set>
#include <string>

#include "suite.h"

namespace diff {
namespace {

class QueriesTest : public DiffTest {};

TEST_F(QueriesTest, StreamAttributes) {
  CUstream a = nullptr, b = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&a, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&b, CU_STREAM_NON_BLOCKING));
  CUstreamAttrValue v{};
  v.syncPolicy = CU_SYNC_POLICY_YIELD;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamSetAttribute(a, CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY, &v));
  CUstreamAttrValue got{};
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamGetAttribute(a, CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY, &got));
  EXPECT_SAME_VALUE(CU_SYNC_POLICY_YIELD, got.syncPolicy);
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamCopyAttributes(b, a));
  got = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamGetAttribute(b, CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY, &got));
  EXPECT_SAME_VALUE(CU_SYNC_POLICY_YIELD, got.syncPolicy);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuStreamGetAttribute(a, CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY, nullptr));
  CUdevice d = -1;
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamGetDevice(a, &d));
  EXPECT_SAME_VALUE(0, d);
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(b));
}

TEST_F(QueriesTest, ModuleEnumerationAndFunctionQueries) {
  CUmodule mod = load_ptx("arith.ptx");
  unsigned count = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleGetFunctionCount(&count, mod));
  EXPECT_SAME_VALUE(2, count);
  CUfunction fns[2] = {};
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleEnumerateFunctions(fns, 2, mod));
  std::set<std::string> names;
  for (CUfunction f : fns) {
    const char* name = nullptr;
    EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetName(&name, f));
    if (name != nullptr) names.insert(name);
    CUmodule owner = nullptr;
    EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetModule(&owner, f));
    EXPECT_EQ(mod, owner);
    CUfunctionLoadingState state = CU_FUNCTION_LOADING_STATE_UNLOADED;
    EXPECT_CU(CUDA_SUCCESS, api().cuFuncIsLoaded(&state, f));
    EXPECT_SAME_VALUE(CU_FUNCTION_LOADING_STATE_LOADED, state);
  }
  EXPECT_EQ((std::set<std::string>{"add_one", "saxpy"}), names);
  CUlaunchConfig cfg{};
  cfg.gridDimX = 4;
  cfg.gridDimY = cfg.gridDimZ = 1;
  cfg.blockDimX = 128;
  cfg.blockDimY = cfg.blockDimZ = 1;
  int cluster = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxPotentialClusterSize(&cluster, fns[0], &cfg));
  record_machine("max potential cluster size", cluster);
  int clusters = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuOccupancyMaxActiveClusters(&clusters, fns[0], &cfg));
  EXPECT_GE(clusters, 1);
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

// (cuDeviceGetProperties is deprecated in cuda.h, so the suite does not call it.)
TEST_F(QueriesTest, DeviceByBusId) {
  char bus[32] = {};
  ASSERT_CU(CUDA_SUCCESS, api().cuDeviceGetPCIBusId(bus, sizeof bus, dev_));
  CUdevice back = -1;
  EXPECT_CU(CUDA_SUCCESS, api().cuDeviceGetByPCIBusId(&back, bus));
  EXPECT_SAME_VALUE(dev_, back);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuDeviceGetByPCIBusId(&back, "not a bus id"));
}

}  // namespace
}  // namespace diff
