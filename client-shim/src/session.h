// The client's one session with a gpool-server: connection, handshake, attach, and the ordered
// command stream (gpool.fbs "Ordering and errors"; calls.fbs for each call).
//
// Three kinds of call (ARCHITECTURE.md decision 2): local calls never come here; async() appends
// a call to the stream without waiting (its failure is the server's sticky error, reported with
// the next reply); sync() sends a call and waits for its Reply, writing the device output
// (printf/assert text) the server sends before it to this process's stdout/stderr.
//
// Failure: when the server cannot be reached, refuses the token, or the connection breaks
// (peer closed, keepalive timeout ~5 s, malformed frame), the reason is logged once and every
// call from then on returns an error at once (never hangs):
//   unreachable at cuInit      CUDA_ERROR_NO_DEVICE
//   token refused              CUDA_ERROR_NOT_PERMITTED
//   connection lost later      CUDA_ERROR_DEVICE_UNAVAILABLE
//
// Ownership: one process-wide instance, never destroyed. Thread safety: every method may be
// called from any thread; calls are serialised on one mutex, so the wire order is the order in
// which threads obtained it.
#pragma once

#include <cuda.h>

#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "config.h"
#include "gpool/remote/call_codec.h"
#include "gpool/transport/transport.h"

namespace gpool::shim {

using remote::HandleKind;
using remote::HandleRef;
using remote::Op;

struct Reply {
  std::vector<uint64_t> results;
  std::vector<std::byte> inline_data;
};

class Session {
 public:
  static Session& instance();

  // Connects, authenticates and attaches once; later calls return the first result.
  CUresult init();
  bool ready() const { return ready_; }
  const std::vector<remote::DeviceInfo>& devices() const { return devices_; }
  int server_driver_version() const { return server_driver_version_; }

  CUresult async(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles = {},
                 std::span<const std::byte> inline_data = {},
                 std::span<const transport::ConstBytes> segments = {});

  // `dests`: where the reply's segments go (each must match the segment's length exactly).
  CUresult sync(Op op, std::span<const uint64_t> args, std::span<const HandleRef> handles = {},
                std::span<const std::byte> inline_data = {},
                std::span<const transport::ConstBytes> segments = {}, Reply* reply = nullptr,
                std::span<const transport::MutableBytes> dests = {});

  // Round trips made so far (sync calls), for benchmarks.
  uint64_t round_trips() const { return round_trips_; }

 private:
  Session() = default;
  CUresult connect_locked();
  CUresult send_locked(Op op, bool async, std::span<const uint64_t> args,
                       std::span<const HandleRef> handles, std::span<const std::byte> inline_data,
                       std::span<const transport::ConstBytes> segments);
  CUresult lost(const std::string& why);  // marks the session dead; returns its error

  std::mutex mu_;
  bool init_done_ = false;        // GUARDED_BY(mu_)
  CUresult init_result_ = CUDA_SUCCESS;
  bool ready_ = false;
  CUresult dead_ = CUDA_SUCCESS;  // GUARDED_BY(mu_): non-zero once the session is unusable
  // GUARDED_BY(mu_): a context-corrupting error (illegal address, assert, ...) seen in a reply;
  // like the driver's sticky context errors, every later call returns it.
  CUresult context_error_ = CUDA_SUCCESS;
  Config config_;
  std::unique_ptr<transport::Connection> conn_;
  transport::FrameHead head_;
  flatbuffers::FlatBufferBuilder fbb_;
  uint64_t seq_ = 0, call_id_ = 0;
  uint64_t round_trips_ = 0;
  std::vector<remote::DeviceInfo> devices_;
  int server_driver_version_ = 0;
  std::vector<std::byte> out_buf_;
};

}  // namespace gpool::shim
