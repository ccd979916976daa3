// gpool-bench-remote: the driver-API side of the remote benchmarks (bench/remote/run.py starts
// the server and runs this through the client shim). Loads libcuda.so.1 with dlopen, so it
// measures whatever libcuda.so.1 comes first on LD_LIBRARY_PATH; with --raw it measures the raw
// TCP baselines (bench/transport/raw_tcp.h) instead. Prints one JSON object per measurement.
//
//   gpool-bench-remote null ITERS          cuCtxSynchronize round trips (p50/p99 ns)
//   gpool-bench-remote launches N          N empty-kernel launches, then one cuCtxSynchronize:
//                                          client CPU ns per launch; waits for a line on stdin
//                                          before exiting so the caller can read the server's
//                                          round-trip count of the session
//   gpool-bench-remote copy MIB REPS       H2D and D2H, pageable and pinned (seconds each)
//   gpool-bench-remote graph NODES REPLAYS a graph of NODES one-thread kernels, captured from a
//                                          stream, launched REPLAYS times (client CPU per graph
//                                          launch, wall time), then the same kernels issued one
//                                          by one REPLAYS times; checks the counter the kernels
//                                          increment; then 10 graph launches, a 50 ms sleep and
//                                          the synchronisation's wait. Waits for a line on stdin before and
//                                          after the graph loop (the caller reads the server's
//                                          call and round-trip counts)
//   gpool-bench-remote graph_host_copy BYTES REPLAYS
//                                          a graph of one host-to-device copy node of BYTES and
//                                          one device-to-host node of BYTES (pageable host
//                                          buffers), launched REPLAYS times with a synchronisation
//                                          after each; checks the bytes came back; wall and CPU
//                                          time per launch
//   gpool-bench-remote --raw ITERS MIB...  raw TCP ping-pong and stream baselines: the echo /
//                                          sink in a thread of this process (raw_tcp.h), and
//                                          the ping-pong also with the echo in a forked child
//                                          process, as the shim and the server are two
//                                          processes (a process switch costs more than a
//                                          thread switch)
#include <arpa/inet.h>
#include <cuda.h>
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <string>
#include <vector>

#include "raw_tcp.h"

namespace {

void* g_lib = nullptr;

template <typename F>
F sym(const char* name) {
  void* p = ::dlsym(g_lib, name);
  if (p == nullptr) {
    std::fprintf(stderr, "libcuda.so.1 does not export %s\n", name);
    std::exit(1);
  }
  return reinterpret_cast<F>(p);
}
#define DRV(name) static auto p_##name = sym<decltype(&name)>(#name)

void must(CUresult r, const char* what) {
  if (r != CUDA_SUCCESS) {
    std::fprintf(stderr, "%s failed: CUresult %d\n", what, static_cast<int>(r));
    std::exit(1);
  }
}

void attach() {
  DRV(cuInit);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  must(p_cuInit(0), "cuInit");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, 0), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
}

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
double cpu_s() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int null_calls(int iters) {
  attach();
  DRV(cuCtxSynchronize);
  for (int i = 0; i < 200; ++i) must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  std::vector<double> ns;
  for (int i = 0; i < iters; ++i) {
    const double t = now_s();
    must(p_cuCtxSynchronize(), "cuCtxSynchronize");
    ns.push_back((now_s() - t) * 1e9);
  }
  std::printf("{\"bench\":\"null_sync\",\"iters\":%d,\"p50_ns\":%.0f,\"p99_ns\":%.0f}\n", iters,
              pct(ns, 0.5), pct(ns, 0.99));
  return 0;
}

const char kEmptyPtx[] =
    ".version 7.0\n.target sm_75\n.address_size 64\n.visible .entry empty()\n{\n ret;\n}\n";

int launches(int n) {
  attach();
  DRV(cuModuleLoadData);
  DRV(cuModuleGetFunction);
  DRV(cuLaunchKernel);
  DRV(cuCtxSynchronize);
  CUmodule mod = nullptr;
  must(p_cuModuleLoadData(&mod, kEmptyPtx), "cuModuleLoadData");
  CUfunction f = nullptr;
  must(p_cuModuleGetFunction(&f, mod, "empty"), "cuModuleGetFunction");
  must(p_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr), "cuLaunchKernel");
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  std::printf("{\"bench\":\"launch_setup_done\"}\n");
  std::fflush(stdout);
  std::string line;
  std::getline(std::cin, line);  // the caller reads the round-trip count before the loop
  const double c0 = cpu_s(), w0 = now_s();
  for (int i = 0; i < n; ++i) {
    must(p_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr), "cuLaunchKernel");
  }
  const double c1 = cpu_s(), w1 = now_s();
  must(p_cuCtxSynchronize(), "cuCtxSynchronize");
  const double w2 = now_s();
  std::printf("{\"bench\":\"launches\",\"n\":%d,\"client_cpu_ns_per_launch\":%.1f,"
              "\"enqueue_wall_s\":%.4f,\"total_wall_s\":%.4f}\n",
              n, (c1 - c0) * 1e9 / n, w1 - w0, w2 - w0);
  std::fflush(stdout);
  std::getline(std::cin, line);  // the caller reads the round-trip count after the loop
  return 0;
}

