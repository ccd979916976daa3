// The differential suite's one interface to a CUDA driver: a libcuda.so.1 opened by path with
// dlopen, and every entry point the test bodies call looked up by its real (versioned) symbol.
// The same test bodies run against whichever library is loaded: the emulator, the client shim
// (talking to a gpool-server) or NVIDIA's driver (ZLUDA's `CudaApi`, implemented once over dlsym).
//
// Ownership: CudaApi owns the dlopen handle and never closes it (driver libraries keep threads
// and atexit handlers). Thread safety: load() once from main() before any test; afterwards the
// pointers are read-only and may be called from any thread.
#pragma once

#include <cuda.h>

#include <string>

namespace diff {

// X(name): every entry point the bodies use. cuda.h maps names such as cuMemAlloc to their
// current versions (cuMemAlloc_v2); the member and the looked-up symbol both use that version.
#define DIFF_DRIVER_CALLS(X)                                                                    \
  X(cuInit) X(cuDriverGetVersion) X(cuGetErrorName) X(cuDeviceGetCount) X(cuDeviceGet)          \
  X(cuDeviceGetName) X(cuDeviceGetAttribute) X(cuDeviceTotalMem) X(cuDeviceGetUuid)             \
  X(cuDevicePrimaryCtxRetain) X(cuDevicePrimaryCtxRelease) X(cuDevicePrimaryCtxGetState)        \
  X(cuCtxSetCurrent) X(cuCtxGetCurrent) X(cuCtxGetDevice) X(cuCtxSynchronize) X(cuCtxCreate)    \
  X(cuCtxDestroy) X(cuCtxPushCurrent) X(cuCtxPopCurrent) X(cuCtxGetApiVersion)                  \
  X(cuCtxGetStreamPriorityRange) X(cuMemAlloc) X(cuMemFree) X(cuMemGetInfo) X(cuMemAllocPitch)  \
  X(cuMemGetAddressRange) X(cuMemAllocHost) X(cuMemFreeHost) X(cuMemcpyHtoD) X(cuMemcpyDtoH)    \
  X(cuMemcpyDtoD) X(cuMemcpyHtoDAsync) X(cuMemcpyDtoHAsync) X(cuMemcpyDtoDAsync) X(cuMemcpy2D)  \
  X(cuMemcpy) X(cuMemsetD8) X(cuMemsetD16) X(cuMemsetD32) X(cuMemsetD32Async) X(cuMemsetD2D32)  \
  X(cuModuleLoadData) X(cuModuleUnload) X(cuModuleGetFunction) X(cuModuleGetGlobal)             \
  X(cuLaunchKernel) X(cuFuncGetAttribute) X(cuFuncSetAttribute) X(cuStreamCreate)               \
  X(cuStreamCreateWithPriority) X(cuStreamDestroy) X(cuStreamSynchronize) X(cuStreamQuery)      \
  X(cuStreamWaitEvent) X(cuStreamGetFlags) X(cuStreamGetPriority) X(cuLaunchHostFunc)           \
  X(cuEventCreate) X(cuEventDestroy) X(cuEventRecord) X(cuEventQuery) X(cuEventSynchronize)     \
  X(cuEventElapsedTime) X(cuOccupancyMaxActiveBlocksPerMultiprocessor)                          \
  X(cuOccupancyMaxPotentialBlockSize) X(cuPointerGetAttribute) X(cuDeviceGetDefaultMemPool)     \
  X(cuMemAllocAsync) X(cuMemFreeAsync) X(cuMemPoolCreate) X(cuMemPoolDestroy)                   \
  X(cuMemPoolGetAttribute) X(cuMemPoolSetAttribute) X(cuMemAllocFromPoolAsync)                  \
  X(cuMemGetAllocationGranularity) X(cuMemCreate) X(cuMemRelease) X(cuMemAddressReserve)        \
  X(cuMemAddressFree) X(cuMemMap) X(cuMemUnmap) X(cuMemSetAccess) X(cuMemAllocManaged)                \
  X(cuArray3DCreate) X(cuArray3DGetDescriptor) X(cuArrayGetDescriptor) X(cuArrayDestroy)        \
  X(cuTexObjectCreate) X(cuTexObjectDestroy) X(cuTexObjectGetResourceDesc) X(cuSurfObjectCreate) \
  X(cuSurfObjectDestroy) X(cuArrayCreate) X(cuMemcpyHtoA) X(cuMemcpyAtoH) X(cuMemcpyAtoA) X(cuMemcpyAtoD)   \
  X(cuArrayGetMemoryRequirements) X(cuArrayGetSparseProperties) X(cuMipmappedArrayCreate)      \
  X(cuMipmappedArrayDestroy) X(cuMipmappedArrayGetMemoryRequirements)                          \
  X(cuMipmappedArrayGetSparseProperties) X(cuTexObjectGetResourceViewDesc)                      \
  X(cuStreamBeginCapture) X(cuStreamEndCapture) X(cuStreamIsCapturing) X(cuStreamGetCaptureInfo)     \
  X(cuGraphInstantiate) X(cuGraphLaunch) X(cuGraphExecDestroy) X(cuGraphDestroy) X(cuGraphGetNodes) \
  X(cuGraphNodeGetType) X(cuGraphCreate) X(cuGraphAddMemsetNode) X(cuGraphAddEmptyNode)        \
  X(cuGraphNodeGetDependencies) X(cuGraphNodeGetDependentNodes) X(cuGraphDestroyNode)           \
  X(cuGraphClone) X(cuGraphNodeFindInClone) X(cuGraphExecGetFlags) X(cuGraphNodeGetEnabled)     \
  X(cuGraphNodeSetEnabled) X(cuGraphMemsetNodeGetParams) X(cuGraphMemsetNodeSetParams)          \
  X(cuGraphExecMemsetNodeSetParams) X(cuGraphDebugDotPrint)                                     \
  X(cuGraphAddMemcpyNode) X(cuGraphAddChildGraphNode) X(cuGraphMemcpyNodeSetParams)             \
  X(cuGraphExecMemcpyNodeSetParams) X(cuGraphExecChildGraphNodeSetParams)                       \
  X(cuGraphKernelNodeGetParams)                                                                 \
  X(cuGraphAddMemAllocNode) X(cuGraphAddMemFreeNode) X(cuGraphMemAllocNodeGetParams)           \
  X(cuGraphMemFreeNodeGetParams) X(cuDeviceGraphMemTrim) X(cuDeviceGetGraphMemAttribute)        \
  X(cuDeviceSetGraphMemAttribute)                                                               \
  X(cuDevicePrimaryCtxReset) X(cuMemRetainAllocationHandle) X(cuStreamSetAttribute)             \
  X(cuStreamGetAttribute) X(cuStreamCopyAttributes) X(cuStreamGetDevice)                        \
  X(cuModuleGetFunctionCount) X(cuModuleEnumerateFunctions) X(cuFuncGetName) X(cuFuncGetModule) \
  X(cuFuncIsLoaded) X(cuOccupancyMaxPotentialClusterSize) X(cuOccupancyMaxActiveClusters)        \
  X(cuDeviceGetPCIBusId) X(cuDeviceGetByPCIBusId)   \
  X(cuModuleLoadDataEx) X(cuLinkCreate) X(cuLinkAddData) X(cuLinkComplete) X(cuLinkDestroy)     \
  X(cuStreamBeginCaptureToGraph) X(cuStreamUpdateCaptureDependencies) X(cuGraphChildGraphNodeGetGraph) \
  X(cuGraphMemcpyNodeGetParams) X(cuMemcpy3DPeer) X(cuMemcpy3DPeerAsync) X(cuMemcpyBatchAsync)  \
  X(cuLibraryLoadData) X(cuLibraryUnload) X(cuLibraryGetModule) X(cuStreamAttachMemAsync) \
  X(cuGraphConditionalHandleCreate) X(cuGraphAddNode) X(cuGraphNodeSetParams) X(cuGraphExecNodeSetParams) \
  X(cuStreamAddCallback) X(cuGraphAddHostNode) X(cuGraphHostNodeGetParams)                      \
  X(cuGraphHostNodeSetParams) X(cuGraphExecHostNodeSetParams) X(cuGraphAddEventRecordNode)     \
  X(cuGraphAddEventWaitNode) X(cuGraphEventRecordNodeGetEvent) X(cuGraphEventWaitNodeGetEvent)  \
  X(cuGraphEventRecordNodeSetEvent) X(cuGraphExecEventRecordNodeSetEvent)                      \
  X(cuCtxGetLimit)                                                                               \
  X(cuLibraryGetKernelCount) X(cuLibraryEnumerateKernels) X(cuLibraryGetKernel) X(cuKernelGetName) \
  X(cuKernelGetLibrary) X(cuKernelGetParamInfo) X(cuKernelGetAttribute) X(cuKernelSetAttribute)  \
  X(cuKernelGetFunction) X(cuFuncGetParamInfo) X(cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags) \
  X(cuOccupancyAvailableDynamicSMemPerBlock) X(cuLaunchKernelEx) X(cuLibraryGetGlobal)        \
  X(cuGraphKernelNodeGetAttribute) X(cuGraphKernelNodeSetAttribute) X(cuGraphKernelNodeCopyAttributes) \
  X(cuGraphAddKernelNode) X(cuGraphKernelNodeSetParams) X(cuGraphExecUpdate) X(cuUserObjectCreate) \
  X(cuUserObjectRetain) X(cuUserObjectRelease) X(cuGraphRetainUserObject) X(cuGraphReleaseUserObject) \
  X(cuLibraryGetManaged) X(cuMemHostRegister) X(cuMemHostUnregister) X(cuMemHostGetDevicePointer) \
  X(cuStreamWaitValue32) X(cuStreamWaitValue64) X(cuStreamWriteValue32) X(cuStreamWriteValue64)  \
  X(cuStreamBatchMemOp) X(cuGraphAddBatchMemOpNode) X(cuGraphBatchMemOpNodeGetParams)            \
  X(cuGraphBatchMemOpNodeSetParams) X(cuGraphExecBatchMemOpNodeSetParams) X(cuMemHostAlloc) \
  X(cuMemcpy2DAsync) X(cuMemcpy3DAsync)

struct CudaApi {
#define DIFF_MEMBER(name) decltype(&::name) name = nullptr;
  DIFF_DRIVER_CALLS(DIFF_MEMBER)
#undef DIFF_MEMBER

  // Opens `path` (a file path, or a bare soname searched the usual way) and looks up every
  // entry point. Returns false with `error` naming the library or the first missing symbol;
  // the pointers are then unusable.
  bool load(const std::string& path, std::string& error);

  // "CUDA_ERROR_INVALID_VALUE" for a result code (asks the loaded library; the number when it
  // does not know the code).
  std::string error_name(CUresult r) const;
};

// The library every test body calls; load()ed by main() before the tests run.
CudaApi& api();

}  // namespace diff
