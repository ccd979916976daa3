// gpool-remote-hostfn-copy: host-to-device copies into streams held at host functions
// (docs/architecture.md "Copies into a held stream"), for tests/remote/hostfn_copy.py, which
// runs the server with a small staging ring and spill budget (GPOOL_COPY_CHUNK=64k,
// GPOOL_COPY_SLOTS=2, GPOOL_COPY_SPILL=1m), so that "big" is a few MiB.
//
// `check`: each case below once; a watchdog fails the program if one hangs. Before the fix the
// first, third and fourth hung for ever (the worker waited for staging slots the held stream
// kept, and the HostFnDone that would release it was behind the copy's bytes on the wire).
//   - a host function that sleeps, then cuMemcpyHtoDAsync of 4 MiB (>> ring, > spill budget)
//     into the same stream;
//   - a host function that waits for a flag the program sets only after cuMemcpyHtoDAsync of
//     512 KiB (> ring, within the spill budget) returned, and after eight 64 KiB copies: they
//     must return while the function still waits (the common case is not serialised);
//   - the synchronous cuMemcpyHtoD of 4 MiB, and two small ones in a row, behind a host
//     function on a blocking stream (the legacy stream waits for it);
//   - a graph whose host node sleeps, launched, then a 4 MiB copy into the stream; and a graph
//     whose host node waits for a flag set after a 512 KiB copy;
//   - a stream callback that sleeps, then a 4 MiB copy.
// Every copy's bytes are read back and compared.
//
// `vanish`: holds a stream at a host function that never returns, spills a 512 KiB copy behind
// it, prints "HOLDING <bytes>" and then sends a 4 MiB copy (which waits for the host function, as
// the driver's pageable copy may). The test SIGKILLs it there.
#include <cuda.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "driver_client.h"

