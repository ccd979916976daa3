// Kernel launches: argument packing, limit checks, asynchronous execution in
// stream order, and the mapping of executor faults to sticky CUDA errors.
#include "launch.h"

#include "alloc_table.h"
#include "texobj.h"
#include "capture.h"
#include "copy_engine.h"
#include "device_heap.h"
#include "function.h"
#include "occupancy.h"
#include "refusal.h"
#include "stream.h"

#include <cstring>
#include <vector>

#include "gpool/driver_abi/launch_attributes.h"

namespace gpool::emu::rt {
namespace {

CUresult status_to_result(exec::LaunchStatus s) {
  switch (s) {
    case exec::LaunchStatus::Ok: return CUDA_SUCCESS;
    case exec::LaunchStatus::IllegalAddress: return CUDA_ERROR_ILLEGAL_ADDRESS;
    case exec::LaunchStatus::MisalignedAddress: return CUDA_ERROR_MISALIGNED_ADDRESS;
    case exec::LaunchStatus::AssertFailed: return CUDA_ERROR_ASSERT;
    case exec::LaunchStatus::Trap: return CUDA_ERROR_LAUNCH_FAILED;
    case exec::LaunchStatus::IllegalInstruction: return CUDA_ERROR_ILLEGAL_INSTRUCTION;
    case exec::LaunchStatus::OutOfResources: return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
    case exec::LaunchStatus::InvalidValue: return CUDA_ERROR_INVALID_VALUE;
    case exec::LaunchStatus::Unbound: return CUDA_ERROR_NOT_INITIALIZED;
    case exec::LaunchStatus::CooperativeTooLarge: return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
  }
  return CUDA_ERROR_LAUNCH_FAILED;
}

CUresult check_dims(const Function& f, const Device& d, const LaunchDims& L) {
  const auto& g = L.grid;
  const auto& b = L.block;
  if (g.x == 0 || g.y == 0 || g.z == 0 || b.x == 0 || b.y == 0 || b.z == 0) return CUDA_ERROR_INVALID_VALUE;
  if (g.x > 2147483647u || g.y > 65535u || g.z > 65535u) return CUDA_ERROR_INVALID_VALUE;
  if (b.x > 1024u || b.y > 1024u || b.z > 64u) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t threads = uint64_t{b.x} * b.y * b.z;
  if (threads > 1024) return CUDA_ERROR_INVALID_VALUE;
  const auto* req = f.info->reqntid;
  if (req[0] != 0 && (b.x != req[0] || b.y != std::max(req[1], 1u) || b.z != std::max(req[2], 1u))) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (threads > static_cast<uint64_t>(max_threads_per_block(f, d))) return CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES;
  if (L.shared > static_cast<unsigned>(max_dynamic_shared(f, d))) return CUDA_ERROR_INVALID_VALUE;
  if (uint64_t{L.shared} + f.info->static_shared_bytes > static_cast<uint64_t>(d.prof.shared_per_block_optin)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

// Packs the arguments into the kernel's parameter buffer.
CUresult pack_params(const Function& f, void** params, void** extra, std::vector<unsigned char>* buf) {
  const auto& k = *f.info;
  buf->assign(k.param_bytes, 0);
  if (params != nullptr && extra != nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (extra != nullptr) {
    const void* data = nullptr;
    size_t size = 0;
    bool have_size = false;
    for (size_t i = 0; i < 64; i += 2) {
      const void* key = extra[i];
      if (key == CU_LAUNCH_PARAM_END) break;
      if (key == CU_LAUNCH_PARAM_BUFFER_POINTER) {
        data = extra[i + 1];
      } else if (key == CU_LAUNCH_PARAM_BUFFER_SIZE) {
        if (extra[i + 1] == nullptr || !checked_host_copy(&size, extra[i + 1], sizeof size)) return CUDA_ERROR_INVALID_VALUE;
        have_size = true;
      } else {
        return CUDA_ERROR_INVALID_VALUE;
      }
    }
    if (k.param_bytes == 0) return CUDA_SUCCESS;
    if (data == nullptr || !have_size || size < k.param_bytes) return CUDA_ERROR_INVALID_VALUE;
    if (!checked_host_copy(buf->data(), data, k.param_bytes)) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
  }
  if (k.params.empty()) return CUDA_SUCCESS;
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < k.params.size(); ++i) {
    const auto& p = k.params[i];
    void* arg = nullptr;
    if (!checked_host_copy(&arg, &params[i], sizeof arg) || arg == nullptr) return CUDA_ERROR_INVALID_VALUE;
    if (p.offset + p.size > buf->size()) return CUDA_ERROR_INVALID_VALUE;
    if (!checked_host_copy(buf->data() + p.offset, arg, p.size)) return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

}  // namespace

// Bytes of the grid-barrier workspace given to cooperative launches.
constexpr uint64_t kGridWorkspaceBytes = 64;

namespace {

// CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE when the grid's blocks cannot all be resident at once.
CUresult cooperative_fits(const Function& f, const Device& d, const LaunchDims& L) {
  const int threads = static_cast<int>(L.block.x * L.block.y * L.block.z);
  const uint64_t fit = uint64_t(active_blocks_per_sm(f, d, threads, L.shared)) * d.prof.sms;
  if (uint64_t{L.grid.x} * L.grid.y * L.grid.z > fit) return CUDA_ERROR_COOPERATIVE_LAUNCH_TOO_LARGE;
  return CUDA_SUCCESS;
}

}  // namespace

CUresult kernel_set_cooperative(KernelLaunch* k, bool cooperative) {
  if (cooperative) {
    Function* f = find_function(k->func);
    if (f == nullptr || k->ctx == nullptr) return CUDA_ERROR_INVALID_HANDLE;
    if (CUresult r = cooperative_fits(*f, *k->ctx->dev, k->dims); r != CUDA_SUCCESS) return r;
  }
  k->cooperative = cooperative;
  return CUDA_SUCCESS;
}

CUresult kernel_prepare(CUfunction hf, Context* ctx, const LaunchDims& L, void** params, void** extra,
                        bool cooperative, KernelLaunch* out) {
  Function* f = find_function(hf);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (f->module->ctx != nullptr && f->module->ctx != ctx) return CUDA_ERROR_INVALID_HANDLE;
  if (CUresult r = function_ready(f); r != CUDA_SUCCESS) return r;
  const Device& d = *ctx->dev;
  if (CUresult r = check_dims(*f, d, L); r != CUDA_SUCCESS) return r;
  if (cooperative) {
    if (CUresult r = cooperative_fits(*f, d, L); r != CUDA_SUCCESS) return r;
  }
  auto buf = std::make_shared<std::vector<unsigned char>>();
  if (CUresult r = pack_params(*f, params, extra, buf.get()); r != CUDA_SUCCESS) return r;
  out->func = hf;
  out->ctx = ctx;
  out->dims = L;
  out->cooperative = cooperative;
  out->args = std::move(buf);
  return CUDA_SUCCESS;
}

std::vector<std::pair<uint32_t, uint32_t>> kernel_param_layout(CUfunction hf) {
  std::vector<std::pair<uint32_t, uint32_t>> out;
  Function* f = find_function(hf);
  if (f == nullptr || function_ready(f) != CUDA_SUCCESS) return out;
  for (const auto& p : f->info->params) out.emplace_back(p.offset, p.size);
  return out;
}

CUresult kernel_task(const KernelLaunch& k, Task* out) {
  CUresult ready_err = CUDA_SUCCESS;
  Function* f = find_ready_function(k.func, &ready_err);
  if (f == nullptr) {
    Function* refused = ready_err == CUDA_ERROR_INVALID_PTX ? find_function(k.func) : nullptr;
    return refused != nullptr ? refuse_launch(k.ctx, refused) : ready_err;
  }
  Context* ctx = k.ctx;
  std::shared_ptr<exec::Program> program = f->module->program;
  const exec::KernelInfo* info = f->info;
  std::shared_ptr<HeapArena> heap;
  if (info->uses_heap) {
    if (CUresult r = context_heap(ctx, &heap); r != CUDA_SUCCESS) {
      log().error("kernel {}: cannot place the device malloc heap of {} bytes (CU_LIMIT_MALLOC_HEAP_SIZE)",
                  info->name, ctx->limit_malloc_heap.load());
      return r;
    }
  }
  const LaunchDims L = k.dims;
  const bool cooperative = k.cooperative;
  std::shared_ptr<const std::vector<unsigned char>> buf = k.args;
  *out = [=] {
    if (ctx->sticky.load() != CUDA_SUCCESS) return;  // a faulted context runs nothing more
    exec::LaunchParams lp;
    lp.grid = L.grid;
    lp.block = L.block;
    lp.dynamic_shared_bytes = L.shared;
    lp.param_buffer = buf->data();
    lp.param_bytes = buf->size();
    lp.cooperative = cooperative;
    // Cooperative groups' grid.sync() counts block arrivals in a zeroed
    // workspace the driver provides (read through %envreg1/%envreg2).
    uint64_t workspace = 0;
    if (cooperative) {
      if (CUresult r = device_alloc(ctx, ctx->dev->ordinal, kGridWorkspaceBytes, AllocKind::Device, 0, nullptr,
                                    false, &workspace);
          r != CUDA_SUCCESS) {
        log().error("kernel {}: cannot allocate the grid-barrier workspace for a cooperative launch", info->name);
        set_sticky(ctx, r);
        return;
      }
      lp.grid_workspace = workspace;
    }
    exec::LaunchEnv env;
    env.memory = &allocs();
    env.heap = heap.get();
    env.textures = &texture_table();
    env.pending_launch_limit = ctx->limit_pending_launches.load();
    env.device_ordinal = ctx->dev->ordinal;
    exec::LaunchResult res = program->launch(*info, lp, env);
    if (workspace != 0) device_free(workspace);
    if (res.status == exec::LaunchStatus::Ok) return;
    const CUresult err = status_to_result(res.status);
    log().error("kernel {} failed ({}): {}", info->name, static_cast<int>(err), res.message);
    set_sticky(ctx, err);
  };
  return CUDA_SUCCESS;
}

CUresult launch_kernel(CUfunction hf, const LaunchDims& L, CUstream h, void** params, void** extra, bool cooperative,
                       const CUlaunchAttribute* attrs, unsigned num_attrs) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (find_function(hf) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::shared_ptr<Stream> s;
  if (CUresult r = resolve_stream(h, &s); r != CUDA_SUCCESS) return r;
  bool capturing = false;
  if (CUresult r = capture_gate(s, &capturing); r != CUDA_SUCCESS) return r;
  KernelLaunch k;
  if (CUresult r = kernel_prepare(hf, s->ctx, L, params, extra, cooperative, &k); r != CUDA_SUCCESS) {
    // A kernel the emulator cannot run, launched (or captured to be launched): a real GPU would
    // run it, so the context becomes unusable (refusal.h).
    if (r == CUDA_ERROR_INVALID_PTX) return refuse_launch(s->ctx, find_function(hf));  // only lowering says INVALID_PTX
    return r;
  }
  if (capturing) return capture_kernel(s, std::move(k), attrs, num_attrs);
  Task t;
  if (CUresult r = kernel_task(k, &t); r != CUDA_SUCCESS) return r;
  submit(s, std::move(t));
  return CUDA_SUCCESS;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuLaunchKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                              unsigned int gridDimZ, unsigned int blockDimX, unsigned int blockDimY,
                                              unsigned int blockDimZ, unsigned int sharedMemBytes, CUstream hStream,
                                              void** kernelParams, void** extra) {
  LaunchDims L{{gridDimX, gridDimY, gridDimZ}, {blockDimX, blockDimY, blockDimZ}, sharedMemBytes};
  return launch_kernel(f, L, hStream, kernelParams, extra, false, nullptr, 0);
}

extern "C" CUresult gpool_impl_cuLaunchCooperativeKernel(CUfunction f, unsigned int gridDimX, unsigned int gridDimY,
                                                         unsigned int gridDimZ, unsigned int blockDimX,
                                                         unsigned int blockDimY, unsigned int blockDimZ,
                                                         unsigned int sharedMemBytes, CUstream hStream,
                                                         void** kernelParams) {
  LaunchDims L{{gridDimX, gridDimY, gridDimZ}, {blockDimX, blockDimY, blockDimZ}, sharedMemBytes};
  return launch_kernel(f, L, hStream, kernelParams, nullptr, true, nullptr, 0);
}

extern "C" CUresult gpool_impl_cuLaunchKernelEx(const CUlaunchConfig* config, CUfunction f, void** kernelParams,
                                                void** extra) {
  if (config == nullptr) return CUDA_ERROR_INVALID_VALUE;
  bool cooperative = false;
  if (CUresult st = gpool::abi::check_launch_attributes(*config, &cooperative); st != CUDA_SUCCESS) return st;
  LaunchDims L{{config->gridDimX, config->gridDimY, config->gridDimZ},
               {config->blockDimX, config->blockDimY, config->blockDimZ},
               config->sharedMemBytes};
  return launch_kernel(f, L, config->hStream, kernelParams, extra, cooperative, config->attrs, config->numAttrs);
}
