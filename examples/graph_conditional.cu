// graph_conditional: conditional graph nodes, after cuda-samples' graphConditionalNodes. Kernels
// decide on the device, with cudaGraphSetConditional, which body graph runs:
//   - IF: a body runs only when the input is non-zero (launched with 0 and with 5);
//   - IF/ELSE (two bodies, CUDA 12.8+): one body or the other;
//   - WHILE: a counter counted down on the device, the body captured into the conditional's body
//     graph with cudaStreamBeginCaptureToGraph; the handle's default (CU_GRAPH_COND_ASSIGN_DEFAULT)
//     restarts the loop on every launch;
//   - SWITCH with three bodies, including a value with no body;
//   - an IF nested in a WHILE body (odd iterations only).
// Also: an executable graph updated from a second graph with the same shape (new kernel argument),
// and a conditional node's parameters refused by cudaGraphExecNodeSetParams (any error). Every result is
// checked against a CPU reference.
//
// Build: nvcc -o graph_conditional graph_conditional.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./graph_conditional
#include "check.h"

#include <vector>

// Sets the condition to *in != 0 (IF), or to *in (SWITCH).
__global__ void set_from(cudaGraphConditionalHandle h, const int* in, int as_bool) {
  if (threadIdx.x == 0 && blockIdx.x == 0) cudaGraphSetConditional(h, as_bool ? (*in != 0) : *in);
}

__global__ void add_to(int* out, int v) {
  if (threadIdx.x == 0 && blockIdx.x == 0) *out += v;
}

// WHILE body: one iteration counts down *counter, records the iteration, and stops the loop at 0.
__global__ void count_down(cudaGraphConditionalHandle h, int* counter, int* iterations) {
  if (threadIdx.x != 0 || blockIdx.x != 0) return;
  *iterations += 1;
  if (--*counter == 0) cudaGraphSetConditional(h, 0);
}

// Nested IF inside the WHILE body: true on odd counter values.
__global__ void set_odd(cudaGraphConditionalHandle h, const int* counter) {
  if (threadIdx.x == 0 && blockIdx.x == 0) cudaGraphSetConditional(h, (*counter & 1) != 0);
}

static cudaGraphNode_t add_kernel(cudaGraph_t g, const cudaGraphNode_t* deps, size_t ndeps, void* fn, void** args) {
  cudaKernelNodeParams p{};
  p.func = fn;
  p.gridDim = dim3(1);
  p.blockDim = dim3(32);
  p.kernelParams = args;
  cudaGraphNode_t n;
  CHECK(cudaGraphAddKernelNode(&n, g, deps, ndeps, &p));
  return n;
}

// Adds a conditional node after `dep` (may be null); returns the node and its body graphs.
static cudaGraphNode_t add_cond(cudaGraph_t g, cudaGraphNode_t dep, cudaGraphConditionalHandle h,
                                cudaGraphConditionalNodeType type, unsigned size, std::vector<cudaGraph_t>* bodies) {
  cudaGraphNodeParams p{};
  p.type = cudaGraphNodeTypeConditional;
  p.conditional.handle = h;
  p.conditional.type = type;
  p.conditional.size = size;
  cudaGraphNode_t n;
  CHECK(cudaGraphAddNode(&n, g, dep ? &dep : nullptr, nullptr, dep ? 1 : 0, &p));
  if (p.conditional.phGraph_out == nullptr) example_fail("no body graphs returned");
  bodies->assign(p.conditional.phGraph_out, p.conditional.phGraph_out + size);
  for (cudaGraph_t b : *bodies)
    if (b == nullptr) example_fail("a null body graph returned");
  return n;
}

static int read_int(const int* d) {
  int v = 0;
  CHECK(cudaMemcpy(&v, d, sizeof v, cudaMemcpyDeviceToHost));
  return v;
}

static void write_int(int* d, int v) { CHECK(cudaMemcpy(d, &v, sizeof v, cudaMemcpyHostToDevice)); }

static void launch(cudaGraphExec_t e, cudaStream_t s) {
  CHECK(cudaGraphLaunch(e, s));
  CHECK(cudaStreamSynchronize(s));
}

