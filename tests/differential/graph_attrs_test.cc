// Kernel node attributes (cuGraphKernelNode{Get,Set,Copy}Attribute(s)) and user objects
// (cuUserObject*, cuGraph{Retain,Release}UserObject): set, read back, copied, cloned, captured
// from cuLaunchKernelEx, refused updates, and when a user object's destructor runs. Destructor
// counts are atomics; a destructor runs on a driver thread, so the bodies wait for a count
// (bounded) where it must rise, and check it has not risen where a reference is still held.
#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using GraphAttrsTest = DiffTest;

CUlaunchAttributeValue get_attr(CUgraphNode n, CUlaunchAttributeID id, CUresult want = CUDA_SUCCESS) {
  CUlaunchAttributeValue v;
  std::memset(&v, 0xab, sizeof v);
  EXPECT_CU(want, api().cuGraphKernelNodeGetAttribute(n, id, &v));
  return v;
}

CUresult set_attr(CUgraphNode n, CUlaunchAttributeID id, const CUlaunchAttributeValue& v) {
  return api().cuGraphKernelNodeSetAttribute(n, id, &v);
}

CUgraphNode add_kernel(CUgraph g, CUfunction f, void** params, unsigned threads) {
  CUDA_KERNEL_NODE_PARAMS p{};
  p.func = f;
  p.gridDimX = p.gridDimY = p.gridDimZ = 1;
  p.blockDimX = threads;
  p.blockDimY = p.blockDimZ = 1;
  p.kernelParams = params;
  CUgraphNode n = nullptr;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphAddKernelNode(&n, g, nullptr, 0, &p));
  return n;
}

std::vector<unsigned> read_back(CUdeviceptr d, unsigned n) {
  std::vector<unsigned> out(n, 0);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(out.data(), d, n * 4));
  return out;
}

