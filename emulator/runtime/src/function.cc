// cuFuncGetAttribute / cuFuncSetAttribute and the cuKernel* equivalents,
// cache configuration, names and parameter layouts.
#include "function.h"

#include <algorithm>

namespace gpool::emu::rt {

int regs_per_thread(const Function& f) { return std::clamp<int>(f.num_regs, 1, 255); }

int max_threads_per_block(const Function& f, const Device& d) {
  int limit = std::min<int>(1024, static_cast<int>(f.info->max_threads_per_block ? f.info->max_threads_per_block : 1024));
  // Registers are allocated per warp in units of 256; a block must fit in the register file.
  const int per_warp = static_cast<int>(round_up(static_cast<uint64_t>(regs_per_thread(f)) * 32, 256));
  const int warps = d.prof.regs_per_block / per_warp;
  limit = std::min(limit, std::max(32, warps * 32));
  return limit;
}

int max_dynamic_shared(const Function& f, const Device& d) {
  const int set = f.max_dynamic_shared.load();
  if (set >= 0) return set;
  return std::max(0, d.prof.shared_per_block - static_cast<int>(f.info->static_shared_bytes));
}

namespace {

int const_bytes(const Module& m) {
  uint64_t n = 0;
  for (const auto& g : m.program->globals())
    if (g.space == ptx::Space::Const) n += g.size;
  return static_cast<int>(std::min<uint64_t>(n, INT32_MAX));
}

CUresult get_attribute(int* pi, CUfunction_attribute attrib, Function* f, Device* d) {
  const auto& k = *f->info;
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *pi = max_threads_per_block(*f, *d); break;
    case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *pi = static_cast<int>(k.static_shared_bytes); break;
    case CU_FUNC_ATTRIBUTE_CONST_SIZE_BYTES: *pi = const_bytes(*f->module); break;
    case CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES: *pi = static_cast<int>(k.local_bytes); break;
    case CU_FUNC_ATTRIBUTE_NUM_REGS: *pi = regs_per_thread(*f); break;
    case CU_FUNC_ATTRIBUTE_PTX_VERSION: *pi = f->module->ptx_version; break;
    case CU_FUNC_ATTRIBUTE_BINARY_VERSION: *pi = f->module->binary_version; break;
    case CU_FUNC_ATTRIBUTE_CACHE_MODE_CA: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *pi = max_dynamic_shared(*f, *d); break;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT: *pi = f->preferred_carveout; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SIZE_MUST_BE_SET: *pi = 0; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH: *pi = f->cluster_dims[0]; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT: *pi = f->cluster_dims[1]; break;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH: *pi = f->cluster_dims[2]; break;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED: *pi = f->non_portable_cluster; break;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE: *pi = f->cluster_scheduling; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

CUresult set_attribute(CUfunction_attribute attrib, int value, Function* f, Device* d) {
  switch (attrib) {
    case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES:
      if (value < 0 || value + static_cast<int64_t>(f->info->static_shared_bytes) > d->prof.shared_per_block_optin) {
        return CUDA_ERROR_INVALID_VALUE;
      }
      f->max_dynamic_shared = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
      if (value < -1 || value > 100) return CUDA_ERROR_INVALID_VALUE;
      f->preferred_carveout = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_HEIGHT:
    case CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_DEPTH:
      if (!d->prof.cluster_launch || value < 0 || value > 16) return CUDA_ERROR_INVALID_VALUE;
      f->cluster_dims[attrib - CU_FUNC_ATTRIBUTE_REQUIRED_CLUSTER_WIDTH] = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_NON_PORTABLE_CLUSTER_SIZE_ALLOWED:
      if (!d->prof.cluster_launch || (value != 0 && value != 1)) return CUDA_ERROR_INVALID_VALUE;
      f->non_portable_cluster = value;
      return CUDA_SUCCESS;
    case CU_FUNC_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
      if (value < 0 || value > 2) return CUDA_ERROR_INVALID_VALUE;
      f->cluster_scheduling = value;
      return CUDA_SUCCESS;
    default: return CUDA_ERROR_INVALID_VALUE;  // read-only attributes
  }
}

// The device a function-handle call concerns: the current context's, else the module's.
Device* function_device(Function* f) {
  Context* c = current_context();
  if (c != nullptr && lookup<Context>(c) != nullptr) return c->dev;
  return device(f->module->device);
}

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuFuncGetAttribute(int* pi, CUfunction_attribute attrib, CUfunction hfunc) {
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  CUresult ready_err = CUDA_SUCCESS;
  Function* f = find_ready_function(hfunc, &ready_err);
  if (f == nullptr) return ready_err;
  return get_attribute(pi, attrib, f, function_device(f));
}

extern "C" CUresult gpool_impl_cuFuncSetAttribute(CUfunction hfunc, CUfunction_attribute attrib, int value) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  CUresult ready_err = CUDA_SUCCESS;
  Function* f = find_ready_function(hfunc, &ready_err);
  if (f == nullptr) return ready_err;
  return set_attribute(attrib, value, f, function_device(f));
}

extern "C" CUresult gpool_impl_cuKernelGetAttribute(int* pi, CUfunction_attribute attrib, CUkernel kernel, CUdevice dev) {
  if (pi == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  CUresult ready_err = CUDA_SUCCESS;
  Function* f = find_ready_function(kernel, &ready_err);
  if (f == nullptr) return ready_err;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  return get_attribute(pi, attrib, f, d);
}

extern "C" CUresult gpool_impl_cuKernelSetAttribute(CUfunction_attribute attrib, int val, CUkernel kernel, CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  CUresult ready_err = CUDA_SUCCESS;
  Function* f = find_ready_function(kernel, &ready_err);
  if (f == nullptr) return ready_err;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  return set_attribute(attrib, val, f, d);
}

extern "C" CUresult gpool_impl_cuFuncSetCacheConfig(CUfunction hfunc, CUfunc_cache config) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(hfunc);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (config < CU_FUNC_CACHE_PREFER_NONE || config > CU_FUNC_CACHE_PREFER_EQUAL) return CUDA_ERROR_INVALID_VALUE;
  f->cache_config = config;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuKernelSetCacheConfig(CUkernel kernel, CUfunc_cache config, CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  return gpool_impl_cuFuncSetCacheConfig(reinterpret_cast<CUfunction>(kernel), config);
}

extern "C" CUresult gpool_impl_cuFuncSetSharedMemConfig(CUfunction hfunc, CUsharedconfig config) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (find_function(hfunc) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (config < CU_SHARED_MEM_CONFIG_DEFAULT_BANK_SIZE || config > CU_SHARED_MEM_CONFIG_EIGHT_BYTE_BANK_SIZE) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;  // bank size has no effect on the interpreter
}

extern "C" CUresult gpool_impl_cuFuncGetName(const char** name, CUfunction hfunc) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(hfunc);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *name = f->info->name.c_str();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuKernelGetName(const char** name, CUkernel hfunc) {
  return gpool_impl_cuFuncGetName(name, reinterpret_cast<CUfunction>(hfunc));
}

extern "C" CUresult gpool_impl_cuFuncGetParamInfo(CUfunction func, size_t paramIndex, size_t* paramOffset,
                                                  size_t* paramSize) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  CUresult ready_err = CUDA_SUCCESS;
  Function* f = find_ready_function(func, &ready_err);
  if (f == nullptr) return ready_err;
  if (paramIndex >= f->info->params.size()) return CUDA_ERROR_INVALID_VALUE;
  if (paramOffset != nullptr) *paramOffset = f->info->params[paramIndex].offset;
  if (paramSize != nullptr) *paramSize = f->info->params[paramIndex].size;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuKernelGetParamInfo(CUkernel kernel, size_t paramIndex, size_t* paramOffset,
                                                    size_t* paramSize) {
  return gpool_impl_cuFuncGetParamInfo(reinterpret_cast<CUfunction>(kernel), paramIndex, paramOffset, paramSize);
}

extern "C" CUresult gpool_impl_cuFuncGetModule(CUmodule* hmod, CUfunction hfunc) {
  if (hmod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(hfunc);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *hmod = reinterpret_cast<CUmodule>(f->module);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuFuncIsLoaded(CUfunctionLoadingState* state, CUfunction function) {
  if (state == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (find_function(function) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  // Loaded as far as a program can tell: the lowering at first use is the emulator's own JIT
  // step, invisible like a driver's (the differential suite checks LOADED after a module load).
  *state = CU_FUNCTION_LOADING_STATE_LOADED;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuFuncLoad(CUfunction function) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(function);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return function_ready(f);  // lowers the kernel now (INVALID_PTX when the emulator cannot run it)
}