// IF (size 1) or IF/ELSE (size 2): out += 10 when *in != 0, else (size 2) out += 1.
static void test_if(int* in, int* out, cudaStream_t s, unsigned size) {
  cudaGraph_t g;
  CHECK(cudaGraphCreate(&g, 0));
  cudaGraphConditionalHandle h;
  CHECK(cudaGraphConditionalHandleCreate(&h, g, 0, 0));
  void* a_set[] = {&h, &in, nullptr};
  int as_bool = 1;
  a_set[2] = &as_bool;
  cudaGraphNode_t set = add_kernel(g, nullptr, 0, (void*)set_from, a_set);
  std::vector<cudaGraph_t> bodies;
  add_cond(g, set, h, cudaGraphCondTypeIf, size, &bodies);
  int ten = 10, one = 1;
  void* a_then[] = {&out, &ten};
  add_kernel(bodies[0], nullptr, 0, (void*)add_to, a_then);
  if (size == 2) {
    void* a_else[] = {&out, &one};
    add_kernel(bodies[1], nullptr, 0, (void*)add_to, a_else);
  }
  cudaGraphExec_t e;
  CHECK(cudaGraphInstantiate(&e, g, 0));
  for (int input : {0, 5, 0, -1}) {
    write_int(in, input);
    write_int(out, 0);
    launch(e, s);
    const int want = input != 0 ? 10 : (size == 2 ? 1 : 0);
    const int got = read_int(out);
    if (got != want) example_fail("IF (size %u) with input %d: out = %d, want %d", size, input, got, want);
  }
  CHECK(cudaGraphExecDestroy(e));
  CHECK(cudaGraphDestroy(g));
}

// WHILE counting *counter down to 0 on the device, the body captured; an IF nested in the body
// adds 100 to *odd on odd counter values (seen before the decrement).
static void test_while(int* counter, int* iterations, int* odd, cudaStream_t s) {
  cudaGraph_t g;
  CHECK(cudaGraphCreate(&g, 0));
  cudaGraphConditionalHandle loop;
  CHECK(cudaGraphConditionalHandleCreate(&loop, g, 1, cudaGraphCondAssignDefault));
  std::vector<cudaGraph_t> body;
  add_cond(g, nullptr, loop, cudaGraphCondTypeWhile, 1, &body);

  // Body: [set_odd -> IF(odd) { add_to(odd, 100) }] -> count_down, captured into the body graph.
  cudaGraphConditionalHandle is_odd;
  CHECK(cudaGraphConditionalHandleCreate(&is_odd, g, 0, cudaGraphCondAssignDefault));
  cudaStream_t cs;
  CHECK(cudaStreamCreate(&cs));
  CHECK(cudaStreamBeginCaptureToGraph(cs, body[0], nullptr, nullptr, 0, cudaStreamCaptureModeGlobal));
  set_odd<<<1, 32, 0, cs>>>(is_odd, counter);
  CHECK(cudaStreamEndCapture(cs, &body[0]));
  size_t n = 0;
  CHECK(cudaGraphGetNodes(body[0], nullptr, &n));
  if (n != 1) example_fail("captured WHILE body has %zu nodes, want 1", n);
  cudaGraphNode_t set_node;
  CHECK(cudaGraphGetNodes(body[0], &set_node, &n));
  std::vector<cudaGraph_t> inner;
  cudaGraphNode_t inner_if = add_cond(body[0], set_node, is_odd, cudaGraphCondTypeIf, 1, &inner);
  int hundred = 100;
  void* a_add[] = {&odd, &hundred};
  add_kernel(inner[0], nullptr, 0, (void*)add_to, a_add);
  void* a_down[] = {&loop, &counter, &iterations};
  add_kernel(body[0], &inner_if, 1, (void*)count_down, a_down);

  cudaGraphExec_t e;
  CHECK(cudaGraphInstantiate(&e, g, 0));
  for (int start : {5, 1, 8}) {  // the loop restarts every launch (default value 1)
    write_int(counter, start);
    write_int(iterations, 0);
    write_int(odd, 0);
    launch(e, s);
    int want_odd = 0;
    for (int c = start; c > 0; --c) want_odd += (c & 1) ? 100 : 0;
    const int it = read_int(iterations), c = read_int(counter), o = read_int(odd);
    if (it != start || c != 0 || o != want_odd)
      example_fail("WHILE from %d: %d iterations, counter %d, odd %d; want %d, 0, %d", start, it, c, o, start, want_odd);
  }
  // A conditional node's parameters cannot change in an executable graph.
  cudaGraphNode_t nodes[1];
  size_t k = 1;
  CHECK(cudaGraphGetRootNodes(g, nodes, &k));
  cudaGraphNodeParams p{};
  p.type = cudaGraphNodeTypeConditional;
  p.conditional.handle = loop;
  p.conditional.type = cudaGraphCondTypeWhile;
  p.conditional.size = 1;
  // (cudaGraphExecUpdate's rules; no error code is documented for it, so any refusal passes.)
  if (cudaGraphExecNodeSetParams(e, nodes[0], &p) == cudaSuccess)
    example_fail("cudaGraphExecNodeSetParams changed a conditional node's parameters");
  (void)cudaGetLastError();
  CHECK(cudaGraphExecDestroy(e));
  CHECK(cudaStreamDestroy(cs));
  CHECK(cudaGraphDestroy(g));
}