const char kIncPtx[] =
    ".version 7.0\n.target sm_75\n.address_size 64\n"
    ".visible .entry inc(.param .u64 p)\n{\n .reg .b64 %rd<3>;\n .reg .b32 %r<3>;\n"
    " ld.param.u64 %rd1, [p];\n cvta.to.global.u64 %rd2, %rd1;\n ld.global.u32 %r1, [%rd2];\n"
    " add.s32 %r2, %r1, 1;\n st.global.u32 [%rd2], %r2;\n ret;\n}\n";

int graph(int nodes, int replays) {
  attach();
  DRV(cuModuleLoadData);
  DRV(cuModuleGetFunction);
  DRV(cuLaunchKernel);
  DRV(cuMemAlloc_v2);
  DRV(cuMemsetD32_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuStreamCreate);
  DRV(cuStreamSynchronize);
  DRV(cuStreamBeginCapture_v2);
  DRV(cuStreamEndCapture);
  DRV(cuGraphInstantiateWithFlags);
  DRV(cuGraphLaunch);
  CUmodule mod = nullptr;
  must(p_cuModuleLoadData(&mod, kIncPtx), "cuModuleLoadData");
  CUfunction f = nullptr;
  must(p_cuModuleGetFunction(&f, mod, "inc"), "cuModuleGetFunction");
  CUdeviceptr counter = 0;
  must(p_cuMemAlloc_v2(&counter, 4), "cuMemAlloc");
  must(p_cuMemsetD32_v2(counter, 0, 1), "cuMemsetD32");
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  void* args[] = {&counter};
  must(p_cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_GLOBAL), "cuStreamBeginCapture");
  for (int i = 0; i < nodes; ++i) must(p_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, args, nullptr), "capture launch");
  CUgraph g = nullptr;
  must(p_cuStreamEndCapture(s, &g), "cuStreamEndCapture");
  CUgraphExec e = nullptr;
  must(p_cuGraphInstantiateWithFlags(&e, g, 0), "cuGraphInstantiate");
  must(p_cuGraphLaunch(e, s), "warm-up cuGraphLaunch");
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  std::printf("{\"bench\":\"graph_setup_done\"}\n");
  std::fflush(stdout);
  std::string line;
  std::getline(std::cin, line);
  const double c0 = cpu_s(), w0 = now_s();
  for (int r = 0; r < replays; ++r) must(p_cuGraphLaunch(e, s), "cuGraphLaunch");
  const double c1 = cpu_s(), w1 = now_s();
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  const double w2 = now_s(), c2 = cpu_s();
  // total_cpu_s: this process's CPU from the first launch to the end of the synchronisation
  // (directly: the whole emulator, launching thread and stream thread; through the pool: the
  // shim's part only, the server's worker process is measured by the caller).
  std::printf("{\"bench\":\"graph\",\"nodes\":%d,\"replays\":%d,\"client_cpu_ns_per_graph_launch\":%.1f,"
              "\"enqueue_wall_s\":%.4f,\"total_wall_s\":%.4f,\"total_cpu_s\":%.6f}\n",
              nodes, replays, (c1 - c0) * 1e9 / replays, w1 - w0, w2 - w0, c2 - c0);
  std::fflush(stdout);
  std::getline(std::cin, line);
  const double e0 = now_s(), ec0 = cpu_s();
  for (int r = 0; r < replays; ++r) {
    for (int i = 0; i < nodes; ++i) must(p_cuLaunchKernel(f, 1, 1, 1, 1, 1, 1, 0, s, args, nullptr), "cuLaunchKernel");
  }
  const double ec1 = cpu_s();
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  const double e1 = now_s();
  // Overlap: a few graph launches, then host work (a sleep, so as not to take a core from the
  // device side), then the synchronisation. Where the launches reached the device at once, the
  // graphs ran during the host work and the synchronisation returns at once.
  constexpr int kOverlapLaunches = 10;
  for (int r = 0; r < kOverlapLaunches; ++r) must(p_cuGraphLaunch(e, s), "overlap cuGraphLaunch");
  ::usleep(50000);
  const double o0 = now_s();
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  const double o1 = now_s();
  unsigned got = 0;
  must(p_cuMemcpyDtoH_v2(&got, counter, 4), "cuMemcpyDtoH");
  const unsigned want = static_cast<unsigned>(nodes) * static_cast<unsigned>(2 * replays + 1 + kOverlapLaunches);
  std::printf("{\"bench\":\"eager\",\"launches\":%d,\"client_cpu_ns_per_launch\":%.1f,\"total_wall_s\":%.4f,"
              "\"counter\":%u,\"counter_ok\":%s}\n",
              nodes * replays, (ec1 - ec0) * 1e9 / (nodes * replays), e1 - e0, got, got == want ? "true" : "false");
  std::printf("{\"bench\":\"overlap\",\"graph_launches\":%d,\"host_sleep_s\":0.05,\"sync_wait_s\":%.5f}\n",
              kOverlapLaunches, o1 - o0);
  std::fflush(stdout);
  return got == want ? 0 : 1;
}

