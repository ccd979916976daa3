// spin_sync: programs that are only correct if the GPU schedules warps, blocks and the lanes of
// one warp independently (forward progress, sm_70+ independent thread scheduling):
//   1. a software barrier between the warps of a block (volatile flag + atomics, spinning);
//   2. a producer/consumer queue between two blocks (the consumer spins on a flag);
//   3. an arrive/wait barrier that waits with __nanosleep;
//   4. a spin lock taken by every lane of one warp in turn (a lane spins on a lock another lane
//      of the same warp holds);
//   5. cuda::barrier (libcu++) arrive_and_wait between all threads of a block, which polls the
//      barrier's phase in memory.
// A scheduler that runs a spinning warp (or lane group) until it stops would hang on each.
//
// Build: nvcc -o spin_sync spin_sync.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./spin_sync
#include "check.h"

#include <cuda/barrier>

#include <vector>

// 1. Every warp of the block writes its slot, then all meet at a hand-written barrier; after it
// each warp reads the slot another warp wrote.
__device__ void spin_barrier(volatile int* count, volatile int* generation, int nwarps) {
  __syncwarp();
  if ((threadIdx.x & 31) == 0) {
    int gen = *generation;
    if (atomicAdd(const_cast<int*>(count), 1) == nwarps - 1) {
      *count = 0;
      __threadfence_block();
      *generation = gen + 1;
    } else {
      while (*generation == gen) {
      }
    }
  }
  __syncwarp();
}

__global__ void warp_barrier_kernel(int* out, int rounds) {
  __shared__ int slots[32];
  __shared__ int count, generation;
  const int warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  if (threadIdx.x == 0) count = generation = 0;
  __syncthreads();
  int sum = 0;
  for (int r = 0; r < rounds; ++r) {
    if ((threadIdx.x & 31) == 0) slots[warp] = warp * 100 + r;
    spin_barrier(&count, &generation, nwarps);
    sum += slots[(warp + 1) % nwarps];
    spin_barrier(&count, &generation, nwarps);
  }
  if ((threadIdx.x & 31) == 0) out[blockIdx.x * nwarps + warp] = sum;
}

// 2. Block 1 produces n values into a ring of `cap` slots; block 0 consumes them. Each side
// spins on the other's counter, so neither can finish alone.
__global__ void queue_kernel(volatile int* ring, int cap, volatile int* head, volatile int* tail, int n,
                             int* consumed_sum) {
  if (threadIdx.x != 0) return;
  if (blockIdx.x == 1) {
    for (int i = 0; i < n; ++i) {
      while (*tail - *head >= cap) {
      }
      ring[*tail % cap] = i * 7 + 1;
      __threadfence();
      *tail = *tail + 1;
    }
  } else {
    int sum = 0;
    for (int i = 0; i < n; ++i) {
      while (*head == *tail) {
      }
      __threadfence();
      sum += ring[*head % cap];
      *head = *head + 1;
    }
    *consumed_sum = sum;
  }
}

// 3. A hand-written arrive/wait barrier with back-off: every warp arrives, the last one flips
// the phase, the others wait with __nanosleep until it does.
__global__ void nanosleep_barrier_kernel(int* data, int* out, int n) {
  __shared__ unsigned arrived, phase;
  __shared__ int partial[32];
  if (threadIdx.x == 0) arrived = phase = 0;
  __syncthreads();
  const int warp = threadIdx.x / 32, nwarps = blockDim.x / 32;
  int s = 0;
  for (int i = threadIdx.x; i < n; i += blockDim.x) s += data[i];
  for (int o = 16; o > 0; o /= 2) s += __shfl_down_sync(0xffffffffu, s, o);
  if ((threadIdx.x & 31) == 0) {
    partial[warp] = s;
    unsigned my_phase = atomicAdd(&phase, 0);
    __threadfence_block();
    if (atomicAdd(&arrived, 1) == static_cast<unsigned>(nwarps) - 1) {
      atomicExch(&arrived, 0);
      atomicAdd(&phase, 1);
    } else {
      unsigned ns = 8;
      while (atomicAdd(&phase, 0) == my_phase) {
        __nanosleep(ns);
        if (ns < 256) ns *= 2;
      }
    }
    // After the barrier every warp sees every partial sum.
    int total = 0;
    for (int w = 0; w < nwarps; ++w) total += *(volatile int*)&partial[w];
    out[warp] = total;
  }
}

