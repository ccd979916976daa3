// registered_zero_copy: the program's own memory registered with cudaHostRegisterMapped (as the
// cuda-samples simpleZeroCopy and simpleStreams do with their generic-memory paths): a kernel
// reads and writes it through the device pointer cudaHostGetDevicePointer gives, the host sees
// the result in place after a synchronisation, asynchronous copies into it land there too, and
// after cudaHostUnregister the memory is the program's plain memory again. The range is not
// page-aligned: the bytes around it are the program's and stay as it wrote them.
//
// Build: nvcc -o registered_zero_copy registered_zero_copy.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./registered_zero_copy
#include <cstdlib>
#include <cstring>

#include "check.h"

__global__ void scale_add(const float* in, float* out, float k, int n) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = k * in[i] + out[i];
}

int main() {
  constexpr int kN = 5000;
  CHECK(cudaSetDeviceFlags(cudaDeviceMapHost));
  // One block of the program's heap holding a guard, the two arrays, and a guard.
  auto* block = static_cast<unsigned char*>(std::malloc(64 + 2 * kN * sizeof(float) + 64));
  if (block == nullptr) example_fail("malloc");
  std::memset(block, 0x5a, 64);
  float* in = reinterpret_cast<float*>(block + 64);
  float* out = in + kN;
  unsigned char* tail = reinterpret_cast<unsigned char*>(out + kN);
  std::memset(tail, 0x5b, 64);
  for (int i = 0; i < kN; ++i) {
    in[i] = static_cast<float>(i);
    out[i] = 1.0f;
  }
  CHECK(cudaHostRegister(in, 2 * kN * sizeof(float), cudaHostRegisterMapped));
  if (cudaHostRegister(in + 10, 64, cudaHostRegisterMapped) != cudaErrorHostMemoryAlreadyRegistered)
    example_fail("registering part of a registered range again was not refused");
  (void)cudaGetLastError();  // the refusal above is the runtime's last error: clear it
  float *din = nullptr, *dout = nullptr;
  CHECK(cudaHostGetDevicePointer(&din, in, 0));
  CHECK(cudaHostGetDevicePointer(&dout, out, 0));

  scale_add<<<(kN + 255) / 256, 256>>>(din, dout, 2.0f, kN);
  CHECK(cudaGetLastError());
  CHECK(cudaDeviceSynchronize());
  for (int i = 0; i < kN; ++i) {
    if (out[i] != 2.0f * i + 1.0f) example_fail("out[%d] = %g, expected %g", i, out[i], 2.0f * i + 1.0f);
  }
  block[10] = 1;  // the program's own bytes beside the range, written while it is registered
  out[0] = 100.0f;
  in[kN - 1] = -1.0f;
  scale_add<<<(kN + 255) / 256, 256>>>(din, dout, 1.0f, kN);
  CHECK(cudaDeviceSynchronize());
  if (out[0] != 100.0f) example_fail("out[0] = %g, expected 100", out[0]);
  if (out[kN - 1] != 2.0f * (kN - 1))  // in[kN - 1] = -1 added to 2 (kN - 1) + 1
    example_fail("out[%d] = %g, expected %g", kN - 1, out[kN - 1], 2.0f * (kN - 1));

  // An asynchronous device-to-host copy into registered memory, read after the stream's sync.
  float* dev = nullptr;
  CHECK(cudaMalloc(&dev, kN * sizeof(float)));
  CHECK(cudaMemset(dev, 0, kN * sizeof(float)));
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  CHECK(cudaMemcpyAsync(out, dev, kN * sizeof(float), cudaMemcpyDeviceToHost, s));
  CHECK(cudaStreamSynchronize(s));
  if (out[17] != 0.0f) example_fail("after the async copy out[17] = %g, expected 0", out[17]);

  CHECK(cudaHostUnregister(in));
  if (cudaHostUnregister(in) != cudaErrorHostMemoryNotRegistered)
    example_fail("unregistering twice was not refused");
  (void)cudaGetLastError();
  out[5] = 42.0f;  // plain memory again
  if (block[10] != 1 || block[11] != 0x5a || tail[0] != 0x5b || tail[63] != 0x5b)
    example_fail("the bytes around the registered range changed");
  CHECK(cudaStreamDestroy(s));
  CHECK(cudaFree(dev));
  std::free(block);
  return example_pass();
}
