// NVML entry points that gpool's NVML exports but does not implement: each returns
// NVML_ERROR_NOT_SUPPORTED and logs its name once (state.h, unsupported()). They are exported so
// that a program or library that resolves them (PyTorch resolves several NVLink and MIG calls by
// name at start) finds them and handles NOT_SUPPORTED as it does on GPUs that lack the feature.
// The list: clocks, fans, performance and power limits, ECC, NVLink, MIG, topology and affinity,
// PCIe counters, encoder/decoder, events, accounting, board and firmware identity, and the set*
// calls (a tenant may not change a shared device). Arguments are not read: whatever the real
// prototype, the x86-64 calling convention lets a variadic definition receive them.
#include "export.h"
#include "state.h"

#define GPOOL_NVML_UNSUPPORTED(name) \
  GPOOL_NVML_EXPORT nvmlReturn_t name(...) { return gpool::nvml::unsupported(#name); }

#define GPOOL_NVML_UNSUPPORTED_LIST(X)                                                            \
  X(nvmlDeviceGetSerial) X(nvmlDeviceGetMinorNumber) X(nvmlDeviceGetBrand)                       \
  X(nvmlDeviceGetBoardId) X(nvmlDeviceGetBoardPartNumber) X(nvmlDeviceGetVbiosVersion)           \
  X(nvmlDeviceGetInforomVersion) X(nvmlDeviceGetArchitecture) X(nvmlDeviceGetMultiGpuBoard)      \
  X(nvmlDeviceGetClockInfo) X(nvmlDeviceGetMaxClockInfo) X(nvmlDeviceGetClock)                   \
  X(nvmlDeviceGetApplicationsClock) X(nvmlDeviceGetDefaultApplicationsClock)                     \
  X(nvmlDeviceGetSupportedMemoryClocks) X(nvmlDeviceGetSupportedGraphicsClocks)                  \
  X(nvmlDeviceGetFanSpeed) X(nvmlDeviceGetFanSpeed_v2) X(nvmlDeviceGetNumFans)                   \
  X(nvmlDeviceGetPerformanceState) X(nvmlDeviceGetPowerState)                                    \
  X(nvmlDeviceGetPowerManagementMode) X(nvmlDeviceGetPowerManagementLimit)                       \
  X(nvmlDeviceGetPowerManagementDefaultLimit) X(nvmlDeviceGetPowerManagementLimitConstraints)    \
  X(nvmlDeviceGetEnforcedPowerLimit) X(nvmlDeviceGetTotalEnergyConsumption)                      \
  X(nvmlDeviceGetTemperatureThreshold) X(nvmlDeviceGetCurrentClocksThrottleReasons)              \
  X(nvmlDeviceGetCurrentClocksEventReasons) X(nvmlDeviceGetSupportedClocksThrottleReasons)       \
  X(nvmlDeviceGetEccMode) X(nvmlDeviceGetTotalEccErrors) X(nvmlDeviceGetDetailedEccErrors)       \
  X(nvmlDeviceGetMemoryErrorCounter) X(nvmlDeviceGetRetiredPages) X(nvmlDeviceGetRemappedRows)   \
  X(nvmlDeviceGetPersistenceMode) X(nvmlDeviceGetDisplayMode) X(nvmlDeviceGetDisplayActive)      \
  X(nvmlDeviceGetMigMode) X(nvmlDeviceGetMaxMigDeviceCount) X(nvmlDeviceGetMigDeviceHandleByIndex) \
  X(nvmlDeviceGetDeviceHandleFromMigDeviceHandle) X(nvmlDeviceGetGpuInstanceId)                  \
  X(nvmlDeviceGetComputeInstanceId) X(nvmlDeviceIsMigDeviceHandle)                               \
  X(nvmlDeviceGetNvLinkState) X(nvmlDeviceGetNvLinkVersion) X(nvmlDeviceGetNvLinkCapability)     \
  X(nvmlDeviceGetNvLinkRemotePciInfo) X(nvmlDeviceGetNvLinkRemotePciInfo_v2)                     \
  X(nvmlDeviceGetNvLinkRemoteDeviceType) X(nvmlDeviceGetNvLinkErrorCounter)                      \
  X(nvmlDeviceGetTopologyCommonAncestor) X(nvmlDeviceGetTopologyNearestGpus)                     \
  X(nvmlDeviceGetP2PStatus) X(nvmlDeviceGetCpuAffinity) X(nvmlDeviceGetCpuAffinityWithinScope)   \
  X(nvmlDeviceGetMemoryAffinity) X(nvmlDeviceGetNumaNodeId)                                      \
  X(nvmlDeviceGetPcieThroughput) X(nvmlDeviceGetPcieReplayCounter)                               \
  X(nvmlDeviceGetCurrPcieLinkGeneration) X(nvmlDeviceGetCurrPcieLinkWidth)                       \
  X(nvmlDeviceGetMaxPcieLinkGeneration) X(nvmlDeviceGetMaxPcieLinkWidth) X(nvmlDeviceGetPcieSpeed) \
  X(nvmlDeviceGetEncoderUtilization) X(nvmlDeviceGetDecoderUtilization)                          \
  X(nvmlDeviceGetEncoderCapacity) X(nvmlDeviceGetEncoderStats) X(nvmlDeviceGetFBCStats)          \
  X(nvmlDeviceGetProcessUtilization) X(nvmlDeviceGetSamples) X(nvmlDeviceGetFieldValues)         \
  X(nvmlDeviceGetBAR1MemoryInfo) X(nvmlDeviceGetNumGpuCores) X(nvmlDeviceGetMemoryBusWidth)      \
  X(nvmlDeviceGetAccountingMode) X(nvmlDeviceGetAccountingStats) X(nvmlDeviceGetAccountingPids)  \
  X(nvmlDeviceGetVirtualizationMode) X(nvmlDeviceGetSupportedEventTypes)                         \
  X(nvmlDeviceGetMPSComputeRunningProcesses) X(nvmlDeviceGetMPSComputeRunningProcesses_v2)       \
  X(nvmlDeviceGetMPSComputeRunningProcesses_v3) X(nvmlDeviceGetBoardPartNumber_v2)               \
  X(nvmlDeviceOnSameBoard) X(nvmlDeviceGetAPIRestriction) X(nvmlDeviceGetGpuOperationMode)        \
  X(nvmlDeviceRegisterEvents) X(nvmlEventSetCreate) X(nvmlEventSetFree) X(nvmlEventSetWait)      \
  X(nvmlEventSetWait_v2) X(nvmlSystemGetHicVersion)                  \
  X(nvmlSystemGetTopologyGpuSet) X(nvmlUnitGetCount) X(nvmlUnitGetHandleByIndex)                 \
  X(nvmlDeviceSetComputeMode) X(nvmlDeviceSetPersistenceMode) X(nvmlDeviceSetApplicationsClocks) \
  X(nvmlDeviceResetApplicationsClocks) X(nvmlDeviceSetPowerManagementLimit)                      \
  X(nvmlDeviceSetEccMode) X(nvmlDeviceClearEccErrorCounts) X(nvmlDeviceSetGpuLockedClocks)       \
  X(nvmlDeviceResetGpuLockedClocks) X(nvmlDeviceSetMemoryLockedClocks)                           \
  X(nvmlDeviceResetMemoryLockedClocks) X(nvmlDeviceSetMigMode) X(nvmlDeviceSetAccountingMode)    \
  X(nvmlDeviceClearAccountingPids) X(nvmlDeviceSetAPIRestriction) X(nvmlDeviceSetGpuOperationMode) \
  X(nvmlDeviceModifyDrainState) X(nvmlDeviceQueryDrainState) X(nvmlDeviceRemoveGpu_v2)           \
  X(nvmlDeviceDiscoverGpus)

GPOOL_NVML_UNSUPPORTED_LIST(GPOOL_NVML_UNSUPPORTED)
