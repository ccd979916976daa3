// WireSession: the client's connection to one gpool-server and the request/reply protocol on
// it (gpool.fbs "Ordering and errors"), without any policy about what is sent.
//
// connect() makes the connection and the Hello handshake, retrying a ServerBusy refusal with
// backoff from 50 ms to 1 s for up to GPOOL_BUSY_WAIT_MS (default 10 s), with one warning.
// send() frames a call: async calls are queued and leave with the next sync call (or when the
// transport's buffer fills); call() sends a sync call and reads until its Reply, writing the
// device output (printf/assert text) the server sends before it to this process's
// stdout/stderr and the D2H chunk notes into the caller's buffer.
//
// Errors: when the server cannot be reached, refuses the token, or the connection breaks (peer
// closed, keepalive timeout ~5 s, malformed frame, a reply that breaks the protocol), the reason
// is logged once and every call from then on returns an error at once (never hangs):
//   unreachable at connect     CUDA_ERROR_NO_DEVICE
//   token refused              CUDA_ERROR_NOT_PERMITTED
//   connection lost later      CUDA_ERROR_DEVICE_UNAVAILABLE
// A reply carrying a context-corrupting error (illegal address, assert, ...) makes that error
// sticky: like the driver's, every later send() returns it until take_context_error().
//
// Ownership: owns its connection. Thread safety: none; its owner (Session, session.h) calls it
// under the session's mutex only, except the const accessors of values fixed at attach time
// and send_out_of_band().
#pragma once

#include <cuda.h>

#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "gpool/remote/call_codec.h"
#include "gpool/transport/receive_handoff.h"
#include "gpool/transport/transport.h"

namespace gpool::shim {

using remote::HandleKind;
using remote::HandleRef;
using remote::Op;

struct Reply {
  std::vector<uint64_t> results;
  std::vector<std::byte> inline_data;
};

class WireSession {
 public:
  WireSession(std::string url, std::string token, transport::TlsOptions tls);

  // Connection and handshake. With `busy_final`, a ServerBusy refusal is final at once (logged
  // at info, `refused_busy` set) instead of retried. Does not attach (see Session::init()).
  CUresult connect(bool busy_final, bool& refused_busy);

  // CUDA_SUCCESS when calls may be sent: not lost, no sticky context error, ready.
  CUresult usable() const;
  void set_ready(bool ready) { ready_ = ready; }
  bool ready() const { return ready_; }
  CUresult dead() const { return dead_; }
  void set_dead(CUresult st) { if (dead_ == CUDA_SUCCESS) dead_ = st; }
  CUresult context_error() const { return context_error_; }
  // Clears the sticky context error and answers it (a device reset clears it on success).
  CUresult take_context_error();
  void restore_context_error(CUresult st) { if (context_error_ == CUDA_SUCCESS) context_error_ = st; }
  CUresult lost(const std::string& why);  // marks the session dead; returns its error
  void shutdown();                         // breaks the connection; later calls fail

  // Frames and sends (sync) or queues (async) one call; checks usable() first.
  CUresult send(Op op, bool async, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                std::span<const std::byte> inline_data, std::span<const transport::ConstBytes> segments);
  // Sends a sync call and waits for its Reply; `dests`: where the reply's segments (or D2H
  // chunk notes, with one dest) go, each matching its length exactly.
  CUresult call(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles,
                std::span<const std::byte> inline_data, std::span<const transport::ConstBytes> segments,
                Reply* reply, std::span<const transport::MutableBytes> dests);

  // Writes the queued async calls now.
  CUresult flush();
  // Host functions (hostfn.h): starts the side thread that reads, whenever no call() is
  // receiving, the frames `filter` takes (the server's HostFnReady notes); others wait for the
  // next call(). Once; after connect().
  void start_side_reader(transport::ReceiveHandoff::Filter filter);
  // Sends one out-of-band call (seq 0, call id 0: HostFnDone) at once. The one method that may
  // be called without the owner's mutex, from any thread, even while another thread waits in
  // call() (the server may be holding that very call's stream until this arrives).
  CUresult send_out_of_band(Op op, uint64_t arg, std::span<const std::byte> inline_data = {});
  CUresult send_out_of_band(Op op, std::span<const uint64_t> args, std::span<const std::byte> inline_data);

  // What Attach answered (Session::init()).
  bool set_attach(const Reply& reply);
  const std::vector<remote::DeviceInfo>& devices() const { return devices_; }
  int server_driver_version() const { return server_driver_version_; }
  const std::string& url() const { return url_; }
  uint64_t round_trips() const { return round_trips_; }

 private:
  CUresult handshake(std::string& busy);
  CUresult await_reply(Op op, Reply* reply, std::span<const transport::MutableBytes> dests);

  const std::string url_, token_;
  const transport::TlsOptions tls_;
  bool ready_ = false;
  CUresult dead_ = CUDA_SUCCESS;           // non-zero once the session is unusable
  CUresult context_error_ = CUDA_SUCCESS;  // sticky context-corrupting error from a reply
  std::unique_ptr<transport::Connection> conn_;
  // Held by every write on the connection (inside the owner's mutex, or alone by
  // send_out_of_band()).
  std::mutex wmu_;
  // The receiving side (made at connect): call() receives through it; its side thread, once
  // started, takes the host-function notes.
  std::unique_ptr<transport::ReceiveHandoff> rx_;
  transport::FrameHead head_;
  flatbuffers::FlatBufferBuilder fbb_;
  uint64_t seq_ = 0, call_id_ = 0;
  uint64_t round_trips_ = 0;
  std::vector<remote::DeviceInfo> devices_;
  int server_driver_version_ = 0;
  std::vector<std::byte> out_buf_;
};

}  // namespace gpool::shim
