// Launch metering: turns, batches and the device time of launches (launch_meter.h).
#include "launch_meter.h"

#include <algorithm>

#include "gpool/common/log.h"
#include "tenant_table.h"

namespace gpool::server {

namespace {

spdlog::logger& logger() { return log::logger("sched"); }

}  // namespace

LaunchMeter::LaunchMeter(const Driver& drv, Scheduler* sched, int tenant_index, TenantTable* tenants)
    : drv_(drv), sched_(sched), tenant_index_(tenant_index), tenants_(tenants) {}

bool LaunchMeter::enabled() const {
  return sched_ != nullptr && sched_->enabled() && tenant_index_ >= 0;
}

bool LaunchMeter::events_ready(DeviceEvents& ev) {
  if (ev.failed) return false;
  if (ev.start != nullptr) return true;
  const unsigned n = std::max(1u, sched_->batch());
  std::vector<CUevent> made;
  CUresult st = CUDA_SUCCESS;
  for (unsigned i = 0; i < n + 1 && st == CUDA_SUCCESS; ++i) {
    CUevent e = nullptr;
    st = drv_.cuEventCreate(&e, CU_EVENT_DEFAULT);  // timing on: elapsed time is the point
    if (st == CUDA_SUCCESS) made.push_back(e);
  }
  if (st != CUDA_SUCCESS) {
    for (CUevent e : made) drv_.cuEventDestroy_v2(e);
    ev.failed = true;
    logger().warn("metering: cuEventCreate failed ({}); launches on device {} are metered by wall "
                  "time, waiting for each one",
                  static_cast<int>(st), device_);
    return false;
  }
  ev.start = made.front();
  ev.ends.assign(made.begin() + 1, made.end());
  return true;
}

void LaunchMeter::forget_device(size_t physical) {
  if (holding_ && device_ == physical) (void)settle();
  if (physical >= events_.size()) return;
  DeviceEvents& ev = events_[physical];
  if (ev.start != nullptr) (void)drv_.cuEventDestroy_v2(ev.start);
  for (CUevent e : ev.ends) (void)drv_.cuEventDestroy_v2(e);
  ev = DeviceEvents{};
}

bool LaunchMeter::begin(size_t physical, CUstream stream) {
  if (holding_ && physical != device_) (void)settle();
  if (!holding_) {
    if (physical >= sched::kMaxDevices ||
        !sched_->acquire(physical, static_cast<uint32_t>(tenant_index_))) {
      return false;
    }
    holding_ = true;
    device_ = physical;
    t0_ = Scheduler::now_ns();
    launches_ = recorded_ = 0;
    start_recorded_ = synced_ = false;
    fallback_status_ = CUDA_SUCCESS;
  }
  if (!start_recorded_ && sched_->metering() == sched::Metering::events) {
    DeviceEvents& ev = events_[device_];
    start_recorded_ = events_ready(ev) && drv_.cuEventRecordWithFlags(ev.start, stream, 0) == CUDA_SUCCESS;
  }
  return true;
}

CUresult LaunchMeter::end(CUstream stream, CUresult launch_status) {
  if (!holding_) return CUDA_SUCCESS;
  if (launch_status == CUDA_SUCCESS) {
    ++launches_;
    DeviceEvents& ev = events_[device_];
    // Completion is tracked by an event after each launch (both modes); when that is not
    // possible the stream is waited for now and the turn is charged wall time.
    const bool recorded = recorded_ < ev.ends.size() && (ev.start != nullptr || events_ready(ev)) &&
                          drv_.cuEventRecordWithFlags(ev.ends[recorded_], stream, 0) == CUDA_SUCCESS;
    if (recorded) {
      ++recorded_;
    } else {
      synced_ = true;
      const CUresult st = drv_.cuStreamSynchronize(stream);
      if (fallback_status_ == CUDA_SUCCESS) fallback_status_ = st;
    }
  }
  if (launches_ >= std::max(1u, sched_->batch())) return settle();
  return CUDA_SUCCESS;
}

uint64_t LaunchMeter::measure(CUresult* status) {
  DeviceEvents& ev = events_[device_];
  *status = fallback_status_;
  for (unsigned i = 0; i < recorded_; ++i) {
    const CUresult st = drv_.cuEventSynchronize(ev.ends[i]);
    if (*status == CUDA_SUCCESS) *status = st;
  }
  const auto wall = static_cast<uint64_t>(std::max<int64_t>(Scheduler::now_ns() - t0_, 0));
  if (sched_->metering() != sched::Metering::events || !start_recorded_ || synced_ ||
      recorded_ == 0 || *status != CUDA_SUCCESS) {
    return wall;
  }
  float longest_ms = 0;
  for (unsigned i = 0; i < recorded_; ++i) {
    float ms = 0;
    if (drv_.cuEventElapsedTime_v2(&ms, ev.start, ev.ends[i]) != CUDA_SUCCESS) return wall;
    longest_ms = std::max(longest_ms, ms);
  }
  return static_cast<uint64_t>(static_cast<double>(longest_ms) * 1e6);
}

CUresult LaunchMeter::settle() {
  if (!holding_) return CUDA_SUCCESS;
  CUresult status = CUDA_SUCCESS;
  const uint64_t busy = launches_ == 0 ? 0 : measure(&status);
  holding_ = false;
  sched_->release(device_, busy);
  if (tenants_ != nullptr && device_ < static_cast<size_t>(kMaxDevices)) {
    tenants_->slot(tenant_index_).dev[device_].device_time_ns.fetch_add(busy, std::memory_order_relaxed);
  }
  return status;
}

}  // namespace gpool::server
