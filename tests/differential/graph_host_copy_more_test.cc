// Graph copy nodes with a host side beyond the simple case (graph_host_copy_test.cc): 1 MiB
// host sides, 2D/3D copies with pitched host memory and pitched device memory or an array, host
// copy nodes inside child graphs, and new parameters before and after instantiation. Every graph
// is launched several times with the host input changed in between: the node reads and writes
// the host buffer when it runs. Through the pool: server/src/worker_graph_host_copy.h.
#include <cstdint>
#include <cstring>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using GraphHostCopyTest = DiffTest;

CUcontext current() {
  CUcontext ctx = nullptr;
  api().cuCtxGetCurrent(&ctx);
  return ctx;
}

CUDA_MEMCPY3D host_to_device(const void* host, CUdeviceptr dev, size_t bytes) {
  CUDA_MEMCPY3D p{};
  p.srcMemoryType = CU_MEMORYTYPE_HOST;
  p.srcHost = host;
  p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  p.dstDevice = dev;
  p.WidthInBytes = bytes;
  p.Height = p.Depth = 1;
  return p;
}

CUDA_MEMCPY3D device_to_host(CUdeviceptr dev, void* host, size_t bytes) {
  CUDA_MEMCPY3D p{};
  p.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  p.srcDevice = dev;
  p.dstMemoryType = CU_MEMORYTYPE_HOST;
  p.dstHost = host;
  p.WidthInBytes = bytes;
  p.Height = p.Depth = 1;
  return p;
}

// 1 MiB each way (16 notes of inline data through the pool), captured around a kernel that
// adds one to the first 256 words.
TEST_F(GraphHostCopyTest, OneMiBHostSidesRunAtEveryLaunch) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr size_t n = 1 << 18;  // 1 MiB of words
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  std::vector<unsigned> in(n), out(n, 0xdeadbeef);
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  unsigned count = 256;
  void* params[] = {&d, &count};
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoDAsync(d, in.data(), n * 4, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 2, 1, 1, 128, 1, 1, 0, s, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoHAsync(out.data(), d, n * 4, s));
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &graph));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  for (unsigned launch = 0; launch < 3; ++launch) {
    for (size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned>(launch * 100003u + i * 7u);
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
    size_t wrong = 0;
    for (size_t i = 0; i < n; ++i) wrong += out[i] != in[i] + (i < 256 ? 1u : 0u);
    EXPECT_SAME_VALUE(0, wrong) << "launch " << launch;
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

// A box of a pitched host buffer: 24 bytes x 4 rows x 2 slices at (4, 1, 1) of a 40 x 6 x 3
// buffer, copied to a box of pitched device memory (explicit 3D node) and back into a
// differently laid out host buffer (pitch 32, slice height 5, at row 1); bytes outside the
// boxes are untouched.
TEST_F(GraphHostCopyTest, PitchedThreeDNodesRunAtEveryLaunch) {
  constexpr size_t w = 24, rows = 4, depth = 2;
  constexpr size_t sp = 40, sh = 6, sx = 4, sy = 1, sz = 1;  // source host box
  constexpr size_t dp = 64, dh = 5, dx = 8;                  // device box
  constexpr size_t op = 32, oh = 5, oy = 1;                  // output host box
  std::vector<unsigned char> src(sp * sh * 3), out(op * oh * depth + 16, 0xab);
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, dp * dh * depth));
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  CUDA_MEMCPY3D up{};
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = src.data();
  up.srcXInBytes = sx;
  up.srcY = sy;
  up.srcZ = sz;
  up.srcPitch = sp;
  up.srcHeight = sh;
  up.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up.dstDevice = d;
  up.dstXInBytes = dx;
  up.dstPitch = dp;
  up.dstHeight = dh;
  up.WidthInBytes = w;
  up.Height = rows;
  up.Depth = depth;
  CUDA_MEMCPY3D down{};
  down.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  down.srcDevice = d;
  down.srcXInBytes = dx;
  down.srcPitch = dp;
  down.srcHeight = dh;
  down.dstMemoryType = CU_MEMORYTYPE_HOST;
  down.dstHost = out.data();
  down.dstY = oy;
  down.dstPitch = op;
  down.dstHeight = oh;
  down.WidthInBytes = w;
  down.Height = rows;
  down.Depth = depth;
  CUgraphNode a = nullptr, b = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&a, graph, nullptr, 0, &up, current()));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&b, graph, &a, 1, &down, current()));
  // The nodes report the copies as given (through the pool: the program's buffers and boxes).
  CUDA_MEMCPY3D got{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemcpyNodeGetParams(a, &got));
  EXPECT_SAME_VALUE(CU_MEMORYTYPE_HOST, got.srcMemoryType);
  EXPECT_SAME_VALUE(1, got.srcHost == src.data());
  EXPECT_SAME_VALUE(sx, got.srcXInBytes);
  EXPECT_SAME_VALUE(sy, got.srcY);
  EXPECT_SAME_VALUE(sz, got.srcZ);
  EXPECT_SAME_VALUE(sp, got.srcPitch);
  EXPECT_SAME_VALUE(sh, got.srcHeight);
  EXPECT_SAME_VALUE(CU_MEMORYTYPE_DEVICE, got.dstMemoryType);
  EXPECT_SAME_VALUE(1, got.dstDevice == d);
  EXPECT_SAME_VALUE(dx, got.dstXInBytes);
  EXPECT_SAME_VALUE(dp, got.dstPitch);
  EXPECT_SAME_VALUE(w, got.WidthInBytes);
  EXPECT_SAME_VALUE(rows, got.Height);
  EXPECT_SAME_VALUE(depth, got.Depth);
  got = CUDA_MEMCPY3D{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphMemcpyNodeGetParams(b, &got));
  EXPECT_SAME_VALUE(CU_MEMORYTYPE_HOST, got.dstMemoryType);
  EXPECT_SAME_VALUE(1, got.dstHost == out.data());
  EXPECT_SAME_VALUE(oy, got.dstY);
  EXPECT_SAME_VALUE(op, got.dstPitch);
  EXPECT_SAME_VALUE(oh, got.dstHeight);
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  for (unsigned launch = 0; launch < 3; ++launch) {
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(launch * 31 + i * 7);
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
    std::vector<unsigned char> want(out.size(), 0xab);  // the CPU reference
    for (size_t z = 0; z < depth; ++z) {
      for (size_t r = 0; r < rows; ++r) {
        for (size_t x = 0; x < w; ++x) want[(z * oh + oy + r) * op + x] = src[((sz + z) * sh + sy + r) * sp + sx + x];
      }
    }
    size_t wrong = 0;
    for (size_t i = 0; i < out.size(); ++i) wrong += out[i] != want[i];
    EXPECT_SAME_VALUE(0, wrong) << "launch " << launch;
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
}

