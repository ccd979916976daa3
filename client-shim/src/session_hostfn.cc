// Shim: copies into streams held at host functions (docs/architecture.md "Copies into a held
// stream"; server side: server/src/worker_copy.cc, htod_spill, and worker_hostfn.h, "armed").
//
// The server holds a stream at a host function until HostFnDone, which the host-function thread
// sends on the same connection as the program's calls, so it can be behind them on the wire. A
// call the worker has to wait on for such a stream would then wait for ever: a host-to-device
// copy whose staging slots the held stream keeps, or a synchronous copy or memset (the worker
// waits in the driver while the next frames, and the HostFnDone behind them, stay unread).
// The contract with the worker:
//   - after a host function (cuLaunchHostFunc, cuStreamAddCallback, or a graph launch once the
//     process has host functions) and until the next HostFnSettle, the session is "armed";
//   - while armed, at most the server's spill budget of H2D bytes is sent (the worker receives
//     them into spill memory without waiting); a copy that would go over it, and any synchronous
//     copy or memset, first sends HostFnSettle, which returns once every host function sent
//     before it has run and been released (and tells the budget).
// All of it runs under the session's mutex, so the order on the wire is the order seen here.
// A session that never had a host function pays one flag test per call.
#include "hostfn.h"
#include "session.h"

namespace gpool::shim {
namespace {

// args[] of the calls the worker may have to wait on (calls.toml layouts).
bool sync_api_of(Op op, std::span<const uint64_t> args) {
  switch (op) {
    case Op::MemcpyHtoD: return args.size() > 2 && args[2] != 0;
    case Op::MemcpyDtoD: return args.size() > 3 && args[3] != 0;
    case Op::Memset: return args.size() > 4 && args[4] != 0;
    default: return false;
  }
}

}  // namespace

CUresult Session::hostfn_before_locked(Op op, std::span<const uint64_t> args) {
  if (!hostfn_armed_) return CUDA_SUCCESS;
  const bool htod = op == Op::MemcpyHtoD && args.size() > 1;
  const bool sync_api = sync_api_of(op, args);
  if (!sync_api && (!htod || (hostfn_spilled_ <= hostfn_spill_budget_ &&
                              args[1] <= hostfn_spill_budget_ - hostfn_spilled_))) {
    return CUDA_SUCCESS;
  }
  Reply reply;
  if (CUresult st = sync_locked(Op::HostFnSettle, {}, {}, {}, {}, &reply, {}); st != CUDA_SUCCESS) return st;
  hostfn_armed_ = false;
  hostfn_spilled_ = 0;
  if (!reply.results.empty()) hostfn_spill_budget_ = reply.results[0];
  return CUDA_SUCCESS;
}

void Session::hostfn_after_locked(Op op, std::span<const uint64_t> args) {
  if (op == Op::LaunchHostFunc || (op == Op::GraphLaunch && hostfn::any_registered())) {
    hostfn_armed_ = true;
  } else if (op == Op::MemcpyHtoD && hostfn_armed_ && args.size() > 1) {
    hostfn_spilled_ += args[1];
  }
}

}  // namespace gpool::shim