TEST_F(GraphAttrsTest, KernelNodeAttributesRoundTripCopyCloneAndUpdate) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 64;
  CUdeviceptr a = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(a, 5, n));
  unsigned count = n;
  void* params[] = {&a, &count};
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  CUgraphNode k1 = add_kernel(g, add_one, params, n);
  CUgraphNode k2 = add_kernel(g, add_one, params, n);
  CUgraphNode empty = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddEmptyNode(&empty, g, nullptr, 0));

  // Never set: the defaults.
  EXPECT_SAME_VALUE(0, get_attr(k1, CU_LAUNCH_ATTRIBUTE_PRIORITY).priority);
  EXPECT_SAME_VALUE(0, get_attr(k1, CU_LAUNCH_ATTRIBUTE_COOPERATIVE).cooperative);

  CUlaunchAttributeValue v{};
  v.priority = 3;
  EXPECT_CU(CUDA_SUCCESS, set_attr(k1, CU_LAUNCH_ATTRIBUTE_PRIORITY, v));
  v = {};
  v.cooperative = 1;
  EXPECT_CU(CUDA_SUCCESS, set_attr(k1, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, v));
  v = {};
  v.accessPolicyWindow.base_ptr = reinterpret_cast<void*>(a);
  v.accessPolicyWindow.num_bytes = n * 4;
  v.accessPolicyWindow.hitRatio = 0.5f;
  v.accessPolicyWindow.hitProp = CU_ACCESS_PROPERTY_PERSISTING;
  v.accessPolicyWindow.missProp = CU_ACCESS_PROPERTY_STREAMING;
  EXPECT_CU(CUDA_SUCCESS, set_attr(k1, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW, v));
  v = {};
  v.clusterDim.x = v.clusterDim.y = v.clusterDim.z = 1;
  EXPECT_CU(CUDA_SUCCESS, set_attr(k1, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, v));
  v = {};
  v.memSyncDomain = CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE;
  EXPECT_CU(CUDA_SUCCESS, set_attr(k1, CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN, v));
  v = {};
  v.priority = 4;  // a second set of the same id replaces the first
  EXPECT_CU(CUDA_SUCCESS, set_attr(k1, CU_LAUNCH_ATTRIBUTE_PRIORITY, v));

  EXPECT_SAME_VALUE(4, get_attr(k1, CU_LAUNCH_ATTRIBUTE_PRIORITY).priority);
  EXPECT_SAME_VALUE(1, get_attr(k1, CU_LAUNCH_ATTRIBUTE_COOPERATIVE).cooperative);
  const CUaccessPolicyWindow w = get_attr(k1, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW).accessPolicyWindow;
  EXPECT_SAME_VALUE(true, w.base_ptr == reinterpret_cast<void*>(a));
  EXPECT_SAME_VALUE(n * 4, w.num_bytes);
  EXPECT_SAME_VALUE(0.5f, w.hitRatio);
  EXPECT_SAME_VALUE(CU_ACCESS_PROPERTY_PERSISTING, w.hitProp);
  EXPECT_SAME_VALUE(CU_ACCESS_PROPERTY_STREAMING, w.missProp);
  EXPECT_SAME_VALUE(1, get_attr(k1, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION).clusterDim.x);
  EXPECT_SAME_VALUE(CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE, get_attr(k1, CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN).memSyncDomain);

  // Refused: a cluster that does not divide the grid, an unknown id, a node that is not a
  // kernel node, a null value.
  v = {};
  v.clusterDim.x = 0;
  v.clusterDim.y = v.clusterDim.z = 1;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, set_attr(k1, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION, v));
  v = {};
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, set_attr(k1, static_cast<CUlaunchAttributeID>(9999), v));
  get_attr(k1, static_cast<CUlaunchAttributeID>(9999), CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, set_attr(empty, CU_LAUNCH_ATTRIBUTE_PRIORITY, v));
  get_attr(empty, CU_LAUNCH_ATTRIBUTE_PRIORITY, CUDA_ERROR_INVALID_VALUE);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphKernelNodeSetAttribute(k1, CU_LAUNCH_ATTRIBUTE_PRIORITY, nullptr));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphKernelNodeCopyAttributes(empty, k1));
  // The refused calls changed nothing.
  EXPECT_SAME_VALUE(1, get_attr(k1, CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION).clusterDim.x);

  // Copied to another node, and cloned with the graph.
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphKernelNodeCopyAttributes(k2, k1));
  EXPECT_SAME_VALUE(4, get_attr(k2, CU_LAUNCH_ATTRIBUTE_PRIORITY).priority);
  EXPECT_SAME_VALUE(1, get_attr(k2, CU_LAUNCH_ATTRIBUTE_COOPERATIVE).cooperative);
  EXPECT_SAME_VALUE(n * 4, get_attr(k2, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW).accessPolicyWindow.num_bytes);
  CUgraph clone = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphClone(&clone, g));
  CUgraphNode c1 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphNodeFindInClone(&c1, k1, clone));
  EXPECT_SAME_VALUE(4, get_attr(c1, CU_LAUNCH_ATTRIBUTE_PRIORITY).priority);
  EXPECT_SAME_VALUE(1, get_attr(c1, CU_LAUNCH_ATTRIBUTE_COOPERATIVE).cooperative);
  EXPECT_SAME_VALUE(CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE, get_attr(c1, CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN).memSyncDomain);
  // New kernel parameters keep the node's attributes.
  CUDA_KERNEL_NODE_PARAMS kp{};
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphKernelNodeGetParams(k1, &kp));
  kp.func = add_one;
  kp.kernelParams = params;
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphKernelNodeSetParams(k1, &kp));
  EXPECT_SAME_VALUE(1, get_attr(k1, CU_LAUNCH_ATTRIBUTE_COOPERATIVE).cooperative);

  // The graph runs (both kernels, one of them cooperative).
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(7u, read_back(a, n)[n - 1]);

  // cuGraphExecUpdate: a priority change is allowed (not instantiated with USE_NODE_PRIORITY);
  // cooperative to non-cooperative is not.
  v = {};
  v.priority = 1;
  EXPECT_CU(CUDA_SUCCESS, set_attr(c1, CU_LAUNCH_ATTRIBUTE_PRIORITY, v));
  CUgraphExecUpdateResultInfo info{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecUpdate(exec, clone, &info));
  EXPECT_SAME_VALUE(CU_GRAPH_EXEC_UPDATE_SUCCESS, info.result);
  v = {};
  v.cooperative = 0;
  EXPECT_CU(CUDA_SUCCESS, set_attr(c1, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, v));
  EXPECT_SAME_VALUE(0, get_attr(c1, CU_LAUNCH_ATTRIBUTE_COOPERATIVE).cooperative);
  info = {};
  EXPECT_CU(CUDA_ERROR_GRAPH_EXEC_UPDATE_FAILURE, api().cuGraphExecUpdate(exec, clone, &info));
  EXPECT_SAME_VALUE(CU_GRAPH_EXEC_UPDATE_ERROR_ATTRIBUTES_CHANGED, info.result);
  // The exec still runs as before.
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(9u, read_back(a, n)[0]);

  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(clone));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
}

