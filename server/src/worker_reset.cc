// Worker: cuDevicePrimaryCtxReset / cudaDeviceReset of one of the session's devices
// (calls.toml DeviceReset).
//
// The driver's reset destroys the device's primary context: every allocation, stream, event and
// module made in it goes, its sticky error with it, and the program goes on in a fresh context.
// Libraries and their kernels are context-independent and stay (cudart keeps using its CUkernel
// handles after cudaDeviceReset); a kernel's function in the new context is looked up again.
// The worker does the same for the session: it drops the session's objects on that device from
// its tables (so a stale id or address is refused like a forged one, and
// never reaches the driver), returns the tenant's quota for the allocations, lets go of what
// the worker itself keeps in the context (the staging ring's pinned slots, the meter's timing
// events), resets the backend's primary context and retains it again. Objects of the session's
// other devices, created memory pools and virtual-memory handles (device objects, not context
// objects) are left alone.
//
// Reply: results[] = the client addresses of the allocations that were dropped (the client
// forgets its managed-memory mirrors of them).
#include "gpool/common/log.h"
#include "worker.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

}  // namespace

CUresult Worker::op_device_reset(Ctx& c) {
  DeviceResetArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t index = a.device;
  if (index >= devices_.size()) return CUDA_ERROR_INVALID_DEVICE;
  const int physical = devices_[index].physical;
  meter_.forget_device(static_cast<size_t>(physical));
  DeviceScope scope(*this, static_cast<size_t>(index));
  if (scope.status != CUDA_SUCCESS) return scope.status;
  // Pinned slots and events are allocations of the context being destroyed. Freeing pinned
  // memory synchronises the context, which after a stream memory wait (worker_memop.cc) could
  // wait for ever: then the ring goes after the backend's reset below, which ends the waits and
  // frees the ring's memory with the context (the ring's own frees are then refused, harmlessly;
  // nothing is allocated in between).
  if (!memop_waits_) ring_.reset();
  // Work still queued runs out first (the driver's reset waits for it too); its errors are the
  // context's and go with it. Not after a stream memory wait (worker_memop.cc): a stream held at
  // a wait nothing will satisfy would block the worker here for ever, while the backend's reset
  // itself ends the wait and drains the streams (docs/emulator.md, "Stream memory operations").
  if (!memop_waits_) (void)drv_.cuCtxSynchronize();

  streams_.drop_device(index);
  // Modules and their functions (their globals' charge returned, image_globals.h); libraries
  // and kernels stay (module_table.h).
  modules_.drop_device(index);
  allocs_.drop_globals(index);

  // Allocations (device, pitched, managed, stream-ordered): the driver frees them with the
  // context; the session forgets them and the tenant gets their quota back, with the
  // stream-ordered frees still charged there (allocation_table.h).
  std::vector<uint64_t> dropped;
  for (CUdeviceptr p : allocs_.drop_device(physical)) dropped.push_back(p);
  // Arrays and mipmapped arrays (worker_texture.cc) are memory of the destroyed context: their
  // charge is returned and their ids refused from now on. Texture and surface objects are
  // context objects whose device the table does not record: a reset drops all of them.
  arrays_.drop_device(physical);

  CUresult st = drv_.cuDevicePrimaryCtxReset_v2(devices_[index].dev);
  if (memop_waits_) ring_.reset();
  if (st != CUDA_SUCCESS) {
    logger().warn("session {}: resetting device {} failed: CUresult {}", params_.session_id, physical,
                  static_cast<int>(st));
    return st;
  }
  // A fresh primary context for the session (the same handle on a driver that keeps it).
  CUcontext ctx = nullptr;
  st = drv_.cuDevicePrimaryCtxRetain(&ctx, devices_[index].dev);
  if (st != CUDA_SUCCESS) return st;
  devices_[index].ctx = ctx;
  ctx_ = ctx;  // the scope made `index` current; it restores the previous device afterwards
  if (st = drv_.cuCtxSetCurrent(ctx); st != CUDA_SUCCESS) return st;
  // Library kernels stay; their functions in the new context (the same handle on a driver whose
  // kernel handle is its function in every context). One that cannot be had is dropped.
  modules_.refetch(index, [&](Function& f) { return drv_.cuKernelGetFunction(&f.fn, f.kernel) == CUDA_SUCCESS; });
  sticky_status_ = 0;  // failures of work before the reset went with the context
  logger().info("session {}: device {} reset; {} allocations freed", params_.session_id, physical,
                dropped.size());
  c.results = std::move(dropped);
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