// SWITCH over *in with three bodies adding 1, 20 and 300; values >= 3 run none. Then the exec is
// updated from a second graph of the same shape whose body 1 adds 40 instead.
static void build_switch(int* in, int* out, int second, cudaGraph_t* g_out) {
  cudaGraph_t g;
  CHECK(cudaGraphCreate(&g, 0));
  cudaGraphConditionalHandle h;
  CHECK(cudaGraphConditionalHandleCreate(&h, g, 0, 0));
  int as_bool = 0;
  void* a_set[] = {&h, &in, &as_bool};
  cudaGraphNode_t set = add_kernel(g, nullptr, 0, (void*)set_from, a_set);
  std::vector<cudaGraph_t> bodies;
  add_cond(g, set, h, cudaGraphCondTypeSwitch, 3, &bodies);
  int adds[3] = {1, second, 300};
  for (int i = 0; i < 3; ++i) {
    void* a[] = {&out, &adds[i]};
    add_kernel(bodies[i], nullptr, 0, (void*)add_to, a);
  }
  *g_out = g;
}

static void test_switch(int* in, int* out, cudaStream_t s) {
  cudaGraph_t g, g2;
  build_switch(in, out, 20, &g);
  cudaGraphExec_t e;
  CHECK(cudaGraphInstantiate(&e, g, 0));
  auto run = [&](int second) {
    for (int input : {0, 1, 2, 3, 7}) {
      write_int(in, input);
      write_int(out, 0);
      launch(e, s);
      const int want = input == 0 ? 1 : input == 1 ? second : input == 2 ? 300 : 0;
      const int got = read_int(out);
      if (got != want) example_fail("SWITCH with input %d: out = %d, want %d", input, got, want);
    }
  };
  run(20);
  build_switch(in, out, 40, &g2);
  cudaGraphExecUpdateResultInfo info{};
  CHECK(cudaGraphExecUpdate(e, g2, &info));
  if (info.result != cudaGraphExecUpdateSuccess) example_fail("cudaGraphExecUpdate result %d", (int)info.result);
  run(40);
  CHECK(cudaGraphExecDestroy(e));
  CHECK(cudaGraphDestroy(g));
  CHECK(cudaGraphDestroy(g2));
}

int main() {
  int* d = nullptr;
  CHECK(cudaMalloc(&d, 8 * sizeof(int)));
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  test_if(d + 0, d + 1, s, 1);
  test_if(d + 0, d + 1, s, 2);
  test_while(d + 2, d + 3, d + 4, s);
  test_switch(d + 0, d + 1, s);
  CHECK(cudaStreamDestroy(s));
  CHECK(cudaFree(d));
  std::puts("PASS");
  return 0;
}
