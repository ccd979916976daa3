// The client's session with one gpool-server, as the entry points see it: the forwarder in
// front of the wire session (wire_session.h: connection, handshake, framing, request/reply). A
// process has one Session per server listed in GPOOL_SERVER (pool.h); Session::current() picks
// the one the calling thread's current device belongs to.
//
// Three kinds of call (ARCHITECTURE.md decision 2): local calls never come here; async() appends
// a call to the stream without waiting (its failure is the server's sticky error, reported with
// the next reply); sync() sends a call and waits for its Reply. Before a call reaches the wire
// the forwarder
//   - checks its handles: every handle sent must belong to this session (ids.h); a handle of
//     another session gets CUDA_ERROR_INVALID_HANDLE and nothing is sent;
//   - selects the device: the server numbers its devices 0..n-1 (its attach list) and the Pool
//     maps the program's ordinals onto (session, server ordinal) (pool.h); when the calling
//     thread's current device belongs to this session and differs from the device last selected
//     on the wire, the call is preceded by an async SetDevice(server ordinal) (the server starts
//     on its device 0);
//   - runs the managed-memory interceptors (managed.h, managed_session.cc): dirty host pages go
//     out ahead of any call, host copies come back after a sync call that follows device work,
//     and a launch locks the host out of managed memory until then.
//
// Failure: as the wire session's (wire_session.h): unreachable at cuInit CUDA_ERROR_NO_DEVICE,
// token refused CUDA_ERROR_NOT_PERMITTED, connection lost later CUDA_ERROR_DEVICE_UNAVAILABLE,
// every later call failing at once; a ServerBusy refusal is retried up to GPOOL_BUSY_WAIT_MS.
//
// Ownership: owned by the Pool, never destroyed; owns its wire session. Thread safety: every
// method may be called from any thread; calls are serialised on one mutex, so the wire order is
// the order in which threads obtained it. A call made from a host function (hostfn.h) is CUDA_ERROR_NOT_PERMITTED and
// nothing is sent.
#pragma once

#include <cuda.h>

#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "gpool/remote/call_codec.h"
#include "gpool/transport/receive_handoff.h"
#include "gpool/transport/transport.h"
#include "wire_session.h"

namespace gpool::shim {

class Session {
 public:
  // The session of the calling thread's current device (Pool::routed()).
  static Session& current();
  // Kept for existing callers: the same as current().
  static Session& instance() { return current(); }

  // `index`: this session's place in the server list (< kMaxSessions, ids.h).
  // `tls`: how a tls:// server is verified, and the client certificate (Config::tls).
  Session(std::string url, std::string token, uint32_t index, transport::TlsOptions tls = {});

  // Connects, authenticates and attaches once; later calls return the first result.
  CUresult init();
  // Before init(): a ServerBusy refusal is final at once (no retry, logged at info), for the
  // pool's placement, which tries the next server instead (pool_placement.h).
  void set_busy_final() { busy_final_ = true; }
  // After init(): it failed because the server refused the session as busy.
  bool refused_busy() const { return refused_busy_; }
  bool ready() const { return wire_.ready(); }
  // This server's devices, in the server's order.
  const std::vector<remote::DeviceInfo>& devices() const { return wire_.devices(); }
  int server_driver_version() const { return wire_.server_driver_version(); }
  const std::string& url() const { return wire_.url(); }
  uint32_t index() const { return index_; }
  // Breaks the connection (tests, process teardown); later calls fail.
  void shutdown();

  CUresult async(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles = {},
                 std::span<const std::byte> inline_data = {},
                 std::span<const transport::ConstBytes> segments = {});

  // As async(), for a call that starts a long piece of device work (cuGraphLaunch), and then
  // writes the queue at once: the server starts the work now, not at the program's next
  // synchronising call (a program that launches a graph and then works on the host would
  // otherwise leave the device idle meanwhile). One write system call per such call.
  CUresult async_start(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles = {});

  // `dests`: where the reply's segments go (each must match the segment's length exactly).
  CUresult sync(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles = {},
                std::span<const std::byte> inline_data = {},
                std::span<const transport::ConstBytes> segments = {}, Reply* reply = nullptr,
                std::span<const transport::MutableBytes> dests = {});

  // A launch of a function the server could not describe (its lookup answered 0 threads per
  // block: the backend cannot run it, as the emulator answers for a kernel it cannot lower, see
  // docs/emulator.md "Refused code fails loudly"), sent as a sync call so that the launch itself
  // returns the backend's answer. CUDA_ERROR_INVALID_PTX (the backend refused the kernel and
  // made its context unusable) becomes this session's sticky context error, as directly.
  CUresult launch_undescribed(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                              std::span<const std::byte> inline_data);