TEST_F(GraphAttrsTest, CapturedLaunchExKeepsItsAttributes) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 32;
  CUdeviceptr a = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(a, 1, n));
  unsigned count = n;
  void* params[] = {&a, &count};
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));

  CUlaunchAttribute attr[4] = {};
  attr[0].id = CU_LAUNCH_ATTRIBUTE_PRIORITY;
  attr[0].value.priority = 2;
  attr[1].id = CU_LAUNCH_ATTRIBUTE_IGNORE;
  attr[2].id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
  attr[2].value.cooperative = 1;
  attr[3].id = CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN;
  attr[3].value.memSyncDomain = CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE;
  CUlaunchConfig cfg = {};
  cfg.gridDimX = cfg.gridDimY = cfg.gridDimZ = 1;
  cfg.blockDimX = n;
  cfg.blockDimY = cfg.blockDimZ = 1;
  cfg.hStream = s;
  cfg.attrs = attr;
  cfg.numAttrs = 4;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernelEx(&cfg, add_one, params, nullptr));
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &g));
  EXPECT_SAME_VALUE(1u, read_back(a, n)[0]) << "captured, not run";
  size_t nodes = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(g, nullptr, &nodes));
  ASSERT_EQ(1u, nodes);
  CUgraphNode k = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphGetNodes(g, &k, &nodes));
  EXPECT_SAME_VALUE(2, get_attr(k, CU_LAUNCH_ATTRIBUTE_PRIORITY).priority);
  EXPECT_SAME_VALUE(1, get_attr(k, CU_LAUNCH_ATTRIBUTE_COOPERATIVE).cooperative);
  EXPECT_SAME_VALUE(CU_LAUNCH_MEM_SYNC_DOMAIN_REMOTE, get_attr(k, CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN).memSyncDomain);
  EXPECT_SAME_VALUE(0, get_attr(k, CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW).accessPolicyWindow.num_bytes);

  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(2u, read_back(a, n)[n - 1]);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
}

// ---- user objects -----------------------------------------------------------

void count_destroy(void* p) { static_cast<std::atomic<int>*>(p)->fetch_add(1); }

// Waits (at most 10 s) until *c reaches want; returns its value then. A destructor runs on a
// driver thread, after the call that dropped the last reference may have returned.
int wait_count(const std::atomic<int>& c, int want) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (c.load() < want && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return c.load();
}

TEST_F(GraphAttrsTest, UserObjectReferencesAndRefusals) {
  static std::atomic<int> destroyed{0};
  CUuserObject o = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuUserObjectCreate(&o, &destroyed, count_destroy, 1, 0)) << "flags";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuUserObjectCreate(&o, &destroyed, count_destroy, 0, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuUserObjectCreate(&o, &destroyed, nullptr, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  ASSERT_CU(CUDA_SUCCESS, api().cuUserObjectCreate(&o, &destroyed, count_destroy, 2, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuUserObjectRetain(o, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuUserObjectRetain(o, 3));
  EXPECT_CU(CUDA_SUCCESS, api().cuUserObjectRelease(o, 4));
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphRetainUserObject(g, o, 1, 2)) << "flags";
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphRetainUserObject(g, o, 0, 0)) << "count";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphRetainUserObject(g, o, 2, 0));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuGraphReleaseUserObject(g, o, 3)) << "more than the graph holds";
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphReleaseUserObject(g, o, 1));
  // The program's last reference goes; the graph still holds one.
  EXPECT_CU(CUDA_SUCCESS, api().cuUserObjectRelease(o, 1));
  EXPECT_SAME_VALUE(0, destroyed.load());
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));
  EXPECT_SAME_VALUE(1, wait_count(destroyed, 1));
}

struct Gate {
  std::atomic<int> open{0};
  std::atomic<int> ran{0};
};

