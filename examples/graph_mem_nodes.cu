// graph_mem_nodes: CUDA graph memory nodes, in the spirit of cuda-samples graphMemoryNodes and
// graphMemoryFootprint.
//   1. Stream capture turns cudaMallocAsync / cudaFreeAsync into allocation and free nodes: a graph
//      that allocates two scratch vectors, fills them, adds them into a result buffer and frees
//      them, launched several times; the allocation nodes report the captured addresses.
//   2. An allocation node whose memory outlives the graph: valid after the launch (copied back to
//      the host), relaunching before it is freed fails with cudaErrorInvalidValue, cudaFreeAsync
//      frees it, a second instantiation of the graph is refused, and with
//      cudaGraphInstantiateFlagAutoFreeOnLaunch relaunching frees it implicitly.
//   3. A free node in another graph frees it; a second free node for it, cloning and deleting
//      nodes of graphs with memory nodes are refused.
//   4. The footprint: cudaDeviceGetGraphMemAttribute while the memory is live, after it is freed,
//      after cudaDeviceGraphMemTrim and after resetting the high watermark.
// Every result is checked against a CPU reference.
//
// Build: nvcc -o graph_mem_nodes graph_mem_nodes.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./graph_mem_nodes
#include "check.h"

#include <vector>

__global__ void fill(int* x, int n, int mul, int add) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = i * mul + add;
}

__global__ void add_into(int* out, const int* a, const int* b, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] += a[i] + b[i];
}

static const int kN = 3000, kThreads = 128, kBlocks = (kN + kThreads - 1) / kThreads;

static void check_vector(const std::vector<int>& got, const std::vector<int>& want, const char* what) {
  for (int i = 0; i < kN; ++i) {
    if (got[i] != want[i]) example_fail("%s: [%d] = %d, expected %d", what, i, got[i], want[i]);
  }
}

// A launch that must fail with `want`: the error may come at the launch (a local driver) or at the
// next synchronisation (a launch through the pool is one asynchronous message).
static void expect_launch_error(cudaGraphExec_t exec, cudaStream_t s, cudaError_t want, const char* what) {
  cudaError_t err = cudaGraphLaunch(exec, s);
  if (err == cudaSuccess) err = cudaStreamSynchronize(s);
  if (err != want) example_fail("%s: got %s, expected %s", what, cudaGetErrorName(err), cudaGetErrorName(want));
  cudaGetLastError();
}

static unsigned long long graph_mem(int device, cudaGraphMemAttributeType attr) {
  unsigned long long v = 0;
  CHECK(cudaDeviceGetGraphMemAttribute(device, attr, &v));
  return v;
}

// 1. Capture: cudaMallocAsync/cudaFreeAsync become allocation/free nodes.
static void captured_scratch(cudaStream_t s, int* out) {
  const size_t bytes = kN * sizeof(int);
  int* a = nullptr;
  int* b = nullptr;
  cudaGraph_t graph;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  CHECK(cudaMallocAsync(&a, bytes, s));
  CHECK(cudaMallocAsync(&b, bytes, s));
  fill<<<kBlocks, kThreads, 0, s>>>(a, kN, 3, 1);
  fill<<<kBlocks, kThreads, 0, s>>>(b, kN, -1, 7);
  add_into<<<kBlocks, kThreads, 0, s>>>(out, a, b, kN);
  CHECK(cudaFreeAsync(a, s));
  CHECK(cudaFreeAsync(b, s));
  CHECK(cudaStreamEndCapture(s, &graph));

  size_t count = 0;
  CHECK(cudaGraphGetNodes(graph, nullptr, &count));
  std::vector<cudaGraphNode_t> nodes(count);
  CHECK(cudaGraphGetNodes(graph, nodes.data(), &count));
  int allocs = 0, frees = 0;
  for (cudaGraphNode_t n : nodes) {
    cudaGraphNodeType t;
    CHECK(cudaGraphNodeGetType(n, &t));
    if (t == cudaGraphNodeTypeMemAlloc) {
      cudaMemAllocNodeParams p{};
      CHECK(cudaGraphMemAllocNodeGetParams(n, &p));
      if (p.dptr != a && p.dptr != b) example_fail("an allocation node reports %p, not a captured address", p.dptr);
      if (p.bytesize != bytes) example_fail("an allocation node reports %zu bytes, expected %zu", p.bytesize, bytes);
      ++allocs;
    } else if (t == cudaGraphNodeTypeMemFree) {
      void* p = nullptr;
      CHECK(cudaGraphMemFreeNodeGetParams(n, &p));
      if (p != a && p != b) example_fail("a free node reports %p, not a captured address", p);
      ++frees;
    }
  }
  if (allocs != 2 || frees != 2) example_fail("capture made %d allocation and %d free nodes, expected 2 and 2", allocs, frees);

  cudaGraphExec_t exec;
  CHECK(cudaGraphInstantiate(&exec, graph, 0));
  CHECK(cudaMemsetAsync(out, 0, bytes, s));
  const int launches = 3;
  for (int i = 0; i < launches; ++i) CHECK(cudaGraphLaunch(exec, s));  // freed in the graph: relaunch is fine
  std::vector<int> got(kN), want(kN);
  CHECK(cudaMemcpyAsync(got.data(), out, bytes, cudaMemcpyDeviceToHost, s));
  CHECK(cudaStreamSynchronize(s));
  for (int i = 0; i < kN; ++i) want[i] = launches * ((i * 3 + 1) + (-i + 7));
  check_vector(got, want, "captured graph");
  // The memory was freed by the graph: it cannot be freed again outside it.
  if (cudaFree(a) == cudaSuccess) example_fail("cudaFree of memory the graph freed succeeded");
  cudaGetLastError();
  CHECK(cudaGraphExecDestroy(exec));
  CHECK(cudaGraphDestroy(graph));
}