  // A sync call whose reply carries one result, stored in `out`; a reply without it is
  // CUDA_ERROR_UNKNOWN (a server that broke the call's contract).
  CUresult sync_value(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                      uint64_t& out);

  // cuDevicePrimaryCtxReset of server device `ordinal` (calls.toml DeviceReset): the server
  // frees the session's objects and allocations on it and resets its context; this session's
  // sticky context error is cleared and the managed-memory mirrors of the freed allocations are
  // unmapped. The call is sent even while a context error is sticky (that is its point).
  CUresult reset_device(uint64_t ordinal);

  // Fills the host copy of the managed entry whose device address is `dev` (a library's
  // __managed__ variable just mapped, managed::add_variable) from the device, after pushing the
  // session's dirty pages. Waits for the copy.
  CUresult pull_managed(uintptr_t dev);

  // Round trips made so far (sync calls), for benchmarks.
  uint64_t round_trips() const { return wire_.round_trips(); }

  // Host functions (hostfn.h): from the first one on, a side thread reads the server's
  // HostFnReady notes whenever no sync call is receiving (transport/receive_handoff.h), so a
  // host function runs without the program calling anything. Idempotent; after init().
  void start_host_fns();
  // Sends HostFnDone(firing) at once, out of band (seq 0), even while a sync call of another
  // thread waits for its Reply (the server may be holding that very call's stream).
  CUresult host_fn_done(uint64_t firing, std::span<const std::byte> data = {});
  // A part before the last of a host-to-device copy node's bytes (graph_host_copy.h).
  CUresult host_copy_part(uint64_t firing, uint64_t offset, std::span<const std::byte> data);
  // Writes the queued async calls now (a host function must reach the server without waiting
  // for the program's next sync call).
  CUresult flush();

 private:
  CUresult select_device_locked();  // SetDevice before a call when the thread's device changed
  // The forwarder's checks before anything is sent: the wire is usable, every handle belongs to
  // this session, the thread's device is selected.
  CUresult prepare_locked(std::span<const HandleRef> handles);
  // prepare_locked(), then the wire: queued (async) or sent (sync, not awaited).
  CUresult forward_locked(Op op, bool async, std::span<const uint64_t> args,
                          std::span<const HandleRef> handles, std::span<const std::byte> inline_data,
                          std::span<const transport::ConstBytes> segments);
  // sync() without the lock and without the managed-memory steps.
  CUresult sync_locked(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                       std::span<const std::byte> inline_data,
                       std::span<const transport::ConstBytes> segments, Reply* reply,
                       std::span<const transport::MutableBytes> dests);
  // Managed memory (managed.h, managed_session.cc): before any call, the dirty host pages go
  // out ahead of it; after a sync call that follows device work, the host copies come back.
  CUresult managed_before_locked(Op op);
  CUresult managed_after_locked(Op op, CUresult call_status);
  // After a call that starts kernels (a launch, a graph launch): managed::lock_out on its stream.
  void managed_lock_locked(Op op, std::span<const HandleRef> handles);
  // A D2H copy of `n` bytes at device address `src` into `host`, on the NULL stream.
  CUresult fetch_locked(uintptr_t src, void* host, size_t n);
  bool device_wrote_ = false;  // GUARDED_BY(mu_): device work since the last pull
  // Copies into held streams (session_hostfn.cc; docs/architecture.md "Copies into a held
  // stream"): before a call the server could have to wait on for a host function, HostFnSettle
  // when needed; after it, what the server may now hold.
  CUresult hostfn_before_locked(Op op, std::span<const uint64_t> args);
  void hostfn_after_locked(Op op, std::span<const uint64_t> args);
  bool hostfn_armed_ = false;       // GUARDED_BY(mu_): a host function sent since the last settle
  uint64_t hostfn_spilled_ = 0;     // GUARDED_BY(mu_): H2D bytes sent since then while armed
  uint64_t hostfn_spill_budget_ = 0;  // GUARDED_BY(mu_): the server's, from its last settle

  std::mutex mu_;
  std::once_flag host_fns_started_;
  bool init_done_ = false;        // GUARDED_BY(mu_)
  bool busy_final_ = false;       // set before init()
  bool refused_busy_ = false;     // GUARDED_BY(mu_)
  CUresult init_result_ = CUDA_SUCCESS;
  const uint32_t index_;
  int wire_device_ = 0;  // GUARDED_BY(mu_): the server ordinal last selected on the wire
  WireSession wire_;     // GUARDED_BY(mu_) but for its attach-time accessors
};

}  // namespace gpool::shim
