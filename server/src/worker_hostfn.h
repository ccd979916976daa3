// Host functions held on the server (calls.toml LaunchHostFunc .. GraphExecHostNodeSetParams,
// 365-371; docs/architecture.md "Host functions through the pool").
//
// The client's host function stays in the client; the server knows it by the client's id. A
// registration (HostFnHub::Reg) is what the backend gets as the userData of its own host
// function, HostFnHub::marker: enqueued with the backend's cuLaunchHostFunc, or made the
// function of a graph host node. When a stream reaches the marker, on the backend's thread, the
// marker numbers the firing, sends HostFnReady (id, firing, last) to the client and waits on
// that firing's gate; the stream goes on when the client's HostFnDone opens it
// (HostFnHub::release), or when the session ends (close(): every gate opens, later firings
// return at once), so a vanished client never leaves a backend thread waiting.
//
// Held streams and copies (docs/architecture.md "Copies into a held stream"): the hub counts the
// markers that are *armed*, i.e. enqueued on a stream and not yet released: every plain
// cuLaunchHostFunc / cuStreamAddCallback marker, and one `tail` per graph launched while the
// session has host functions (a graph's host nodes fire in it; the tail runs after the graph).
// Each time the count falls to 0 the hub's quiet count goes up. Work enqueued while markers were
// armed may wait for the client (tag() != 0) until the next quiet point (held(tag) false
// again); the worker never waits for such work while a frame's bytes are still on the wire.
// wait_quiet() is HostFnSettle: it returns at the next quiet point (or when the hub closes).
//
// A plain cuLaunchHostFunc registration fires once and is then dropped ("last"); one recorded
// into a graph (a host node, or a capture) stays until the session ends, as graphs and their
// instantiations may fire it any number of times (at most kMaxRegistrations live).
//
// WorkerConnection wraps the worker's connection so that the marker threads' notes and the
// worker's own sends never interleave (one send mutex), and gives the receive side back to the
// handoff's side thread as soon as a call's segments are all read (so a call that then waits
// for a held stream, a synchronous copy, does not keep HostFnDone from being read).
//
// Thread safety: HostFnHub is used from the worker thread, the handoff's side thread and the
// backend's threads; every member takes its mutex. The hub of a worker is never freed (a backend
// thread may still be returning from a marker when the process exits).
#pragma once

#include <cuda.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <unordered_map>
#include <vector>

#include "gpool/transport/receive_handoff.h"
#include "gpool/transport/transport.h"

namespace gpool::server {

class HostFnHub {
 public:
  static constexpr size_t kMaxRegistrations = 65536;
  // Sends one HostFnReady (with `data` as inline_data: a device-to-host copy node's bytes);
  // false when the connection is gone.
  using Notify = std::function<bool(uint64_t id, uint64_t firing, bool last, CUresult status,
                                    std::span<const std::byte> data)>;

  // A marker of a graph copy node with a host side (worker_graph_host_copy.cc): `pull` fires
  // before a host-to-device copy and waits for the client's bytes, which it writes to `staging`
  // before the stream goes on; `push` fires after a device-to-host copy and sends `staging`.
  enum class Copy { kNone, kPull, kPush };

  struct Reg {
    HostFnHub* hub = nullptr;
    uint64_t id = 0;
    bool persistent = false;
    Copy copy = Copy::kNone;
    std::byte* staging = nullptr;  // kPull/kPush: `bytes` bytes, owned by the worker's exec record
    uint64_t bytes = 0;
    bool armed = false;  // counted in armed_ until its firing is released
  };

  explicit HostFnHub(Notify notify) : notify_(std::move(notify)) {}

  // A new registration of client id `id`; nullptr (logged) when the id is 0 or live, the
  // table is full, or the hub is closed.
  Reg* add(uint64_t id, bool persistent);
  // Drops a registration the backend never got (its enqueue failed).
  void drop(Reg* r);
  // A copy marker for client id `id` (several markers may share one id: one per executable
  // graph); never in the id table, kept until the hub dies. nullptr when closed.
  Reg* add_copy(uint64_t id, Copy copy, std::byte* staging, uint64_t bytes);
  // Makes a registration persistent (the marker was recorded into a graph after all).
  void keep(Reg* r);
  // The registration behind a backend host node's userData, or nullptr when `p` is not one.
  Reg* find(void* p);
  // Opens the gate of `firing`; false when no firing of that id is held (forged or repeated),
  // or `data` is not what the firing waits for (the rest of a pull's bytes after its parts;
  // nothing otherwise).
  bool release(uint64_t firing, std::span<const std::byte> data = {});
  // A part before the last of the bytes a pull firing waits for (HostCopyPartToServer, defined in
  // worker_graph_host_copy.cc): in order from offset 0; false for a firing not held, a part out
  // of order or one reaching the firing's size (the last part comes with release).
  bool part(uint64_t firing, uint64_t offset, std::span<const std::byte> data);
  // Opens every gate; later firings return at once without notifying.
  void close();