namespace {

using remote_client::must;

std::atomic<int> g_stage{0};  // the case running, for the watchdog's message

struct Hold {
  std::atomic<bool> release{false};  // the function returns once set (wait_flag)
  std::atomic<bool> ran{false};      // the function has returned
  int sleep_ms = 0;
};

void CUDA_CB sleep_fn(void* p) {
  auto* h = static_cast<Hold*>(p);
  std::this_thread::sleep_for(std::chrono::milliseconds(h->sleep_ms));
  h->ran = true;
}

void CUDA_CB wait_flag(void* p) {
  auto* h = static_cast<Hold*>(p);
  while (!h->release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  h->ran = true;
}

void CUDA_CB sleep_callback(CUstream, CUresult, void* p) { sleep_fn(p); }

void CUDA_CB block_for_ever(void* p) {
  static_cast<Hold*>(p)->ran = true;
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
}

void check(bool ok, const char* what) {
  if (ok) {
    std::printf("ok: %s\n", what);
  } else {
    std::printf("FAIL: %s\n", what);
    ++remote_client::g_failures;
  }
  std::fflush(stdout);
}

std::vector<unsigned char> pattern(size_t n, unsigned seed) {
  std::vector<unsigned char> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>((i * 131 + seed * 7 + (i >> 12)) & 0xff);
  return v;
}

struct Api {
  decltype(&cuStreamSynchronize) sync;
  decltype(&cuMemcpyHtoDAsync_v2) htod_async;
  decltype(&cuMemcpyHtoD_v2) htod;
  decltype(&cuMemcpyDtoH_v2) dtoh;
  decltype(&cuLaunchHostFunc) launch_host;
  decltype(&cuStreamAddCallback) add_callback;
};

Api api() {
  DRV(cuStreamSynchronize);
  DRV(cuMemcpyHtoDAsync_v2);
  DRV(cuMemcpyHtoD_v2);
  DRV(cuMemcpyDtoH_v2);
  DRV(cuLaunchHostFunc);
  DRV(cuStreamAddCallback);
  return Api{p_cuStreamSynchronize, p_cuMemcpyHtoDAsync_v2, p_cuMemcpyHtoD_v2, p_cuMemcpyDtoH_v2,
             p_cuLaunchHostFunc, p_cuStreamAddCallback};
}

// The device range [d, d + n) holds `want`.
bool reads_back(const Api& a, CUdeviceptr d, const std::vector<unsigned char>& want) {
  std::vector<unsigned char> got(want.size());
  must(a.dtoh(got.data(), d, got.size()), "cuMemcpyDtoH");
  return std::memcmp(got.data(), want.data(), want.size()) == 0;
}

CUcontext setup() {
  DRV(cuInit);
  DRV(cuDevicePrimaryCtxRetain);
  DRV(cuCtxSetCurrent);
  must(p_cuInit(0), "cuInit");
  CUcontext ctx = nullptr;
  must(p_cuDevicePrimaryCtxRetain(&ctx, 0), "cuDevicePrimaryCtxRetain");
  must(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  return ctx;
}

constexpr size_t kBig = size_t{4} << 20;     // > ring (128 KiB) and > spill budget (1 MiB)
constexpr size_t kSmall = size_t{512} << 10;  // > ring, within the spill budget

// A graph of one host node running fn(hold), instantiated.
CUgraphExec host_graph(CUhostFn fn, Hold* hold) {
  DRV(cuGraphCreate);
  DRV(cuGraphAddHostNode);
  DRV(cuGraphInstantiateWithFlags);
  DRV(cuGraphDestroy);
  CUgraph g = nullptr;
  must(p_cuGraphCreate(&g, 0), "cuGraphCreate");
  CUgraphNode node = nullptr;
  const CUDA_HOST_NODE_PARAMS p{fn, hold};
  must(p_cuGraphAddHostNode(&node, g, nullptr, 0, &p), "cuGraphAddHostNode");
  CUgraphExec e = nullptr;
  must(p_cuGraphInstantiateWithFlags(&e, g, 0), "cuGraphInstantiate");
  must(p_cuGraphDestroy(g), "cuGraphDestroy");
  return e;
}

int run_check() {
  setup();
  const Api a = api();
  DRV(cuMemAlloc_v2);
  DRV(cuStreamCreate);
  DRV(cuGraphLaunch);
  DRV(cuGraphExecDestroy);
  std::thread([] {
    std::this_thread::sleep_for(std::chrono::seconds(60));
    std::printf("FAIL: case %d still waits after 60 s: a copy into a held stream hangs\n", g_stage.load());
    std::fflush(stdout);
    std::_Exit(1);
  }).detach();

  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, kBig), "cuMemAlloc");
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, 0), "cuStreamCreate");  // blocking: the legacy stream waits for it

  {  // 1: a sleeping host function, then a copy much larger than ring and spill budget.
    g_stage = 1;
    Hold h;
    h.sleep_ms = 200;
    const auto data = pattern(kBig, 1);
    must(a.launch_host(s, sleep_fn, &h), "cuLaunchHostFunc");
    must(a.htod_async(d, data.data(), data.size(), s), "cuMemcpyHtoDAsync (4 MiB behind a host function)");
    must(a.sync(s), "cuStreamSynchronize");
    check(h.ran, "1: the host function ran");
    check(reads_back(a, d, data), "1: 4 MiB async copy behind a sleeping host function arrived whole");
  }
  {  // 2: the function waits for the program: copies within the spill budget must not wait for it.
    g_stage = 2;
    Hold h;
    const auto data = pattern(kSmall, 2);
    must(a.launch_host(s, wait_flag, &h), "cuLaunchHostFunc");
    must(a.htod_async(d, data.data(), data.size(), s), "cuMemcpyHtoDAsync (512 KiB behind a waiting host function)");
    const auto many = pattern(8 * (size_t{64} << 10), 3);
    for (size_t i = 0; i < 8; ++i) {
      must(a.htod_async(d + kSmall + i * (size_t{64} << 10), many.data() + i * (size_t{64} << 10), size_t{64} << 10, s),
           "cuMemcpyHtoDAsync (64 KiB)");
    }
    check(!h.ran, "2: the copies returned while the host function still waited (not serialised)");
    h.release = true;
    must(a.sync(s), "cuStreamSynchronize");
    check(h.ran, "2: the host function ran");
    check(reads_back(a, d, data), "2: 512 KiB copy behind a waiting host function arrived whole");
    std::vector<unsigned char> got(many.size());
    must(a.dtoh(got.data(), d + kSmall, got.size()), "cuMemcpyDtoH");
    check(std::memcmp(got.data(), many.data(), many.size()) == 0, "2: eight 64 KiB copies arrived whole");
  }
  {  // 3: synchronous copies on the legacy stream, which waits for the blocking stream s.
    g_stage = 3;
    Hold h;
    h.sleep_ms = 200;
    const auto data = pattern(kBig, 4);
    must(a.launch_host(s, sleep_fn, &h), "cuLaunchHostFunc");
    must(a.htod(d, data.data(), data.size()), "cuMemcpyHtoD (4 MiB behind a host function)");
    check(h.ran, "3: cuMemcpyHtoD returned after the host function it waits for");
    check(reads_back(a, d, data), "3: 4 MiB sync copy arrived whole");
    Hold h2;
    h2.sleep_ms = 100;
    const auto two = pattern(size_t{128} << 10, 5);
    must(a.launch_host(s, sleep_fn, &h2), "cuLaunchHostFunc");
    must(a.htod(d, two.data(), size_t{64} << 10), "cuMemcpyHtoD (64 KiB)");
    must(a.htod(d + (size_t{64} << 10), two.data() + (size_t{64} << 10), size_t{64} << 10), "cuMemcpyHtoD (64 KiB)");
    check(h2.ran && reads_back(a, d, two), "3: two small sync copies in a row behind a host function");
  }
  {  // 4: graphs with a host node.
    g_stage = 4;
    Hold h;
    h.sleep_ms = 200;
    CUgraphExec e = host_graph(sleep_fn, &h);
    const auto data = pattern(kBig, 6);
    must(p_cuGraphLaunch(e, s), "cuGraphLaunch");
    must(a.htod_async(d, data.data(), data.size(), s), "cuMemcpyHtoDAsync (4 MiB behind a graph's host node)");
    must(a.sync(s), "cuStreamSynchronize");
    check(h.ran, "4: the graph's host node ran");
    check(reads_back(a, d, data), "4: 4 MiB copy behind a graph's host node arrived whole");
    must(p_cuGraphExecDestroy(e), "cuGraphExecDestroy");
    Hold w;
    CUgraphExec e2 = host_graph(wait_flag, &w);
    const auto small = pattern(kSmall, 7);
    must(p_cuGraphLaunch(e2, s), "cuGraphLaunch");
    must(a.htod_async(d, small.data(), small.size(), s), "cuMemcpyHtoDAsync (512 KiB behind a waiting host node)");
    check(!w.ran, "4: the copy returned while the graph's host node still waited");
    w.release = true;
    must(a.sync(s), "cuStreamSynchronize");
    check(w.ran && reads_back(a, d, small), "4: 512 KiB copy behind a waiting host node arrived whole");
    must(p_cuGraphExecDestroy(e2), "cuGraphExecDestroy");
  }
  {  // 5: a stream callback.
    g_stage = 5;
    Hold h;
    h.sleep_ms = 100;
    const auto data = pattern(kBig, 8);
    must(a.add_callback(s, sleep_callback, &h, 0), "cuStreamAddCallback");
    must(a.htod_async(d, data.data(), data.size(), s), "cuMemcpyHtoDAsync (4 MiB behind a stream callback)");
    must(a.sync(s), "cuStreamSynchronize");
    check(h.ran && reads_back(a, d, data), "5: 4 MiB copy behind a sleeping stream callback arrived whole");
  }
  if (remote_client::g_failures != 0) {
    std::printf("FAIL: %d checks failed\n", remote_client::g_failures);
    return 1;
  }
  std::printf("PASS\n");
  return 0;
}