int main() {
  int device = 0;
  CHECK(cudaGetDevice(&device));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  const size_t bytes = kN * sizeof(int);
  int* out = nullptr;
  CHECK(cudaMalloc(&out, bytes));

  captured_scratch(s, out);

  // 2. An allocation node whose memory outlives the graph.
  cudaGraph_t g1;
  CHECK(cudaGraphCreate(&g1, 0));
  cudaMemAllocNodeParams ap{};
  ap.poolProps.allocType = cudaMemAllocationTypePinned;
  ap.poolProps.location.type = cudaMemLocationTypeDevice;
  ap.poolProps.location.id = device;
  ap.bytesize = bytes;
  cudaGraphNode_t alloc_node, fill_node;
  CHECK(cudaGraphAddMemAllocNode(&alloc_node, g1, nullptr, 0, &ap));
  int* x = static_cast<int*>(ap.dptr);
  if (x == nullptr) example_fail("cudaGraphAddMemAllocNode returned no address");
  int mul = 5, add = -2, n = kN;
  void* fill_args[] = {&x, &n, &mul, &add};
  cudaKernelNodeParams kp{};
  kp.func = reinterpret_cast<void*>(fill);
  kp.gridDim = dim3(kBlocks);
  kp.blockDim = dim3(kThreads);
  kp.kernelParams = fill_args;
  CHECK(cudaGraphAddKernelNode(&fill_node, g1, &alloc_node, 1, &kp));

  cudaGraphExec_t e1;
  CHECK(cudaGraphInstantiate(&e1, g1, 0));
  cudaGraphExec_t second;
  if (cudaGraphInstantiate(&second, g1, 0) == cudaSuccess) {
    example_fail("a second instantiation of a graph with an allocation node succeeded");
  }
  cudaGetLastError();
  CHECK(cudaGraphLaunch(e1, s));
  CHECK(cudaStreamSynchronize(s));
  std::vector<int> got(kN), want(kN);
  for (int i = 0; i < kN; ++i) want[i] = i * mul + add;
  CHECK(cudaMemcpy(got.data(), x, bytes, cudaMemcpyDeviceToHost));  // valid after the launch
  check_vector(got, want, "allocation after the launch");

  // 4 (while live). The footprint counts the live allocation.
  if (graph_mem(device, cudaGraphMemAttrUsedMemCurrent) < bytes) example_fail("used graph memory below the live allocation");
  if (graph_mem(device, cudaGraphMemAttrReservedMemCurrent) < bytes) example_fail("reserved graph memory below the live allocation");

  expect_launch_error(e1, s, cudaErrorInvalidValue, "relaunch before the allocation is freed");
  CHECK(cudaFreeAsync(x, s));
  CHECK(cudaGraphLaunch(e1, s));  // freed in stream order: the relaunch allocates again, same address
  CHECK(cudaStreamSynchronize(s));
  CHECK(cudaMemcpy(got.data(), x, bytes, cudaMemcpyDeviceToHost));
  check_vector(got, want, "allocation after the relaunch");

  // 3. A free node in another graph frees it.
  cudaGraph_t g2;
  CHECK(cudaGraphCreate(&g2, 0));
  cudaGraphNode_t free_node;
  CHECK(cudaGraphAddMemFreeNode(&free_node, g2, nullptr, 0, x));
  cudaGraphNode_t again;
  EXPECT_ERR(cudaGraphAddMemFreeNode(&again, g2, nullptr, 0, x), cudaErrorInvalidValue);  // twice in one graph
  EXPECT_ERR(cudaGraphAddMemFreeNode(&again, g1, nullptr, 0, x), cudaErrorInvalidValue);  // freed elsewhere already
  EXPECT_ERR(cudaGraphAddMemFreeNode(&again, g2, nullptr, 0, out), cudaErrorInvalidValue);  // not a graph allocation
  cudaGraph_t clone;
  if (cudaGraphClone(&clone, g1) == cudaSuccess) example_fail("cloning a graph with an allocation node succeeded");
  cudaGetLastError();
  if (cudaGraphDestroyNode(fill_node) == cudaSuccess) example_fail("deleting a node of a graph with memory nodes succeeded");
  cudaGetLastError();
  cudaGraphExec_t e2;
  CHECK(cudaGraphInstantiate(&e2, g2, 0));
  CHECK(cudaGraphLaunch(e2, s));  // frees x
  CHECK(cudaGraphLaunch(e1, s));  // so this allocates it again
  CHECK(cudaGraphLaunch(e2, s));  // and this frees it
  CHECK(cudaStreamSynchronize(s));

  // 4. Footprint after the frees, after a trim, after a reset of the high watermarks.
  if (graph_mem(device, cudaGraphMemAttrUsedMemCurrent) != 0) example_fail("used graph memory is not 0 after the frees");
  if (graph_mem(device, cudaGraphMemAttrUsedMemHigh) < bytes) example_fail("the used high watermark forgot the allocation");
  CHECK(cudaDeviceGraphMemTrim(device));
  if (graph_mem(device, cudaGraphMemAttrReservedMemCurrent) != 0) example_fail("reserved graph memory is not 0 after the trim");
  unsigned long long zero = 0;
  CHECK(cudaDeviceSetGraphMemAttribute(device, cudaGraphMemAttrUsedMemHigh, &zero));
  CHECK(cudaDeviceSetGraphMemAttribute(device, cudaGraphMemAttrReservedMemHigh, &zero));
  if (graph_mem(device, cudaGraphMemAttrUsedMemHigh) != 0) example_fail("the used high watermark was not reset");
  unsigned long long one = 1;
  EXPECT_ERR(cudaDeviceSetGraphMemAttribute(device, cudaGraphMemAttrUsedMemHigh, &one), cudaErrorInvalidValue);

  // 2 (auto free). A new instantiation that frees the previous launch's allocation by itself.
  CHECK(cudaGraphExecDestroy(e1));
  CHECK(cudaGraphInstantiateWithFlags(&e1, g1, cudaGraphInstantiateFlagAutoFreeOnLaunch));
  for (int i = 0; i < 3; ++i) CHECK(cudaGraphLaunch(e1, s));
  CHECK(cudaStreamSynchronize(s));
  CHECK(cudaMemcpy(got.data(), x, bytes, cudaMemcpyDeviceToHost));
  check_vector(got, want, "allocation with auto free on launch");
  CHECK(cudaFree(x));  // the last launch's allocation, freed outside the graph
  if (graph_mem(device, cudaGraphMemAttrUsedMemCurrent) != 0) example_fail("used graph memory is not 0 after cudaFree");

  CHECK(cudaGraphExecDestroy(e1));
  CHECK(cudaGraphExecDestroy(e2));
  CHECK(cudaGraphDestroy(g1));
  CHECK(cudaGraphDestroy(g2));
  CHECK(cudaFree(out));
  CHECK(cudaStreamDestroy(s));
  return example_pass();
}
