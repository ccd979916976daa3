// gpool-bench-transport: gpool's transport against raw TCP over loopback.
//
//   gpool-bench-transport [--backend auto|uring|socket] [--iters N] [--reps N]
//
// Prints, for plain blocking sockets ("raw") and for gpool's transport (framing, FlatBuffers
// building and verification included):
//   - ping-pong round-trip latency p50/p99 (a Ping/Pong envelope vs. the same number of raw
//     bytes), with the ratio gpool/raw (target: <= 1.3);
//   - streaming bandwidth of one 1, 16 and 256 MiB buffer into a destination buffer, with the
//     ratio gpool/raw (target: >= 0.9 at >= 16 MiB);
//   - with UCX in the build, the same ping-pong and streaming over ucx:// (a "ucx" row and
//     column; the connection is switched to UCX by one exchange before measuring);
//   - client CPU per small async frame (a Call with 64 bytes of inline data, no reply), next to
//     one raw send() of the same size, both sent one by one and queued (Connection::queue).
// Loopback numbers measure CPU and memory-copy cost, not a network; see docs/performance.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "gpool/transport/transport.h"
#include "raw_tcp.h"

namespace {

using namespace gpool;
using namespace gpool::transport;
using Clock = std::chrono::steady_clock;
namespace wire = protocol::wire;

[[noreturn]] void fail(const char* what, const Status& s) {
  std::fprintf(stderr, "gpool-bench-transport: %s failed: %s: %s\n", what, code_name(s.code), s.text.c_str());
  std::exit(1);
}

struct Pair {
  std::unique_ptr<Listener> listener;
  std::unique_ptr<Connection> client, server;
};

// One Ping each way, so a ucx:// pair has switched from its TCP bootstrap to UCX (the client
// upgrades on its first send after receiving a frame; the server on reading that).
void switch_to_ucx(Pair& p) {
  flatbuffers::FlatBufferBuilder fbb(256);
  FrameHead head;
  for (int i = 0; i < 2; ++i) {
    fbb.Clear();
    protocol::finish_envelope(fbb, wire::CreatePing(fbb, 1));
    if (Status s = p.server->send(protocol::finished_bytes(fbb)); !s.ok()) fail("ucx warm-up send", s);
    if (Status s = p.client->recv_head(head); !s.ok()) fail("ucx warm-up receive", s);
    fbb.Clear();
    protocol::finish_envelope(fbb, wire::CreatePing(fbb, 2));
    if (Status s = p.client->send(protocol::finished_bytes(fbb)); !s.ok()) fail("ucx warm-up send", s);
    if (Status s = p.server->recv_head(head); !s.ok()) fail("ucx warm-up receive", s);
  }
  if (std::string(p.client->backend()) != "ucx" || std::string(p.server->backend()) != "ucx") {
    std::fprintf(stderr, "gpool-bench-transport: the ucx pair did not switch to ucx (client %s, server %s)\n",
                 p.client->backend(), p.server->backend());
    std::exit(1);
  }
}

// scheme: "tcp" or "ucx".
Pair make_pair(const Options& o, const std::string& scheme = "tcp") {
  Pair p;
  if (Status s = listen(scheme + "://127.0.0.1:0", o, p.listener); !s.ok()) fail("listen", s);
  if (Status s = connect(p.listener->url(), o, p.client); !s.ok()) fail("connect", s);
  if (Status s = p.listener->accept(p.server); !s.ok()) fail("accept", s);
  if (scheme == "ucx") switch_to_ucx(p);
  return p;
}

// Whether this build can listen on ucx:// (built with UCX).
bool have_ucx(const Options& o) {
  std::unique_ptr<Listener> l;
  return listen("ucx://127.0.0.1:0", o, l).ok();
}

double percentile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
}

double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Bytes on the wire of one Ping frame (header + envelope), to size the raw baseline alike.
size_t ping_frame_bytes() {
  flatbuffers::FlatBufferBuilder fbb;
  protocol::finish_envelope(fbb, wire::CreatePing(fbb, 1));
  return protocol::kFrameHeaderBytes + fbb.GetSize();
}