int run_vanish() {
  setup();
  const Api a = api();
  DRV(cuMemAlloc_v2);
  DRV(cuStreamCreate);
  CUdeviceptr d = 0;
  must(p_cuMemAlloc_v2(&d, kBig), "cuMemAlloc");
  CUstream s = nullptr;
  must(p_cuStreamCreate(&s, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  // Learn the spill budget first (the first copy after a host function settles).
  Hold first;
  must(a.launch_host(s, sleep_fn, &first), "cuLaunchHostFunc");
  const auto data = pattern(kBig, 9);
  must(a.htod_async(d, data.data(), size_t{64} << 10, s), "cuMemcpyHtoDAsync");
  must(a.sync(s), "cuStreamSynchronize");
  Hold h;
  must(a.launch_host(s, block_for_ever, &h), "cuLaunchHostFunc");
  must(a.htod_async(d, data.data(), kSmall, s), "cuMemcpyHtoDAsync (512 KiB, spilled)");
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!h.ran) {
    if (std::chrono::steady_clock::now() > give_up) {
      std::printf("FAIL: the host function never ran\n");
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::printf("HOLDING %zu\n", kBig);
  std::fflush(stdout);
  const CUresult r = a.htod_async(d, data.data(), kBig, s);
  std::printf("FAIL: a 4 MiB copy behind a host function that never returns returned %s\n",
              remote_client::err_name(r));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (!remote_client::load_driver()) return 1;
  if (argc > 1 && std::strcmp(argv[1], "check") == 0) return run_check();
  if (argc > 1 && std::strcmp(argv[1], "vanish") == 0) return run_vanish();
  std::printf("usage: gpool-remote-hostfn-copy check|vanish\n");
  return 2;
}