// 4. Every lane of the warp increments a counter under one spin lock. The lanes that lose the
// compare-and-swap loop back while the winner goes on: with lock-step lanes that always run the
// lowest pc first, the losers would spin forever and the winner would never release the lock.
__global__ void lane_lock_kernel(int* lock, int* counter, int* order, int iters) {
  for (int it = 0; it < iters; ++it) {
    while (atomicCAS(lock, 0, 1) != 0) {
    }
    int c = *(volatile int*)counter;
    order[c] = threadIdx.x;
    *(volatile int*)counter = c + 1;
    __threadfence();
    atomicExch(lock, 0);
  }
}

// 5. Each round every thread publishes a value, waits at the libcu++ barrier, reads a value
// another warp published, and waits again before the next round overwrites it.
__global__ void cuda_barrier_kernel(int* out, int rounds) {
  __shared__ cuda::barrier<cuda::thread_scope_block> bar;
  __shared__ int vals[1024];
  if (threadIdx.x == 0) init(&bar, blockDim.x);
  __syncthreads();
  int acc = 0;
  for (int r = 0; r < rounds; ++r) {
    vals[threadIdx.x] = static_cast<int>(threadIdx.x) * 3 + r;
    bar.arrive_and_wait();
    acc += vals[(threadIdx.x + 37) % blockDim.x];
    bar.arrive_and_wait();
  }
  out[blockIdx.x * blockDim.x + threadIdx.x] = acc;
}