// Captured cuMemcpy2DAsync from a pitched host box into a 2D array and cuMemcpy3DAsync from the
// array back into another host box.
TEST_F(GraphHostCopyTest, CapturedTwoDCopiesThroughAnArray) {
  constexpr size_t w = 20, rows = 5, sp = 32, sx = 6, sy = 2, op = 24, ox = 3;
  std::vector<unsigned char> src(sp * (sy + rows)), out(op * rows, 0xcd);
  CUDA_ARRAY_DESCRIPTOR desc{};
  desc.Width = w;
  desc.Height = rows;
  desc.Format = CU_AD_FORMAT_UNSIGNED_INT8;
  desc.NumChannels = 1;
  CUarray arr = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuArrayCreate(&arr, &desc));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUDA_MEMCPY2D up{};
  up.srcMemoryType = CU_MEMORYTYPE_HOST;
  up.srcHost = src.data();
  up.srcXInBytes = sx;
  up.srcY = sy;
  up.srcPitch = sp;
  up.dstMemoryType = CU_MEMORYTYPE_ARRAY;
  up.dstArray = arr;
  up.WidthInBytes = w;
  up.Height = rows;
  CUDA_MEMCPY3D down{};
  down.srcMemoryType = CU_MEMORYTYPE_ARRAY;
  down.srcArray = arr;
  down.dstMemoryType = CU_MEMORYTYPE_HOST;
  down.dstHost = out.data();
  down.dstXInBytes = ox;
  down.dstPitch = op;
  down.dstHeight = rows;
  down.WidthInBytes = w - ox;
  down.Height = rows;
  down.Depth = 1;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpy2DAsync(&up, s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpy3DAsync(&down, s));
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &graph));
  size_t nodes = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(graph, nullptr, &nodes));
  EXPECT_SAME_VALUE(2, nodes);
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  for (unsigned launch = 0; launch < 3; ++launch) {
    for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(launch * 13 + i * 5);
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
    std::vector<unsigned char> want(out.size(), 0xcd);
    for (size_t r = 0; r < rows; ++r) {
      for (size_t x = 0; x < w - ox; ++x) want[r * op + ox + x] = src[(sy + r) * sp + sx + x];
    }
    size_t wrong = 0;
    for (size_t i = 0; i < out.size(); ++i) wrong += out[i] != want[i];
    EXPECT_SAME_VALUE(0, wrong) << "launch " << launch;
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuArrayDestroy(arr));
}