int copies(size_t mib, int reps) {
  attach();
  DRV(cuMemAlloc_v2);
  DRV(cuMemAllocHost_v2);
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  const size_t bytes = mib << 20;
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, bytes), "cuMemAlloc");
  std::vector<unsigned char> pageable(bytes, 3);
  void* pinned = nullptr;
  must(p_cuMemAllocHost_v2(&pinned, bytes), "cuMemAllocHost");
  std::memset(pinned, 4, bytes);
  for (int kind = 0; kind < 2; ++kind) {
    void* host = kind == 0 ? static_cast<void*>(pageable.data()) : pinned;
    must(p_cuMemcpyHtoD_v2(d, host, bytes), "warm-up H2D");
    must(p_cuMemcpyDtoH_v2(host, d, bytes), "warm-up D2H");
    std::vector<double> h2d, d2h;
    for (int r = 0; r < reps; ++r) {
      double t = now_s();
      must(p_cuMemcpyHtoD_v2(d, host, bytes), "cuMemcpyHtoD");
      // H2D is async on the wire: the next sync call returns once it has completed.
      DRV(cuCtxSynchronize);
      must(p_cuCtxSynchronize(), "cuCtxSynchronize");
      h2d.push_back(now_s() - t);
      t = now_s();
      must(p_cuMemcpyDtoH_v2(host, d, bytes), "cuMemcpyDtoH");
      d2h.push_back(now_s() - t);
    }
    std::printf("{\"bench\":\"copy\",\"mib\":%zu,\"host\":\"%s\",\"h2d_s\":%.6f,\"d2h_s\":%.6f}\n", mib,
                kind == 0 ? "pageable" : "pinned", pct(h2d, 0.5), pct(d2h, 0.5));
  }
  return 0;
}

bool xfer(int fd, char* p, size_t n, bool send) {
  while (n > 0) {
    const ssize_t r = send ? ::send(fd, p, n, MSG_NOSIGNAL) : ::recv(fd, p, n, MSG_WAITALL);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Blocking-socket ping-pong over loopback TCP (TCP_NODELAY) with the echo in a child process.
std::vector<double> ping_pong_process(size_t bytes, int warmup, int iters) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 1) != 0 ||
      ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    std::perror("raw ping-pong: bind/listen");
    std::exit(1);
  }
  const int one = 1;
  const pid_t child = ::fork();
  if (child == 0) {
    const int c = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) ::_exit(1);
    ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    std::vector<char> buf(bytes);
    while (xfer(c, buf.data(), bytes, false) && xfer(c, buf.data(), bytes, true)) {
    }
    ::_exit(0);
  }
  const int s = ::accept(l, nullptr, nullptr);
  ::close(l);
  if (s < 0) {
    std::perror("raw ping-pong: accept");
    std::exit(1);
  }
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  std::vector<char> buf(bytes, 'x');
  std::vector<double> rtt;
  for (int i = 0; i < warmup + iters; ++i) {
    const double t = now_s();
    if (!xfer(s, buf.data(), bytes, true) || !xfer(s, buf.data(), bytes, false)) {
      std::fprintf(stderr, "raw ping-pong: the echo process went away\n");
      std::exit(1);
    }
    if (i >= warmup) rtt.push_back((now_s() - t) * 1e9);
  }
  ::close(s);
  ::waitpid(child, nullptr, 0);
  return rtt;
}

int raw(int iters, int argc, char** argv, int first) {
  auto rtt = gpool::bench::raw_ping_pong(64, 200, iters);
  std::printf("{\"bench\":\"raw_ping_pong\",\"iters\":%d,\"p50_ns\":%.0f,\"p99_ns\":%.0f}\n", iters,
              pct(rtt, 0.5), pct(rtt, 0.99));
  rtt = ping_pong_process(64, 200, iters);
  std::printf("{\"bench\":\"raw_ping_pong_process\",\"iters\":%d,\"p50_ns\":%.0f,\"p99_ns\":%.0f}\n",
              iters, pct(rtt, 0.5), pct(rtt, 0.99));
  for (int i = first; i < argc; ++i) {
    const size_t mib = std::strtoull(argv[i], nullptr, 10);
    auto s = gpool::bench::raw_stream(mib << 20, mib >= 256 ? 3 : 10);
    std::printf("{\"bench\":\"raw_stream\",\"mib\":%zu,\"s\":%.6f}\n", mib, pct(s, 0.5));
  }
  return 0;
}

