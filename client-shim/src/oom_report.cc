#include "oom_report.h"

#include <atomic>

#include "contexts.h"
#include "gpool/common/log.h"
#include "session.h"

namespace gpool::shim {

CUresult report_out_of_memory(Session& session, const char* call, uint64_t bytes, CUresult status) {
  static std::atomic<bool> reported{false};
  if (status != CUDA_ERROR_OUT_OF_MEMORY || reported.exchange(true)) return status;
  const int dev = current_device() < 0 ? 0 : current_device();
  Reply r;
  if (session.sync(remote::Op::MemGetInfo, {}, {}, {}, {}, &r) != CUDA_SUCCESS || r.results.size() < 2) {
    log::logger("shim").warn("{}: {} bytes refused on device {} with CUDA_ERROR_OUT_OF_MEMORY (the "
                             "server did not say how much the tenant holds)", call, bytes, dev);
    return status;
  }
  const uint64_t free_bytes = r.results[0], total = r.results[1];
  log::logger("shim").warn(
      "{}: {} bytes refused on device {} with CUDA_ERROR_OUT_OF_MEMORY: this tenant holds {} of "
      "the {} bytes it may use there (its memory quota, or the device's memory if smaller); {} "
      "free. Free memory or ask for a larger memory_quota (logged once per process)",
      call, bytes, dev, total - std::min(free_bytes, total), total, free_bytes);
  return status;
}

}  // namespace gpool::shim