int main() {
  // 1. warp barrier
  {
    const int blocks = 3, threads = 256, nwarps = threads / 32, rounds = 8;
    int* d_out = nullptr;
    CHECK(cudaMalloc(&d_out, blocks * nwarps * sizeof(int)));
    warp_barrier_kernel<<<blocks, threads>>>(d_out, rounds);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<int> out(blocks * nwarps);
    CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(int), cudaMemcpyDeviceToHost));
    for (int b = 0; b < blocks; ++b)
      for (int w = 0; w < nwarps; ++w) {
        int want = 0;
        for (int r = 0; r < rounds; ++r) want += ((w + 1) % nwarps) * 100 + r;
        if (out[b * nwarps + w] != want)
          example_fail("warp barrier: block %d warp %d summed %d, expected %d", b, w, out[b * nwarps + w], want);
      }
    CHECK(cudaFree(d_out));
    std::printf("warp spin barrier: ok\n");
  }
  // 2. producer/consumer queue between blocks
  {
    const int cap = 8, n = 120;
    int *d_ring = nullptr, *d_ctrl = nullptr;
    CHECK(cudaMalloc(&d_ring, cap * sizeof(int)));
    CHECK(cudaMalloc(&d_ctrl, 3 * sizeof(int)));
    CHECK(cudaMemset(d_ctrl, 0, 3 * sizeof(int)));
    queue_kernel<<<2, 32>>>(d_ring, cap, d_ctrl, d_ctrl + 1, n, d_ctrl + 2);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    int ctrl[3];
    CHECK(cudaMemcpy(ctrl, d_ctrl, sizeof ctrl, cudaMemcpyDeviceToHost));
    long want = 0;
    for (int i = 0; i < n; ++i) want += i * 7 + 1;
    if (ctrl[0] != n || ctrl[1] != n || ctrl[2] != want)
      example_fail("queue: head %d tail %d sum %d, expected %d %d %ld", ctrl[0], ctrl[1], ctrl[2], n, n, want);
    CHECK(cudaFree(d_ring));
    CHECK(cudaFree(d_ctrl));
    std::printf("producer/consumer queue between blocks: ok\n");
  }
  // 3. arrive/wait barrier with __nanosleep
  {
    const int threads = 256, nwarps = threads / 32, n = 10000;
    std::vector<int> data(n);
    long want = 0;
    for (int i = 0; i < n; ++i) want += data[i] = (i * 37) % 101 - 50;
    int *d_data = nullptr, *d_out = nullptr;
    CHECK(cudaMalloc(&d_data, n * sizeof(int)));
    CHECK(cudaMalloc(&d_out, nwarps * sizeof(int)));
    CHECK(cudaMemcpy(d_data, data.data(), n * sizeof(int), cudaMemcpyHostToDevice));
    nanosleep_barrier_kernel<<<1, threads>>>(d_data, d_out, n);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<int> out(nwarps);
    CHECK(cudaMemcpy(out.data(), d_out, nwarps * sizeof(int), cudaMemcpyDeviceToHost));
    for (int w = 0; w < nwarps; ++w)
      if (out[w] != want) example_fail("nanosleep barrier: warp %d saw total %d, expected %ld", w, out[w], want);
    CHECK(cudaFree(d_data));
    CHECK(cudaFree(d_out));
    std::printf("arrive/wait barrier with __nanosleep: ok\n");
  }
  // 4. a spin lock shared by the lanes of one warp
  {
    const int threads = 32, iters = 1, total = threads * iters;
    int *d_mem = nullptr;
    CHECK(cudaMalloc(&d_mem, (2 + total) * sizeof(int)));
    CHECK(cudaMemset(d_mem, 0, (2 + total) * sizeof(int)));
    lane_lock_kernel<<<1, threads>>>(d_mem, d_mem + 1, d_mem + 2, iters);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<int> mem(2 + total);
    CHECK(cudaMemcpy(mem.data(), d_mem, mem.size() * sizeof(int), cudaMemcpyDeviceToHost));
    if (mem[0] != 0 || mem[1] != total) example_fail("lane lock: lock %d counter %d, expected 0 %d", mem[0], mem[1], total);
    std::vector<int> seen(threads, 0);
    for (int i = 0; i < total; ++i) {
      if (mem[2 + i] < 0 || mem[2 + i] >= threads) example_fail("lane lock: slot %d holds %d", i, mem[2 + i]);
      ++seen[mem[2 + i]];
    }
    for (int t = 0; t < threads; ++t)
      if (seen[t] != iters) example_fail("lane lock: lane %d took the lock %d times, expected %d", t, seen[t], iters);
    CHECK(cudaFree(d_mem));
    std::printf("per-lane spin lock within a warp: ok\n");
  }
  // 5. cuda::barrier
  {
    const int blocks = 2, threads = 256, rounds = 10;
    int* d_out = nullptr;
    CHECK(cudaMalloc(&d_out, blocks * threads * sizeof(int)));
    cuda_barrier_kernel<<<blocks, threads>>>(d_out, rounds);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    std::vector<int> out(blocks * threads);
    CHECK(cudaMemcpy(out.data(), d_out, out.size() * sizeof(int), cudaMemcpyDeviceToHost));
    for (int b = 0; b < blocks; ++b)
      for (int t = 0; t < threads; ++t) {
        int want = 0;
        for (int r = 0; r < rounds; ++r) want += ((t + 37) % threads) * 3 + r;
        if (out[b * threads + t] != want)
          example_fail("cuda::barrier: block %d thread %d summed %d, expected %d", b, t, out[b * threads + t], want);
      }
    CHECK(cudaFree(d_out));
    std::printf("cuda::barrier arrive_and_wait: ok\n");
  }
  std::printf("PASS\n");
  return 0;
}