// A child graph holding a host-to-device and a device-to-host node (128 KiB each), added twice
// to a parent (each copy of it runs), with a top-level host copy between them.
TEST_F(GraphHostCopyTest, HostCopyNodesInChildGraphs) {
  constexpr size_t n = 1 << 15;  // 128 KiB of words
  CUdeviceptr d = 0, d2 = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d2, n * 4));
  std::vector<unsigned> in(n), out(n, 0), mid(n, 0), out2(n, 0);
  CUgraph child = nullptr, parent = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&child, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&parent, 0));
  CUgraphNode up = nullptr, down = nullptr;
  const CUDA_MEMCPY3D pu = host_to_device(in.data(), d, n * 4), pd = device_to_host(d, out.data(), n * 4);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&up, child, nullptr, 0, &pu, current()));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&down, child, &up, 1, &pd, current()));
  CUgraphNode c1 = nullptr, mid_node = nullptr, back = nullptr, c2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddChildGraphNode(&c1, parent, nullptr, 0, child));
  // Between the two copies of the child: `out` (just written by the first) goes to d2 and back
  // into `mid`, so `mid` holds this launch's input.
  const CUDA_MEMCPY3D pm = host_to_device(out.data(), d2, n * 4), pb = device_to_host(d2, mid.data(), n * 4);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&mid_node, parent, &c1, 1, &pm, current()));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&back, parent, &mid_node, 1, &pb, current()));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddChildGraphNode(&c2, parent, &back, 1, child));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, parent, 0));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  for (unsigned launch = 0; launch < 3; ++launch) {
    for (size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned>(launch * 1000 + i);
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
    EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
    size_t wrong = 0;
    for (size_t i = 0; i < n; ++i) wrong += (mid[i] != in[i]) + (out[i] != in[i]);
    EXPECT_SAME_VALUE(0, wrong) << "launch " << launch;
  }
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(parent));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(child));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d2));
}

// New parameters: in the graph before instantiation (another buffer and size for the
// host-to-device node, a 2D shape for the device-to-host one), on the exec after it (a third
// buffer, 1D), and through cuGraphExecUpdate from a graph naming a fourth; an exec's copy may
// not become 2D nor change its kinds of memory (the driver's rules).
TEST_F(GraphHostCopyTest, HostCopyNodesGetNewParameters) {
  constexpr size_t n = 1 << 15;  // 128 KiB of words
  CUdeviceptr d = 0, d2 = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d2, n * 4));
  std::vector<unsigned> a(n, 1), b(n), c(n), e(n), out(n, 0);
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  CUgraphNode up = nullptr, down = nullptr;
  const CUDA_MEMCPY3D pa = host_to_device(a.data(), d, 64), pd = device_to_host(d, out.data(), 64);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&up, graph, nullptr, 0, &pa, current()));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&down, graph, &up, 1, &pd, current()));
  // Before instantiation: all of b up; all of the device buffer down as 2D rows.
  const CUDA_MEMCPY3D pb = host_to_device(b.data(), d, n * 4);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphMemcpyNodeSetParams(up, &pb));
  CUDA_MEMCPY3D rows{};
  rows.srcMemoryType = CU_MEMORYTYPE_DEVICE;
  rows.srcDevice = d;
  rows.srcPitch = 1024;
  rows.dstMemoryType = CU_MEMORYTYPE_HOST;
  rows.dstHost = out.data();
  rows.dstPitch = 1024;
  rows.WidthInBytes = 1024;
  rows.Height = n * 4 / 1024;
  rows.Depth = 1;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphMemcpyNodeSetParams(down, &rows));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  auto run = [&](std::vector<unsigned>& in, unsigned salt, const char* what) {
    for (unsigned launch = 0; launch < 2; ++launch) {
      for (size_t i = 0; i < n; ++i) in[i] = static_cast<unsigned>(salt * 100000 + launch * 77 + i * 3);
      EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
      EXPECT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
      size_t wrong = 0;
      for (size_t i = 0; i < n; ++i) wrong += out[i] != in[i];
      EXPECT_SAME_VALUE(0, wrong) << what << ", launch " << launch;
    }
  };
  run(b, 1, "set before instantiation");
  // The exec's copies may not become 2D (or stay 2D), nor device-to-device copies.
  CUDA_MEMCPY3D up_rows = rows;
  up_rows.srcMemoryType = CU_MEMORYTYPE_HOST;
  up_rows.srcHost = c.data();
  up_rows.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  up_rows.dstDevice = d;
  up_rows.dstHost = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphExecMemcpyNodeSetParams(exec, up, &up_rows, current()));
  const CUDA_MEMCPY3D flat_down = device_to_host(d, out.data(), n * 4);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphExecMemcpyNodeSetParams(exec, down, &flat_down, current()));
  CUDA_MEMCPY3D dd{};
  dd.srcMemoryType = dd.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  dd.srcDevice = d2;
  dd.dstDevice = d;
  dd.WidthInBytes = n * 4;
  dd.Height = dd.Depth = 1;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphExecMemcpyNodeSetParams(exec, up, &dd, current()));
  run(b, 2, "after refused exec parameters");
  // A new 1D exec parameter: the exec reads c (the graph still names b).
  const CUDA_MEMCPY3D pc = host_to_device(c.data(), d, n * 4);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphExecMemcpyNodeSetParams(exec, up, &pc, current()));
  run(c, 3, "set on the exec");
  // cuGraphExecUpdate from a graph of the same shape reading e.
  CUgraph g2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g2, 0));
  CUgraphNode up2 = nullptr, down2 = nullptr;
  const CUDA_MEMCPY3D pe = host_to_device(e.data(), d, n * 4);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&up2, g2, nullptr, 0, &pe, current()));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&down2, g2, &up2, 1, &rows, current()));
  CUgraphExecUpdateResultInfo info{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecUpdate(exec, g2, &info));
  EXPECT_SAME_VALUE(CU_GRAPH_EXEC_UPDATE_SUCCESS, info.result);
  run(e, 4, "updated");

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g2));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d2));
}

