// Worker: the devices a session sees and the current one.
//
// The backend's devices are filtered by the tenant's device list (Tenant::devices, published to
// workers as a mask in the Scheduler's shared memory); the session sees the allowed ones
// numbered from 0 in ascending physical order (Attach lists them in that order, and the client's
// cuDeviceGet ordinals are these). One primary context per visible device is retained (by
// attach_backend()). SetDevice makes a visible device's context current for the calls that
// follow; objects keep the device they were created on (streams and events are remembered with
// it, and calls on them run in that device's context), as the driver's objects carry their
// context.
#include "gpool/common/log.h"
#include "scheduler.h"
#include "worker.h"

namespace gpool::server {
namespace {

spdlog::logger& logger() { return log::logger("worker"); }

}  // namespace

bool Worker::open_devices(const std::vector<CUcontext>& contexts, std::string& error) {
  const uint32_t mask = params_.scheduler != nullptr && params_.tenant_index >= 0
                            ? params_.scheduler->device_mask(static_cast<uint32_t>(params_.tenant_index))
                            : 0;
  devices_.clear();
  for (size_t i = 0; i < contexts.size(); ++i) {
    if (mask != 0 && (i >= 32 || (mask & (1u << i)) == 0)) continue;
    CUdevice dev = 0;
    if (drv_.cuDeviceGet(&dev, static_cast<int>(i)) != CUDA_SUCCESS) continue;
    devices_.push_back({static_cast<int>(i), dev, contexts[i]});
  }
  if (devices_.empty()) {
    error = fmt::format("tenant {} may use none of the backend's {} device(s) (device mask {:#x}); "
                        "check the tenant's devices list in the server config",
                        params_.tenant, contexts.size(), mask);
    return false;
  }
  current_ = 0;
  ctx_ = devices_[0].ctx;
  if (CUresult st = drv_.cuCtxSetCurrent(ctx_); st != CUDA_SUCCESS) {
    error = fmt::format("cannot make the context of device {} current: CUresult {}",
                        devices_[0].physical, static_cast<int>(st));
    return false;
  }
  return true;
}

CUresult Worker::use_device(size_t index) {
  if (index >= devices_.size()) return CUDA_ERROR_INVALID_DEVICE;
  if (index == current_) return CUDA_SUCCESS;
  ring_.reset();  // its events belong to the old device's context (staging_ring.h)
  const CUresult st = drv_.cuCtxSetCurrent(devices_[index].ctx);
  if (st == CUDA_SUCCESS) {
    current_ = index;
    ctx_ = devices_[index].ctx;
  }
  return st;
}

Worker::DeviceScope::DeviceScope(Worker& w, size_t index) : w_(w), saved_(w.current_) {
  status = w.use_device(index);
}

Worker::DeviceScope::~DeviceScope() {
  if (w_.current_ != saved_) (void)w_.use_device(saved_);
}

size_t Worker::device_of(CUstream s) const {
  return streams_.streams.device_of(s).value_or(current_);
}

size_t Worker::device_of(CUevent e) const {
  return streams_.events.device_of(e).value_or(current_);
}

CUresult Worker::op_set_device(Ctx& c) {
  SetDeviceArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t ordinal = a.device;
  if (ordinal >= devices_.size()) {
    logger().info("session {}: SetDevice {} refused: the session sees {} device(s)",
                  params_.session_id, ordinal, devices_.size());
    return CUDA_ERROR_INVALID_DEVICE;
  }
  return use_device(static_cast<size_t>(ordinal));
}

CUresult Worker::device_at(uint64_t index, CUdevice& out) const {
  if (index >= devices_.size()) return CUDA_ERROR_INVALID_DEVICE;
  out = devices_[static_cast<size_t>(index)].dev;
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