int graph_host_copy(size_t bytes, int replays) {
  attach();
  DRV(cuMemAlloc_v2);
  DRV(cuStreamCreate);
  DRV(cuStreamSynchronize);
  DRV(cuGraphCreate);
  DRV(cuGraphAddMemcpyNode);
  DRV(cuGraphInstantiateWithFlags);
  DRV(cuGraphLaunch);
  DRV(cuCtxGetCurrent);
  CUcontext ctx = nullptr;
  must(p_cuCtxGetCurrent(&ctx), "cuCtxGetCurrent");
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, bytes), "cuMemAlloc");
  std::vector<unsigned char> in(bytes), out(bytes);
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  CUgraph g = nullptr;
  must(p_cuGraphCreate(&g, 0), "cuGraphCreate");
  CUDA_MEMCPY3D up{}, down{};
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = in.data();
  up.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up.dstDevice = d;
  down.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  down.srcDevice = d;
  down.dstMemoryType = CU_MEMORYTYPE_HOST;
  down.dstHost = out.data();
  up.WidthInBytes = down.WidthInBytes = bytes;
  up.Height = up.Depth = down.Height = down.Depth = 1;
  CUgraphNode a = nullptr, b = nullptr;
  must(p_cuGraphAddMemcpyNode(&a, g, nullptr, 0, &up, ctx), "cuGraphAddMemcpyNode");
  must(p_cuGraphAddMemcpyNode(&b, g, &a, 1, &down, ctx), "cuGraphAddMemcpyNode");
  CUgraphExec e = nullptr;
  must(p_cuGraphInstantiateWithFlags(&e, g, 0), "cuGraphInstantiate");
  must(p_cuGraphLaunch(e, s), "warm-up cuGraphLaunch");
  must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
  const double c0 = cpu_s(), w0 = now_s();
  for (int r = 0; r < replays; ++r) {
    in[0] = static_cast<unsigned char>(r);
    in[bytes - 1] = static_cast<unsigned char>(r * 3);
    must(p_cuGraphLaunch(e, s), "cuGraphLaunch");
    must(p_cuStreamSynchronize(s), "cuStreamSynchronize");
    if (out[0] != in[0] || out[bytes - 1] != in[bytes - 1]) {
      std::fprintf(stderr, "launch %d: the bytes did not come back\n", r);
      return 1;
    }
  }
  const double w1 = now_s(), c1 = cpu_s();
  // The same bytes as two ordinary synchronous copies, for reference.
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  const double c2 = cpu_s(), w2 = now_s();
  for (int r = 0; r < replays; ++r) {
    must(p_cuMemcpyHtoD_v2(d, in.data(), bytes), "cuMemcpyHtoD");
    must(p_cuMemcpyDtoH_v2(out.data(), d, bytes), "cuMemcpyDtoH");
  }
  const double w3 = now_s(), c3 = cpu_s();
  std::printf("{\"bench\":\"graph_host_copy\",\"bytes\":%zu,\"replays\":%d,\"wall_us_per_launch\":%.1f,"
              "\"cpu_us_per_launch\":%.1f,\"wall_us_per_copy_pair\":%.1f,\"cpu_us_per_copy_pair\":%.1f}\n",
              bytes, replays, (w1 - w0) * 1e6 / replays, (c1 - c0) * 1e6 / replays, (w3 - w2) * 1e6 / replays,
              (c3 - c2) * 1e6 / replays);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: see bench/remote/remote_bench.cc\n");
    return 2;
  }
  const std::string mode = argv[1];
  if (mode == "--raw") return raw(std::atoi(argv[2]), argc, argv, 3);
  g_lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (g_lib == nullptr) {
    std::fprintf(stderr, "cannot load libcuda.so.1: %s\n", ::dlerror());
    return 1;
  }
  if (mode == "null") return null_calls(std::atoi(argv[2]));
  if (mode == "launches") return launches(std::atoi(argv[2]));
  if (mode == "graph" && argc > 3) return graph(std::atoi(argv[2]), std::atoi(argv[3]));
  if (mode == "graph_host_copy" && argc > 3) return graph_host_copy(std::strtoull(argv[2], nullptr, 10), std::atoi(argv[3]));
  if (mode == "copy" && argc > 3) return copies(std::strtoull(argv[2], nullptr, 10), std::atoi(argv[3]));
  std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
  return 2;
}
