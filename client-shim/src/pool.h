// The servers this process uses and the device list they make up.
//
// GPOOL_SERVER may name several servers (config.h). cuInit opens one Session per server, in
// parallel, and numbers devices consecutively across them: server 0's devices are ordinals
// 0..n0-1, server 1's follow, and so on. CUDA_VISIBLE_DEVICES then picks and reorders that list
// as the driver does on a GPU host (visible_devices.h); ordinals are those of the visible list,
// and one that leaves nothing visible makes cuInit fail with CUDA_ERROR_NO_DEVICE. Every call goes to the session of the calling thread's
// current device (contexts.h), so a program drives a device by making a context of that device
// current, exactly as multi-GPU CUDA programs do; a thread without a context uses device 0.
//
// A pool in etcd (GPOOL_SERVER=etcd://HOST:PORT/POOL, the only entry then): the servers and
// how many of each one's devices the program gets are chosen by place_in_pool
// (pool_placement.h); their devices are numbered in the order placement took them.
//
// Failure: cuInit fails when any listed server fails (unreachable: CUDA_ERROR_NO_DEVICE, token
// refused: CUDA_ERROR_NOT_PERMITTED), so device ordinals never shift with which servers are up.
// Every attempt is bounded by the connect and handshake timeouts (session.h).
//
// Ownership: one process-wide pool, never destroyed (it is used from atexit paths); sessions
// live as long as the pool. Thread safety: init() may race with itself (one attempt runs);
// everything else reads state that is immutable once ready() is true.
#pragma once

#include <cuda.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "config.h"
#include "gpool/remote/call_codec.h"

namespace gpool::shim {

class Session;

class Pool {
 public:
  static Pool& global();

  // Connects to every configured server once; later calls return the first result.
  CUresult init();
  bool ready() const { return ready_.load(std::memory_order_acquire); }

  // REQUIRES for the accessors below: ready() (they return empty answers otherwise).
  int device_count() const { return ready() ? static_cast<int>(devices_.size()) : 0; }
  // The attach record of global ordinal `dev`, or nullptr for a bad ordinal.
  const remote::DeviceInfo* device(int dev) const;
  // The session owning global ordinal `dev`, or nullptr.
  Session* session_of(int dev) const;
  // The session owning global ordinal `dev` and that session's own ordinal for it.
  // CUDA_ERROR_INVALID_DEVICE (nothing set) for a bad ordinal.
  CUresult locate(int dev, Session*& session, uint64_t& local) const;
  // Appends (owner's own ordinal, flags) of every access descriptor to `args`, for calls that
  // set access on memory of `owner`'s server (cuMemSetAccess, cuMemPoolSetAccess). A location
  // that is not a device -> `not_device`; a bad ordinal -> CUDA_ERROR_INVALID_DEVICE; a device of
  // another server -> CUDA_ERROR_NOT_SUPPORTED, logged under `call`. `args` may be partly
  // appended on an error.
  CUresult append_access(const CUmemAccessDesc* desc, size_t count, const Session* owner,
                         const char* call, CUresult not_device, std::vector<uint64_t>& args) const;
  size_t session_count() const { return ready() ? sessions_.size() : 0; }
  Session& session(size_t i) const { return *sessions_[i]; }

  // The session of the calling thread's current device (device 0 without a context); before a
  // successful init, a session that answers every call with CUDA_ERROR_NOT_INITIALIZED.
  Session& routed() const;

  // Tests only: forgets the pool (the old one is leaked after its connections are shut down),
  // the client-side contexts and handle tables, so the next init() reads the configuration
  // again. No other thread may be inside the shim.
  static void reset_for_testing();

 private:
  struct Slot {
    Session* session;
    int local;  // the server's ordinal
  };

  std::mutex mu_;
  bool init_done_ = false;               // GUARDED_BY(mu_)
  CUresult init_result_ = CUDA_SUCCESS;  // GUARDED_BY(mu_)
  std::atomic<bool> ready_{false};
  // Written once under mu_ before ready_ turns true; read-only afterwards.
  Config config_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::vector<Slot> slots_;
  std::vector<const remote::DeviceInfo*> devices_;
};

}  // namespace gpool::shim