// A graph with a 1 MiB host copy node instantiated, launched and destroyed 80 times: what an
// exec held is given back (through the pool: its staging, after a context synchronisation),
// so the session's bound on host copy memory is never reached.
TEST_F(GraphHostCopyTest, ExecsMadeAndDestroyedAgainAndAgain) {
  constexpr size_t n = 1 << 18;  // 1 MiB of words
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, n * 4));
  std::vector<unsigned> in(n);
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  CUgraphNode up = nullptr;
  const CUDA_MEMCPY3D p = host_to_device(in.data(), d, n * 4);
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&up, graph, nullptr, 0, &p, current()));
  for (unsigned round = 0; round < 80; ++round) {
    in[0] = round;
    in[n - 1] = round * 3;
    CUgraphExec exec = nullptr;
    ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0)) << "round " << round;
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
    EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
    EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  }
  unsigned ends[2] = {0, 0};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&ends[0], d, 4));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&ends[1], d + (n - 1) * 4, 4));
  EXPECT_SAME_VALUE(79, ends[0]);
  EXPECT_SAME_VALUE(79 * 3, ends[1]);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
}

// Bad input: a 3D node whose device box runs past its allocation, and new parameters for a
// forged node handle, are refused; the session goes on.
TEST_F(GraphHostCopyTest, BadThreeDNodeAndForgedNodeRefused) {
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&d, 64 * 4 * 2));
  std::vector<unsigned char> host(64 * 4 * 2, 3);
  CUgraph graph = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&graph, 0));
  CUDA_MEMCPY3D p{};
  p.srcMemoryType = CU_MEMORYTYPE_HOST;
  p.srcHost = host.data();
  p.srcPitch = 64;
  p.srcHeight = 4;
  p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
  p.dstDevice = d;
  p.dstPitch = 64;
  p.dstHeight = 4;
  p.dstY = 1;  // the last row of the second slice is past the allocation's end
  p.WidthInBytes = 64;
  p.Height = 4;
  p.Depth = 2;
  CUgraphNode node = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphAddMemcpyNode(&node, graph, nullptr, 0, &p, current()));
  p.dstY = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddMemcpyNode(&node, graph, nullptr, 0, &p, current()));
  CUgraphNode forged = reinterpret_cast<CUgraphNode>(reinterpret_cast<uintptr_t>(node) + 0x100000);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphMemcpyNodeSetParams(forged, &p));
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, graph, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  std::vector<unsigned char> back(host.size(), 0);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(back.data(), d, back.size()));
  EXPECT_SAME_VALUE(3, back[0]);
  EXPECT_SAME_VALUE(3, back[back.size() - 1]);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(graph));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(d));
}

}  // namespace
}  // namespace diff