std::vector<double> gpool_ping_pong(const Options& o, int warmup, int iters, const std::string& scheme = "tcp") {
  Pair p = make_pair(o, scheme);
  std::thread echo([&] {
    FrameHead head;
    flatbuffers::FlatBufferBuilder fbb(256);
    while (p.server->recv_head(head).ok()) {
      if (head.envelope->message_type() != wire::Message_Ping) break;
      fbb.Clear();
      protocol::finish_envelope(fbb, wire::CreatePong(fbb, head.envelope->message_as_Ping()->nonce()));
      if (!p.server->send(protocol::finished_bytes(fbb)).ok()) break;
    }
  });
  FrameHead head;
  flatbuffers::FlatBufferBuilder fbb(256);
  std::vector<double> rtt;
  rtt.reserve(iters);
  for (int i = 0; i < warmup + iters; ++i) {
    const auto t0 = Clock::now();
    fbb.Clear();
    protocol::finish_envelope(fbb, wire::CreatePing(fbb, static_cast<uint64_t>(i)));
    if (Status s = p.client->send(protocol::finished_bytes(fbb)); !s.ok()) fail("ping send", s);
    if (Status s = p.client->recv_head(head); !s.ok()) fail("pong receive", s);
    if (head.envelope->message_as_Pong()->nonce() != static_cast<uint64_t>(i)) {
      std::fprintf(stderr, "gpool-bench-transport: pong nonce mismatch\n");
      std::exit(1);
    }
    const auto t1 = Clock::now();
    if (i >= warmup) rtt.push_back(std::chrono::duration<double, std::nano>(t1 - t0).count());
  }
  p.client->shutdown();
  echo.join();
  return rtt;
}

std::vector<double> gpool_stream(const Options& o, size_t bytes, int reps, const std::string& scheme = "tcp") {
  Pair p = make_pair(o, scheme);
  std::vector<std::byte> src(bytes, std::byte{'a'});
  std::thread sink([&] {
    std::vector<std::byte> dest(bytes);
    FrameHead head;
    flatbuffers::FlatBufferBuilder fbb(256);
    for (int r = 0; r < reps; ++r) {
      if (Status s = p.server->recv_head(head); !s.ok()) fail("stream head", s);
      if (Status s = p.server->recv_segment(dest); !s.ok()) fail("stream segment", s);
      fbb.Clear();
      protocol::finish_envelope(fbb, wire::CreatePong(fbb, static_cast<uint64_t>(r)));
      if (Status s = p.server->send(protocol::finished_bytes(fbb)); !s.ok()) fail("stream ack", s);
    }
  });
  std::vector<double> secs;
  FrameHead head;
  flatbuffers::FlatBufferBuilder fbb(256);
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    fbb.Clear();
    std::vector<uint32_t> refs{0};
    protocol::finish_envelope(fbb, wire::CreateCallDirect(fbb, static_cast<uint64_t>(r), static_cast<uint64_t>(r), 1,
                                                          wire::CallFlags_NONE, nullptr, nullptr, nullptr, &refs));
    const ConstBytes segs[] = {src};
    if (Status s = p.client->send(protocol::finished_bytes(fbb), segs); !s.ok()) fail("stream send", s);
    if (Status s = p.client->recv_head(head); !s.ok()) fail("stream ack receive", s);
    secs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
  }
  sink.join();
  return secs;
}

