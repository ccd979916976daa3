// graph_user_objects: a captured CUDA graph that owns a host resource through a user object and
// whose kernel node carries launch attributes. The pattern of code that hands a graph the
// lifetime of what its work uses: during the capture, the graph being built
// (cudaStreamGetCaptureInfo) takes the only reference to a user object wrapping a host-side
// workspace; the kernel is launched with cudaLaunchKernelEx and attributes (priority, memory
// sync domain), which the captured node keeps (cudaGraphKernelNodeGetAttribute), and an access
// policy window is set on it and copied to a second node. The graph is instantiated and
// destroyed, the exec launched three times and destroyed with the last launch still queued
// behind a host function: the workspace's destructor must run only after that launch's work,
// once. Results are checked against a CPU reference. Runs directly and through a gpool pool.
//
// Build: nvcc -o graph_user_objects graph_user_objects.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./graph_user_objects
#include "check.h"

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

__global__ void scale_add(float* x, float a, float b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = a * x[i] + b;
}

struct Workspace {
  std::atomic<int> released{0};
  std::atomic<int> launches_done{0};  // counted by the host node of each launch
};

void release_workspace(void* p) { static_cast<Workspace*>(p)->released.fetch_add(1); }
void count_launch(void* p) { static_cast<Workspace*>(p)->launches_done.fetch_add(1); }

std::atomic<int> gate{0};
void wait_gate(void*) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (gate.load() == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

int main() {
  constexpr int n = 256;
  std::vector<float> host(n);
  for (int i = 0; i < n; ++i) host[i] = static_cast<float>(i);
  float* d = nullptr;
  CHECK(cudaMalloc(&d, n * sizeof(float)));
  CHECK(cudaMemcpy(d, host.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  auto* ws = new Workspace();

  // Capture: the graph under construction takes the workspace's only reference.
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  cudaStreamCaptureStatus status;
  cudaGraph_t building = nullptr;
  CHECK(cudaStreamGetCaptureInfo(s, &status, nullptr, &building, nullptr, nullptr, nullptr));
  if (status != cudaStreamCaptureStatusActive || building == nullptr) example_fail("no capture graph");
  cudaUserObject_t obj;
  CHECK(cudaUserObjectCreate(&obj, ws, release_workspace, 1, cudaUserObjectNoDestructorSync));
  CHECK(cudaGraphRetainUserObject(building, obj, 1, cudaGraphUserObjectMove));
  cudaLaunchAttribute attrs[2];
  attrs[0].id = cudaLaunchAttributePriority;
  attrs[0].val.priority = 1;
  attrs[1].id = cudaLaunchAttributeMemSyncDomain;
  attrs[1].val.memSyncDomain = cudaLaunchMemSyncDomainRemote;
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3((n + 127) / 128);
  cfg.blockDim = dim3(128);
  cfg.stream = s;
  cfg.attrs = attrs;
  cfg.numAttrs = 2;
  CHECK(cudaLaunchKernelEx(&cfg, scale_add, d, 2.0f, 1.0f, n));
  scale_add<<<(n + 127) / 128, 128, 0, s>>>(d, 1.0f, -3.0f, n);
  CHECK(cudaLaunchHostFunc(s, count_launch, ws));
  cudaGraph_t graph;
  CHECK(cudaStreamEndCapture(s, &graph));

  // The captured kernel nodes: the first keeps cudaLaunchKernelEx's attributes.
  size_t count = 0;
  CHECK(cudaGraphGetNodes(graph, nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  CHECK(cudaGraphGetNodes(graph, nodes.data(), &count));
  std::vector<cudaGraphNode_t> kernels;
  for (cudaGraphNode_t node : nodes) {
    cudaGraphNodeType type;
    CHECK(cudaGraphNodeGetType(node, &type));
    if (type == cudaGraphNodeTypeKernel) kernels.push_back(node);
  }
  if (kernels.size() != 2) example_fail("%zu kernel nodes, expected 2", kernels.size());
  cudaLaunchAttributeValue v{};
  CHECK(cudaGraphKernelNodeGetAttribute(kernels[0], cudaLaunchAttributePriority, &v));
  if (v.priority != 1) example_fail("captured priority %d, expected 1", v.priority);
  CHECK(cudaGraphKernelNodeGetAttribute(kernels[0], cudaLaunchAttributeMemSyncDomain, &v));
  if (v.memSyncDomain != cudaLaunchMemSyncDomainRemote) example_fail("captured memory sync domain lost");
  v = {};
  v.accessPolicyWindow.base_ptr = d;
  v.accessPolicyWindow.num_bytes = n * sizeof(float);
  v.accessPolicyWindow.hitRatio = 1.0f;
  v.accessPolicyWindow.hitProp = cudaAccessPropertyPersisting;
  v.accessPolicyWindow.missProp = cudaAccessPropertyStreaming;
  CHECK(cudaGraphKernelNodeSetAttribute(kernels[0], cudaLaunchAttributeAccessPolicyWindow, &v));
  CHECK(cudaGraphKernelNodeCopyAttributes(kernels[1], kernels[0]));
  v = {};
  CHECK(cudaGraphKernelNodeGetAttribute(kernels[1], cudaLaunchAttributeAccessPolicyWindow, &v));
  if (v.accessPolicyWindow.base_ptr != d || v.accessPolicyWindow.num_bytes != n * sizeof(float)) {
    example_fail("copied access policy window differs");
  }

  cudaGraphExec_t exec;
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  CHECK(cudaGraphDestroy(graph));  // the exec keeps the workspace alive
  for (int i = 0; i < 2; ++i) CHECK(cudaGraphLaunch(exec, s));
  CHECK(cudaStreamSynchronize(s));
  // The third launch waits behind a host function; the exec is destroyed meanwhile.
  CHECK(cudaLaunchHostFunc(s, wait_gate, nullptr));
  CHECK(cudaGraphLaunch(exec, s));
  CHECK(cudaGraphExecDestroy(exec));
  if (ws->released.load() != 0) example_fail("workspace released while a launch was pending");
  gate.store(1);
  CHECK(cudaStreamSynchronize(s));
  if (ws->launches_done.load() != 3) example_fail("%d launches done, expected 3", ws->launches_done.load());
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ws->released.load() == 0 && std::chrono::steady_clock::now() < end) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (ws->released.load() != 1) example_fail("workspace released %d times, expected once", ws->released.load());

  std::vector<float> out(n);
  CHECK(cudaMemcpy(out.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < n; ++i) {
    float x = static_cast<float>(i);
    for (int k = 0; k < 3; ++k) x = (2.0f * x + 1.0f) - 3.0f;
    if (out[i] != x) example_fail("x[%d] = %g, expected %g", i, out[i], x);
  }
  CHECK(cudaStreamDestroy(s));
  CHECK(cudaFree(d));
  delete ws;
  std::puts("PASS");
  return 0;
}
