// cdp_print: dynamic parallelism (CUDA 12 CDP2) with recursive device-side launches, in the
// manner of cuda-samples' cdpSimplePrint:
//   1. every block of a 2-block grid launches a 2-block child grid from thread 0, down to depth 4;
//      each block records its depth and its parent block's id, so the host can check the tree
//      (30 blocks: 2 + 4 + 8 + 16, each parent with exactly 2 children) and that every child ran
//      after its parent had written its record. Thread 0 of each block prints a line.
//   2. unbounded recursion stops at CUDA's nesting limit: the launch from depth 24 fails with
//      cudaErrorLaunchMaxDepthExceeded, which the device-side cudaGetLastError also returns.
//
// Build: nvcc -rdc=true -o cdp_print cdp_print.cu -lcudadevrt
// Run:   LD_LIBRARY_PATH=build/emulator ./cdp_print
#include "check.h"

#include <vector>

constexpr int kMaxDepth = 4;
constexpr int kBlocks = 2;
constexpr int kMaxRecords = 64;

struct Record {
  int depth;
  int parent;  // uid of the launching block, -1 for the host's grid
  int parent_seen;  // the parent's record was complete when this block ran
};

__device__ int g_uids = 0;

__global__ void tree(Record* records, int depth, int parent) {
  __shared__ int uid;
  if (threadIdx.x == 0) {
    uid = atomicAdd(&g_uids, 1);
    if (uid < kMaxRecords) {
      records[uid].depth = depth;
      records[uid].parent = parent;
      records[uid].parent_seen = parent < 0 || records[parent].depth == depth - 1;
    }
    printf("block %d at depth %d, launched by block %d\n", uid, depth, parent);
  }
  __syncthreads();
  if (threadIdx.x == 0 && depth + 1 < kMaxDepth) tree<<<kBlocks, blockDim.x>>>(records, depth + 1, uid);
}

// Launches itself until the launch fails; reports the deepest depth reached and the error.
__global__ void deepest(int depth, int* max_depth, int* error) {
  atomicMax(max_depth, depth);
  deepest<<<1, 1>>>(depth + 1, max_depth, error);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) {
    *error = e;
    if (cudaGetLastError() != cudaSuccess) *error = -1;  // cudaGetLastError resets the error
  }
}

int main() {
  Record* d_records;
  CHECK(cudaMalloc(&d_records, kMaxRecords * sizeof(Record)));
  CHECK(cudaMemset(d_records, 0xff, kMaxRecords * sizeof(Record)));
  tree<<<kBlocks, 32>>>(d_records, 0, -1);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  int uids = 0;
  CHECK(cudaMemcpyFromSymbol(&uids, g_uids, sizeof(int)));
  int expect = 0;
  for (int d = 0, n = kBlocks; d < kMaxDepth; ++d, n *= kBlocks) expect += n;
  if (uids != expect) example_fail("%d blocks ran, expected %d", uids, expect);
  std::vector<Record> h(kMaxRecords);
  CHECK(cudaMemcpy(h.data(), d_records, kMaxRecords * sizeof(Record), cudaMemcpyDeviceToHost));
  std::vector<int> per_depth(kMaxDepth, 0), children(uids, 0);
  for (int i = 0; i < uids; ++i) {
    const Record& r = h[i];
    if (r.depth < 0 || r.depth >= kMaxDepth) example_fail("block %d: depth %d", i, r.depth);
    per_depth[r.depth]++;
    if (!r.parent_seen) example_fail("block %d ran before its parent %d had recorded itself", i, r.parent);
    if (r.depth == 0) {
      if (r.parent != -1) example_fail("block %d at depth 0 has parent %d", i, r.parent);
      continue;
    }
    if (r.parent < 0 || r.parent >= uids || h[r.parent].depth != r.depth - 1)
      example_fail("block %d at depth %d: bad parent %d", i, r.depth, r.parent);
    children[r.parent]++;
  }
  for (int d = 0, n = kBlocks; d < kMaxDepth; ++d, n *= kBlocks)
    if (per_depth[d] != n) example_fail("%d blocks at depth %d, expected %d", per_depth[d], d, n);
  for (int i = 0; i < uids; ++i) {
    int want = h[i].depth + 1 < kMaxDepth ? kBlocks : 0;
    if (children[i] != want) example_fail("block %d launched %d child blocks, expected %d", i, children[i], want);
  }

  int* d_out;
  CHECK(cudaMalloc(&d_out, 2 * sizeof(int)));
  CHECK(cudaMemset(d_out, 0, 2 * sizeof(int)));
  deepest<<<1, 1>>>(0, d_out, d_out + 1);
  CHECK(cudaDeviceSynchronize());
  int out[2];
  CHECK(cudaMemcpy(out, d_out, sizeof out, cudaMemcpyDeviceToHost));
  if (out[0] != 24) example_fail("the deepest grid ran at depth %d, expected 24", out[0]);
  if (out[1] != cudaErrorLaunchMaxDepthExceeded)
    example_fail("the launch beyond the nesting limit returned %d, expected cudaErrorLaunchMaxDepthExceeded", out[1]);
  CHECK(cudaFree(d_out));
  CHECK(cudaFree(d_records));
  std::printf("PASS\n");
  return 0;
}