// Client CPU seconds for `count` async Call frames with 64 bytes of inline data each, sent one
// by one (batch = false) or queued and written in batches (batch = true, Connection::queue).
double gpool_small_sends_cpu(const Options& o, int count, size_t& frame_bytes, bool batch) {
  Pair p = make_pair(o);
  std::thread sink([&] {
    FrameHead head;
    for (int i = 0; i < count; ++i) {
      if (Status s = p.server->recv_head(head); !s.ok()) fail("async sink", s);
    }
  });
  flatbuffers::FlatBufferBuilder fbb(512);
  const uint8_t params[64] = {};
  const double t0 = thread_cpu_seconds();
  for (int i = 0; i < count; ++i) {
    fbb.Clear();
    const uint64_t args[3] = {128, 1, 256};
    auto a = fbb.CreateVector(args, 3);
    auto d = fbb.CreateVector(params, sizeof params);
    auto call = wire::CreateCall(fbb, static_cast<uint64_t>(i), static_cast<uint64_t>(i), 7, wire::CallFlags_Async, a, 0, d);
    protocol::finish_envelope(fbb, call);
    Status s = batch ? p.client->queue(protocol::finished_bytes(fbb)) : p.client->send(protocol::finished_bytes(fbb));
    if (!s.ok()) fail("async send", s);
  }
  if (Status s = p.client->flush(); !s.ok()) fail("async flush", s);
  const double cpu = thread_cpu_seconds() - t0;
  frame_bytes = protocol::kFrameHeaderBytes + fbb.GetSize();
  sink.join();
  return cpu;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = Options::from_env();
  int iters = 20000;
  int reps = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--backend" && i + 1 < argc) {
      const std::string b = argv[++i];
      o.tcp_backend = b == "uring" ? TcpBackend::kUring : b == "socket" ? TcpBackend::kSocket : TcpBackend::kAuto;
    } else if (a == "--iters" && i + 1 < argc) {
      iters = std::atoi(argv[++i]);
    } else if (a == "--reps" && i + 1 < argc) {
      reps = std::atoi(argv[++i]);
    } else {
      std::printf("usage: %s [--backend auto|uring|socket] [--iters N] [--reps N]\n", argv[0]);
      return a == "--help" ? 0 : 2;
    }
  }
  {
    Pair p = make_pair(o);
    std::printf("gpool transport benchmark, loopback, backend %s, %u hardware threads\n\n",
                p.client->backend(), std::thread::hardware_concurrency());
  }

  const size_t ping_bytes = ping_frame_bytes();
  const auto raw_rtt = gpool::bench::raw_ping_pong(ping_bytes, iters / 10, iters);
  const auto gp_rtt = gpool_ping_pong(o, iters / 10, iters);
  std::printf("ping-pong (%zu-byte messages, %d round trips)\n", ping_bytes, iters);
  std::printf("  %-8s %10s %10s\n", "", "p50 us", "p99 us");
  const double r50 = percentile(raw_rtt, 0.5) / 1e3, r99 = percentile(raw_rtt, 0.99) / 1e3;
  const double g50 = percentile(gp_rtt, 0.5) / 1e3, g99 = percentile(gp_rtt, 0.99) / 1e3;
  std::printf("  %-8s %10.2f %10.2f\n", "raw", r50, r99);
  std::printf("  %-8s %10.2f %10.2f\n", "gpool", g50, g99);
  std::printf("  %-8s %10.2f %10.2f   (target p50 <= 1.30)\n", "ratio", g50 / r50, g99 / r99);
  const bool ucx = have_ucx(o);
  if (ucx) {
    const auto ucx_rtt = gpool_ping_pong(o, iters / 10, iters, "ucx");
    std::printf("  %-8s %10.2f %10.2f   (gpool over ucx://)\n", "ucx", percentile(ucx_rtt, 0.5) / 1e3,
                percentile(ucx_rtt, 0.99) / 1e3);
  }
  std::printf("\n");

  std::printf("streaming into a destination buffer (median of %d)\n", reps);
  std::printf("  %-8s %12s %12s %8s%s\n", "size", "raw GB/s", "gpool GB/s", "ratio", ucx ? "     ucx GB/s" : "");
  for (size_t mib : {size_t{1}, size_t{16}, size_t{256}}) {
    const size_t bytes = mib << 20;
    const double raw = static_cast<double>(bytes) / median(gpool::bench::raw_stream(bytes, reps)) / 1e9;
    const double gp = static_cast<double>(bytes) / median(gpool_stream(o, bytes, reps)) / 1e9;
    std::printf("  %4zu MiB %12.2f %12.2f %8.2f", mib, raw, gp, gp / raw);
    if (ucx) std::printf(" %12.2f", static_cast<double>(bytes) / median(gpool_stream(o, bytes, reps, "ucx")) / 1e9);
    std::printf("%s\n", mib >= 16 ? "   (target >= 0.90)" : "");
  }

  const int count = 100000;
  size_t frame_bytes = 0;
  const double gp_cpu = gpool_small_sends_cpu(o, count, frame_bytes, false);
  const double gp_batch_cpu = gpool_small_sends_cpu(o, count, frame_bytes, true);
  const double raw_cpu = gpool::bench::raw_small_sends_cpu(frame_bytes, count);
  std::printf("\nasync small frames (%d frames of %zu bytes, one send each, client thread CPU)\n", count,
              frame_bytes);
  std::printf("  raw send()      %8.3f us/frame\n", raw_cpu / count * 1e6);
  std::printf("  gpool send()    %8.3f us/frame (FlatBuffers build + framing + send)\n", gp_cpu / count * 1e6);
  std::printf("  gpool queue()   %8.3f us/frame (FlatBuffers build + framing, batched writes; target <= 1)\n",
              gp_batch_cpu / count * 1e6);
  return 0;
}
