// Memory the host and the device share without cuMemAllocManaged: a library's __managed__
// variable (cuLibraryGetManaged) and registered host memory mapped into the device
// (cuMemHostRegister with CU_MEMHOSTREGISTER_DEVICEMAP, cuMemHostGetDevicePointer). Through the
// pool both are mirrors kept coherent at call boundaries (client-shim/src/managed.h); the device
// pointer of registered memory differs from the host pointer there, so no body compares them.
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "suite.h"

namespace diff {
namespace {

using MappedTest = DiffTest;

// The PTX text of kernels/<file> beside the binary (as library_kernel_test.cc reads it; a shared
// helper in suite.h would serve the three files).
std::string kernel_text(const char* file) {
  char exe[4096] = {};
  const ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = len > 0 ? std::string(exe, static_cast<size_t>(len)) : std::string();
  dir = dir.substr(0, dir.find_last_of('/'));
  std::ifstream in(dir + "/kernels/" + file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The variable's initial value reaches the host, a kernel's update too after a synchronisation,
// and a host write reaches the device without touching the globals around it (through the pool
// they share the variable's page on the server; a push of the whole page would zero them).
TEST_F(MappedTest, LibraryManagedVariableKeepsItsNeighbours) {
#if defined(__SANITIZE_ADDRESS__)
  // Through the pool the shim mirrors the variable at the server's address, which must be free
  // in this process. Under ASan both processes' heaps lie at the same fixed addresses, so the
  // server's module globals (emulator heap) collide with the client's heap and the shim refuses
  // the mirror (logged, docs/architecture.md "Open points"); a release build's heaps are apart.
  if (backend() == "pool") GTEST_SKIP() << "ASan: the server's global lies in this process's heap";
#endif
  const std::string ptx = kernel_text("managed_var.ptx");
  ASSERT_FALSE(ptx.empty());
  CUlibrary lib = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryLoadData(&lib, ptx.c_str(), nullptr, nullptr, 0, nullptr, nullptr, 0));
  CUdeviceptr m = 0, before = 0, after = 0;
  size_t bytes = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetManaged(&m, &bytes, lib, "counter"));
  EXPECT_SAME_VALUE(4, bytes);
  EXPECT_CU(CUDA_ERROR_NOT_FOUND, api().cuLibraryGetManaged(&before, &bytes, lib, "before_g")) << "not managed";
  EXPECT_CU(CUDA_ERROR_NOT_FOUND, api().cuLibraryGetManaged(&before, &bytes, lib, "no_such_variable"));
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetGlobal(&before, &bytes, lib, "before_g"));
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetGlobal(&after, &bytes, lib, "after_g"));
  record_machine("before_g on the variable's page", before / 4096 == m / 4096);
  record_machine("after_g on the variable's page", after / 4096 == m / 4096);
  CUdeviceptr again = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryGetManaged(&again, nullptr, lib, "counter"));
  EXPECT_EQ(m, again);

  auto* host = reinterpret_cast<volatile unsigned*>(m);
  EXPECT_SAME_VALUE(7, host[0]) << "the initial value, on the host";
  CUkernel touch = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLibraryGetKernel(&touch, lib, "touch"));
  unsigned add = 5;
  void* params[] = {&add};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(reinterpret_cast<CUfunction>(touch), 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  EXPECT_SAME_VALUE(12, host[0]) << "the kernel's update, on the host";

  host[0] = 100;  // the host writes the variable only
  unsigned v = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, before, 4));
  EXPECT_SAME_VALUE(1111, v) << "the global before the variable keeps the kernel's value";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, after, 4));
  EXPECT_SAME_VALUE(2222, v) << "the global after the variable keeps the kernel's value";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, m, 4));
  EXPECT_SAME_VALUE(100, v) << "the host's write reached the device";
  add = 1;
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(reinterpret_cast<CUfunction>(touch), 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  EXPECT_SAME_VALUE(101, host[0]);
  EXPECT_CU(CUDA_SUCCESS, api().cuLibraryUnload(lib));
}

// Zero-copy through registered memory: an unaligned range of the program's own memory, read and
// written by a kernel through its device pointer; the bytes around it stay the program's.
TEST_F(MappedTest, RegisteredHostMemoryIsReadAndWrittenByKernels) {
  CUmodule mod = load_ptx("arith.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction add_one = function(mod, "add_one");
  ASSERT_NE(nullptr, add_one);
  constexpr unsigned n = 3000;  // 12000 bytes from offset 100: two partial pages, two whole ones
  void* mem = mmap(nullptr, 5 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, mem);
  auto* bytes = static_cast<unsigned char*>(mem);
  auto* data = reinterpret_cast<unsigned*>(bytes + 100);
  for (unsigned i = 0; i < n; ++i) data[i] = i;
  std::memset(bytes, 0xab, 100);
  ASSERT_CU(CUDA_SUCCESS, api().cuMemHostRegister(data, n * 4, CU_MEMHOSTREGISTER_DEVICEMAP));
  EXPECT_CU(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, api().cuMemHostRegister(data + 10, 64, CU_MEMHOSTREGISTER_DEVICEMAP));
  EXPECT_CU(CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED, api().cuMemHostRegister(bytes + 4, 200, 0)) << "overlaps the start";
  CUdeviceptr d = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemHostGetDevicePointer(&d, data, 0));
  CUdeviceptr inner = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemHostGetDevicePointer(&inner, data + 5, 0));
  EXPECT_EQ(d + 20, inner);
  unsigned count = n;
  void* params[] = {&d, &count};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  EXPECT_SAME_VALUE(1, data[0]) << "the kernel's writes, on the host";
  EXPECT_SAME_VALUE(n, data[n - 1]);
  EXPECT_SAME_VALUE(0xab, bytes[99]) << "the byte before the range is the program's";
  data[0] = 500;       // on the partial first page
  data[2000] = 600;    // on a whole page
  data[n - 1] = 700;   // on the partial last page
  bytes[50] = 1;       // outside the range, on its first page
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, (n + 255) / 256, 1, 1, 256, 1, 1, 0, nullptr, params, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuCtxSynchronize());
  EXPECT_SAME_VALUE(501, data[0]);
  EXPECT_SAME_VALUE(601, data[2000]);
  EXPECT_SAME_VALUE(701, data[n - 1]);
  EXPECT_SAME_VALUE(3, data[1]);
  EXPECT_SAME_VALUE(1, bytes[50]);
  // A copy from the device pointer sees the host's last writes.
  unsigned v = 0;
  data[7] = 77;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(&v, d + 28, 4));
  EXPECT_SAME_VALUE(77, v);
  EXPECT_CU(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, api().cuMemHostUnregister(data + 1));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemHostUnregister(data));
  EXPECT_CU(CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED, api().cuMemHostUnregister(data));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemHostGetDevicePointer(&d, data, 0));
  data[100] = 5;  // the program's memory again, writable
  EXPECT_SAME_VALUE(5, data[100]);
  munmap(mem, 5 * 4096);
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

}  // namespace
}  // namespace diff