  // Counts `r` (a one-shot marker about to be enqueued) as armed until its firing is released.
  void arm(Reg* r);
  // Counts one graph launch's tail as armed; `tail` (enqueued after the graph with `this` as
  // userData) or disarm_tail() (its enqueue failed) ends it.
  void arm_tail();
  void disarm_tail();
  // 0 when nothing is armed now; otherwise a tag that held() recognises until the next quiet point.
  uint64_t tag();
  // True while work tagged `tag` may still wait for a host function the client has not finished.
  bool held(uint64_t tag);
  // Waits until nothing is armed (or the hub closes).
  void wait_quiet();

  // The backend's host function (CUhostFn) and stream callback (CUstreamCallback); `p` is a Reg*.
  static void CUDA_CB marker(void* p);
  static void CUDA_CB callback_marker(CUstream stream, CUresult status, void* p);
  // The backend's host function after a graph launch; `p` is the HostFnHub.
  static void CUDA_CB tail(void* p);

 private:
  void fire(Reg* r, CUresult status);
  void disarm_locked();  // REQUIRES: mu_ held

  const Notify notify_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool closed_ = false;                                   // GUARDED_BY(mu_)
  uint64_t armed_ = 0;                                    // GUARDED_BY(mu_)
  uint64_t quiet_ = 0;                                    // GUARDED_BY(mu_): times armed_ fell to 0
  uint64_t next_firing_ = 0;                              // GUARDED_BY(mu_)
  std::unordered_map<uint64_t, std::unique_ptr<Reg>> regs_;  // GUARDED_BY(mu_): client id ->
  struct Gate {
    bool open = false;
    uint64_t want = 0;  // a pull's byte count (0: the firing takes no data)
    std::vector<std::byte> data;
  };
  std::unordered_map<uint64_t, Gate> gates_;              // GUARDED_BY(mu_): firing ->
  std::vector<std::unique_ptr<Reg>> copy_regs_;           // GUARDED_BY(mu_)
};

// The worker's connection: sends serialised, segment reads hand the receive side back.
class WorkerConnection final : public transport::Connection {
 public:
  WorkerConnection(std::unique_ptr<transport::Connection> inner, transport::ReceiveHandoff& rx)
      : inner_(std::move(inner)), rx_(rx) {}
  transport::Connection& inner() { return *inner_; }
  // The worker thread received a head through the handoff: its segments (if any) are read
  // through this connection. Once they all are, or when the frame has none, segments_left()
  // answers 0 and segment reads are refused, whatever the side thread has received since.
  void open_frame(uint32_t segments) { frame_open_ = segments > 0; }

  transport::Status flush(transport::Timeout t) override;
  size_t queued_bytes() const override { return inner_->queued_bytes(); }
  transport::Status recv_segment(transport::MutableBytes dest, transport::Timeout t) override;
  transport::Status skip_segment(transport::Timeout t) override;
  transport::Status recv_segment_part(transport::MutableBytes dest, transport::Timeout t) override;
  uint64_t segment_part_left() const override { return frame_open_ ? inner_->segment_part_left() : 0; }
  bool frame_ready() const override { return inner_->frame_ready(); }
  void shutdown() override { inner_->shutdown(); }
  const std::string& peer() const override { return inner_->peer(); }
  const char* backend() const override { return inner_->backend(); }
  uint32_t segments_left() const override { return frame_open_ ? inner_->segments_left() : 0; }
  int handoff_fd() const override { return inner_->handoff_fd(); }
  int poll_fd() const override { return inner_->poll_fd(); }
  std::string peer_certificate_sha256() const override { return inner_->peer_certificate_sha256(); }

 protected:
  transport::Status do_send(const protocol::FrameHeader& header, transport::ConstBytes control,
                            std::span<const transport::ConstBytes> segments,
                            transport::Timeout timeout) override;
  transport::Status do_recv_head(transport::FrameHead& head, transport::Timeout timeout) override;
  transport::Status do_queue(const protocol::FrameHeader& header, transport::ConstBytes control,
                             std::span<const transport::ConstBytes> segments) override;
  void mark_broken(transport::Status status) override;

 private:
  transport::Status after_segment(transport::Status s);

  std::unique_ptr<transport::Connection> inner_;
  transport::ReceiveHandoff& rx_;
  std::mutex send_mu_;
  bool frame_open_ = false;  // worker thread only
};

}  // namespace gpool::server