void wait_gate(void* p) {
  auto* gate = static_cast<Gate*>(p);
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (gate->open.load() == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  gate->ran.fetch_add(1);
}

TEST_F(GraphAttrsTest, UserObjectOutlivesItsGraphsUntilLaunchedWorkIsDone) {
  static std::atomic<int> destroyed{0};
  static Gate gate;
  CUuserObject o = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuUserObjectCreate(&o, &destroyed, count_destroy, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  CUgraph g = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphCreate(&g, 0));
  // The program's reference moves to the graph: the graph now owns the only one.
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphRetainUserObject(g, o, 1, CU_GRAPH_USER_OBJECT_MOVE));
  CUDA_HOST_NODE_PARAMS hp{wait_gate, &gate};
  CUgraphNode host = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphAddHostNode(&host, g, nullptr, 0, &hp));
  CUgraph clone = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphClone(&clone, g));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(clone));  // the clone's copy goes; g's stays
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g, 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g));  // the exec holds its own reference
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  // The launch is held at its host node: destroying the exec must not destroy the object.
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_SAME_VALUE(0, destroyed.load()) << "destroyed while launched work was pending";
  EXPECT_SAME_VALUE(0, gate.ran.load());
  gate.open.store(1);
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(1, gate.ran.load());
  EXPECT_SAME_VALUE(1, wait_count(destroyed, 1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
}

TEST_F(GraphAttrsTest, UserObjectOfACapturedGraphAndAnUpdatedExec) {
  static std::atomic<int> first{0}, second{0};
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 32;
  CUdeviceptr a = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&a, n * 4));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemsetD32(a, 0, n));
  unsigned count = n;
  void* params[] = {&a, &count};
  CUstream s = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamCreate(&s, CU_STREAM_NON_BLOCKING));
  CUuserObject o1 = nullptr, o2 = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuUserObjectCreate(&o1, &first, count_destroy, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));
  ASSERT_CU(CUDA_SUCCESS, api().cuUserObjectCreate(&o2, &second, count_destroy, 1, CU_USER_OBJECT_NO_DESTRUCTOR_SYNC));

  // Two captures of the same work; each graph takes a reference through the capture's graph
  // (as cudaUserObject code does with cudaStreamGetCaptureInfo).
  CUgraph g[2] = {};
  CUuserObject objs[2] = {o1, o2};
  for (int i = 0; i < 2; ++i) {
    ASSERT_CU(CUDA_SUCCESS, api().cuStreamBeginCapture(s, CU_STREAM_CAPTURE_MODE_GLOBAL));
    CUstreamCaptureStatus status = CU_STREAM_CAPTURE_STATUS_NONE;
    CUgraph capturing = nullptr;
    ASSERT_CU(CUDA_SUCCESS, api().cuStreamGetCaptureInfo(s, &status, nullptr, &capturing, nullptr, nullptr, nullptr));
    ASSERT_NE(nullptr, capturing);
    EXPECT_CU(CUDA_SUCCESS, api().cuGraphRetainUserObject(capturing, objs[i], 1, CU_GRAPH_USER_OBJECT_MOVE));
    EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, n, 1, 1, 0, s, params, nullptr));
    ASSERT_CU(CUDA_SUCCESS, api().cuStreamEndCapture(s, &g[i]));
  }
  CUgraphExec exec = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphInstantiate(&exec, g[0], 0));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g[0]));
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(0, first.load()) << "the exec holds the first object";
  // Updated from the second graph: the exec's references are now the second graph's.
  CUgraphExecUpdateResultInfo info{};
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecUpdate(exec, g[1], &info));
  EXPECT_SAME_VALUE(1, wait_count(first, 1));
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphDestroy(g[1]));
  EXPECT_SAME_VALUE(0, second.load()) << "the updated exec holds the second object";
  ASSERT_CU(CUDA_SUCCESS, api().cuGraphLaunch(exec, s));
  ASSERT_CU(CUDA_SUCCESS, api().cuStreamSynchronize(s));
  EXPECT_SAME_VALUE(2u, read_back(a, n)[0]);
  EXPECT_CU(CUDA_SUCCESS, api().cuGraphExecDestroy(exec));
  EXPECT_SAME_VALUE(1, wait_count(second, 1));
  EXPECT_CU(CUDA_SUCCESS, api().cuStreamDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(a));
}

}  // namespace
}  // namespace diff
