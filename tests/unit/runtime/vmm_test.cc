// Virtual memory management: reservations, physical allocations, mappings
// laid out back to back, access control, the life of physical memory, and
// the errors CUDA documents.
#include "test_util.h"

#include <cstdint>
#include <cstring>
#include <numeric>
#include <thread>
#include <vector>

namespace {

constexpr size_t kG = 2u << 20;

CUmemAllocationProp device_prop(int dev = 0) {
  CUmemAllocationProp p{};
  p.type = CU_MEM_ALLOCATION_TYPE_PINNED;
  p.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  p.location.id = dev;
  p.requestedHandleTypes = CU_MEM_HANDLE_TYPE_NONE;
  return p;
}

CUmemAccessDesc rw(int dev = 0, CUmemAccess_flags flags = CU_MEM_ACCESS_FLAGS_PROT_READWRITE) {
  CUmemAccessDesc d{};
  d.location.type = CU_MEM_LOCATION_TYPE_DEVICE;
  d.location.id = dev;
  d.flags = flags;
  return d;
}

size_t free_bytes() {
  size_t f = 0, t = 0;
  EXPECT_EQ(CUDA_SUCCESS, cuMemGetInfo(&f, &t));
  return f;
}

class RuntimeVmm : public RuntimeTest {
 protected:
  // Reserves `slots` granules and maps one fresh handle of one granule at
  // each of the first `mapped` of them, read-write.
  void map_back_to_back(size_t slots, size_t mapped) {
    ASSERT_CU(cuMemAddressReserve(&base_, slots * kG, 0, 0, 0));
    slots_ = slots;
    const CUmemAllocationProp prop = device_prop();
    for (size_t i = 0; i < mapped; ++i) {
      CUmemGenericAllocationHandle h = 0;
      ASSERT_CU(cuMemCreate(&h, kG, &prop, 0));
      ASSERT_CU(cuMemMap(base_ + i * kG, kG, 0, h, 0));
      handles_.push_back(h);
    }
    const CUmemAccessDesc d = rw();
    if (mapped) {
      ASSERT_CU(cuMemSetAccess(base_, mapped * kG, &d, 1));
    }
  }
  void TearDown() override {
    if (base_ != 0) {
      for (size_t i = 0; i < handles_.size(); ++i) {
        EXPECT_CU(cuMemUnmap(base_ + i * kG, kG));
        EXPECT_CU(cuMemRelease(handles_[i]));
      }
      EXPECT_CU(cuMemAddressFree(base_, slots_ * kG));
    }
    RuntimeTest::TearDown();
  }
  CUdeviceptr base_ = 0;
  size_t slots_ = 0;
  std::vector<CUmemGenericAllocationHandle> handles_;
};

TEST_F(RuntimeVmm, GranularityAndPropertyChecks) {
  int supported = 0;
  ASSERT_CU(cuDeviceGetAttribute(&supported, CU_DEVICE_ATTRIBUTE_VIRTUAL_MEMORY_MANAGEMENT_SUPPORTED, 0));
  EXPECT_EQ(1, supported);
  CUmemAllocationProp prop = device_prop();
  size_t g = 0;
  ASSERT_CU(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  EXPECT_EQ(kG, g);
  g = 0;
  ASSERT_CU(cuMemGetAllocationGranularity(&g, &prop, CU_MEM_ALLOC_GRANULARITY_RECOMMENDED));
  EXPECT_EQ(kG, g);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE,
            cuMemGetAllocationGranularity(&g, &prop, static_cast<CUmemAllocationGranularity_flags>(7)));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemGetAllocationGranularity(&g, nullptr, CU_MEM_ALLOC_GRANULARITY_MINIMUM));

  CUmemAllocationProp bad = device_prop();
  bad.type = CU_MEM_ALLOCATION_TYPE_INVALID;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemGetAllocationGranularity(&g, &bad, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  bad = device_prop(9999);
  EXPECT_EQ(CUDA_ERROR_INVALID_DEVICE, cuMemGetAllocationGranularity(&g, &bad, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  bad = device_prop();
  bad.requestedHandleTypes = CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR;
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED, cuMemGetAllocationGranularity(&g, &bad, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
  CUmemGenericAllocationHandle h = 0;
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED, cuMemCreate(&h, kG, &bad, 0));
  bad = device_prop();
  bad.location.type = CU_MEM_LOCATION_TYPE_HOST;
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED, cuMemGetAllocationGranularity(&g, &bad, CU_MEM_ALLOC_GRANULARITY_MINIMUM));
}

TEST_F(RuntimeVmm, CopiesAndMemsetsSpanBackToBackMappings) {
  map_back_to_back(3, 2);
  // 16 KiB either side of the boundary between the two mappings.
  const CUdeviceptr p = base_ + kG - 16384;
  std::vector<uint32_t> in(8192), out(8192, 0);
  std::iota(in.begin(), in.end(), 1u);
  ASSERT_CU(cuMemcpyHtoD(p, in.data(), in.size() * 4));
  ASSERT_CU(cuMemcpyDtoH(out.data(), p, out.size() * 4));
  EXPECT_EQ(in, out);
  // The bytes really live in the two mappings: the host sees them too.
  EXPECT_EQ(1u, *reinterpret_cast<const uint32_t*>(p));
  EXPECT_EQ(4097u, *reinterpret_cast<const uint32_t*>(base_ + kG));

  ASSERT_CU(cuMemsetD32(p + 4, 0xabcdef01u, 8000));
  ASSERT_CU(cuMemcpyDtoH(out.data(), p, out.size() * 4));
  EXPECT_EQ(1u, out[0]);
  for (size_t i = 1; i <= 8000; ++i) ASSERT_EQ(0xabcdef01u, out[i]) << i;
  EXPECT_EQ(8002u, out[8001]);

  // Device to device across both mappings, from an ordinary allocation.
  CUdeviceptr plain = 0;
  ASSERT_CU(cuMemAlloc(&plain, 2 * kG));
  ASSERT_CU(cuMemcpyDtoD(plain, base_, 2 * kG));
  ASSERT_CU(cuMemcpyDtoH(out.data(), plain + kG - 16384, out.size() * 4));
  EXPECT_EQ(0xabcdef01u, out[4096]);
  ASSERT_CU(cuMemFree(plain));

  // The third slot is reserved but not mapped: nothing may reach into it.
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(base_ + 2 * kG - 8, in.data(), 16));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(base_ + 2 * kG, in.data(), 16));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemsetD32(base_ + 2 * kG, 0, 4));
}

TEST_F(RuntimeVmm, KernelWritesAcrossBothMappings) {
  map_back_to_back(2, 2);
  CUmodule mod = nullptr;
  ASSERT_CU(cuModuleLoadData(&mod, kTestPtx));
  CUfunction add = nullptr;
  ASSERT_CU(cuModuleGetFunction(&add, mod, "add_k"));
  const unsigned n = 8192;
  const CUdeviceptr p = base_ + kG - (n / 2) * 4;
  std::vector<uint32_t> in(n), out(n, 0);
  std::iota(in.begin(), in.end(), 100u);
  ASSERT_CU(cuMemcpyHtoD(p, in.data(), n * 4));
  unsigned count = n;
  void* args[] = {const_cast<CUdeviceptr*>(&p), &count};
  ASSERT_CU(cuLaunchKernel(add, n / 128, 1, 1, 128, 1, 1, 0, nullptr, args, nullptr));
  ASSERT_CU(cuCtxSynchronize());
  ASSERT_CU(cuMemcpyDtoH(out.data(), p, n * 4));
  for (unsigned i = 0; i < n; ++i) ASSERT_EQ(in[i] + 5, out[i]) << i;
  ASSERT_CU(cuModuleUnload(mod));
}

// The expandable-segments pattern: the reservation grows (map + access) and
// shrinks (unmap) behind the existing mappings while kernels use them.
TEST_F(RuntimeVmm, GrowingTheRangeDoesNotDisturbKernelsUsingIt) {
  map_back_to_back(3, 2);
  CUmodule mod = nullptr;
  ASSERT_CU(cuModuleLoadData(&mod, kTestPtx));
  CUfunction add = nullptr;
  ASSERT_CU(cuModuleGetFunction(&add, mod, "add_k"));
  const unsigned n = 4096;
  const CUdeviceptr p = base_ + kG - (n / 2) * 4;
  ASSERT_CU(cuMemsetD32(p, 1, n));
  constexpr int kRounds = 40;
  CUresult grow_result = CUDA_SUCCESS;
  std::thread grower([&] {
    cuCtxSetCurrent(ctx_);
    const CUmemAllocationProp prop = device_prop();
    const CUmemAccessDesc d = rw();
    CUmemGenericAllocationHandle h = 0;
    CUresult r = cuMemCreate(&h, kG, &prop, 0);
    for (int i = 0; i < kRounds && r == CUDA_SUCCESS; ++i) {
      r = cuMemMap(base_ + 2 * kG, kG, 0, h, 0);
      if (r == CUDA_SUCCESS) r = cuMemSetAccess(base_ + 2 * kG, kG, &d, 1);
      if (r == CUDA_SUCCESS) r = cuMemUnmap(base_ + 2 * kG, kG);
    }
    if (h != 0 && cuMemRelease(h) != CUDA_SUCCESS && r == CUDA_SUCCESS) r = CUDA_ERROR_UNKNOWN;
    grow_result = r;
  });
  unsigned count = n;
  void* args[] = {const_cast<CUdeviceptr*>(&p), &count};
  for (int i = 0; i < kRounds; ++i) {
    ASSERT_CU(cuLaunchKernel(add, n / 128, 1, 1, 128, 1, 1, 0, nullptr, args, nullptr));
    ASSERT_CU(cuCtxSynchronize());
  }
  grower.join();
  EXPECT_CU(grow_result);
  std::vector<uint32_t> out(n);
  ASSERT_CU(cuMemcpyDtoH(out.data(), p, n * 4));
  for (unsigned i = 0; i < n; ++i) ASSERT_EQ(1u + 5u * kRounds, out[i]) << i;
  ASSERT_CU(cuModuleUnload(mod));
}

TEST_F(RuntimeVmm, AccessQueriesPointerAttributesAndHandles) {
  map_back_to_back(3, 2);
  CUmemLocation loc{};
  loc.type = CU_MEM_LOCATION_TYPE_DEVICE;
  loc.id = 0;
  unsigned long long flags = 0;
  ASSERT_CU(cuMemGetAccess(&flags, &loc, base_ + kG + 12345));
  EXPECT_EQ(static_cast<unsigned long long>(CU_MEM_ACCESS_FLAGS_PROT_READWRITE), flags);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemGetAccess(&flags, &loc, base_ + 2 * kG));  // not mapped

  // Not freeable as ordinary device memory, but reported as device memory.
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFree(base_));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemFreeAsync(base_, nullptr));
  unsigned type = 0;
  ASSERT_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, base_ + kG + 8));
  EXPECT_EQ(static_cast<unsigned>(CU_MEMORYTYPE_DEVICE), type);
  int ordinal = -1;
  ASSERT_CU(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, base_ + 8));
  EXPECT_EQ(0, ordinal);
  void* map_base = nullptr;
  size_t map_size = 0;
  ASSERT_CU(cuPointerGetAttribute(&map_base, CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR, base_ + kG + 8));
  ASSERT_CU(cuPointerGetAttribute(&map_size, CU_POINTER_ATTRIBUTE_MAPPING_SIZE, base_ + kG + 8));
  EXPECT_EQ(base_ + kG, reinterpret_cast<CUdeviceptr>(map_base));
  EXPECT_EQ(kG, map_size);

  CUmemGenericAllocationHandle h = 0;
  ASSERT_CU(cuMemRetainAllocationHandle(&h, reinterpret_cast<void*>(base_ + kG + 100)));
  EXPECT_EQ(handles_[1], h);
  EXPECT_NE(0u, h);
  CUmemAllocationProp prop{};
  ASSERT_CU(cuMemGetAllocationPropertiesFromHandle(&prop, h));
  EXPECT_EQ(CU_MEM_ALLOCATION_TYPE_PINNED, prop.type);
  EXPECT_EQ(CU_MEM_LOCATION_TYPE_DEVICE, prop.location.type);
  EXPECT_EQ(0, prop.location.id);
  ASSERT_CU(cuMemRelease(h));  // the retained reference; the fixture releases the original
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE,
            cuMemRetainAllocationHandle(&h, reinterpret_cast<void*>(base_ + 2 * kG)));  // not mapped

  // Revoking the first mapping leaves the second usable and the first refused.
  const CUmemAccessDesc none = rw(0, CU_MEM_ACCESS_FLAGS_PROT_NONE);
  ASSERT_CU(cuMemSetAccess(base_, kG, &none, 1));
  ASSERT_CU(cuMemGetAccess(&flags, &loc, base_));
  EXPECT_EQ(static_cast<unsigned long long>(CU_MEM_ACCESS_FLAGS_PROT_NONE), flags);
  uint32_t v = 7;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(base_ + 16, &v, 4));
  EXPECT_CU(cuMemcpyHtoD(base_ + kG + 16, &v, 4));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(base_ + kG - 4, &v, 8));  // runs into the revoked part
  const CUmemAccessDesc back = rw();
  ASSERT_CU(cuMemSetAccess(base_, kG, &back, 1));
  EXPECT_CU(cuMemcpyHtoD(base_ + kG - 4, &v, 8));
}

TEST_F(RuntimeVmm, ReleaseBeforeUnmapKeepsMemoryUntilTheLastUnmap) {
  const size_t free0 = free_bytes();
  CUdeviceptr va = 0;
  ASSERT_CU(cuMemAddressReserve(&va, 2 * kG, 0, 0, 0));
  EXPECT_EQ(0u, va % kG);
  const CUmemAllocationProp prop = device_prop();
  CUmemGenericAllocationHandle h = 0;
  ASSERT_CU(cuMemCreate(&h, 2 * kG, &prop, 0));
  EXPECT_EQ(free0 - 2 * kG, free_bytes());
  // Two mappings of the same handle: its halves, swapped.
  ASSERT_CU(cuMemMap(va, kG, kG, h, 0));
  ASSERT_CU(cuMemMap(va + kG, kG, 0, h, 0));
  const CUmemAccessDesc d = rw();
  ASSERT_CU(cuMemSetAccess(va, 2 * kG, &d, 1));
  ASSERT_CU(cuMemRelease(h));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemRelease(h));  // double release
  EXPECT_EQ(free0 - 2 * kG, free_bytes());               // still mapped: still there
  const uint32_t a = 0x11111111u, b = 0x22222222u;
  ASSERT_CU(cuMemcpyHtoD(va + kG, &a, 4));  // offset 0 of the handle
  ASSERT_CU(cuMemcpyHtoD(va, &b, 4));       // offset kG of the handle
  ASSERT_CU(cuMemUnmap(va, kG));
  EXPECT_EQ(free0 - 2 * kG, free_bytes());  // one mapping left
  uint32_t got = 0;
  ASSERT_CU(cuMemcpyDtoH(&got, va + kG, 4));
  EXPECT_EQ(a, got);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(&got, va, 4));  // unmapped again
  ASSERT_CU(cuMemUnmap(va + kG, kG));
  EXPECT_EQ(free0, free_bytes());
  ASSERT_CU(cuMemAddressFree(va, 2 * kG));
}

TEST_F(RuntimeVmm, UnmapBeforeReleaseKeepsTheContents) {
  const size_t free0 = free_bytes();
  CUdeviceptr va = 0;
  ASSERT_CU(cuMemAddressReserve(&va, 2 * kG, 4 * kG, 0, 0));
  EXPECT_EQ(0u, va % (4 * kG));
  const CUmemAllocationProp prop = device_prop();
  CUmemGenericAllocationHandle h = 0;
  ASSERT_CU(cuMemCreate(&h, kG, &prop, 0));
  ASSERT_CU(cuMemMap(va, kG, 0, h, 0));
  const CUmemAccessDesc d = rw();
  ASSERT_CU(cuMemSetAccess(va, kG, &d, 1));
  const uint64_t word = 0x0123456789abcdefull;
  ASSERT_CU(cuMemcpyHtoD(va + 4096, &word, 8));
  ASSERT_CU(cuMemUnmap(va, kG));
  EXPECT_EQ(free0 - kG, free_bytes());  // the handle still holds it
  // Mapped again elsewhere, the physical memory still has its contents.
  ASSERT_CU(cuMemMap(va + kG, kG, 0, h, 0));
  ASSERT_CU(cuMemSetAccess(va + kG, kG, &d, 1));
  uint64_t got = 0;
  ASSERT_CU(cuMemcpyDtoH(&got, va + kG + 4096, 8));
  EXPECT_EQ(word, got);
  ASSERT_CU(cuMemUnmap(va + kG, kG));
  ASSERT_CU(cuMemRelease(h));
  EXPECT_EQ(free0, free_bytes());
  ASSERT_CU(cuMemAddressFree(va, 2 * kG));
}

TEST_F(RuntimeVmm, AddressHintIsUsedWhenFree) {
  CUdeviceptr a = 0, b = 0, c = 0;
  ASSERT_CU(cuMemAddressReserve(&a, 2 * kG, 0, 0, 0));
  ASSERT_CU(cuMemAddressFree(a, 2 * kG));
  ASSERT_CU(cuMemAddressReserve(&b, 2 * kG, 0, a, 0));  // free again: the hint is honoured
  EXPECT_EQ(a, b);
  ASSERT_CU(cuMemAddressReserve(&c, 2 * kG, 0, b, 0));  // taken: somewhere else
  EXPECT_NE(b, c);
  EXPECT_TRUE(c + 2 * kG <= b || c >= b + 2 * kG);
  ASSERT_CU(cuMemAddressFree(c, 2 * kG));
  ASSERT_CU(cuMemAddressFree(b, 2 * kG));
}

TEST_F(RuntimeVmm, ErrorsAreRefused) {
  const CUmemAllocationProp prop = device_prop();
  CUmemGenericAllocationHandle h = 0;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemCreate(&h, kG + 4096, &prop, 0));  // unaligned size
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemCreate(&h, 0, &prop, 0));
  CUdeviceptr va = 0;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAddressReserve(&va, kG / 2, 0, 0, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAddressReserve(&va, kG, 3 * kG, 0, 0));  // not a power of two
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemRelease(0x5eed));                        // never created

  size_t free0 = 0, total = 0;
  ASSERT_CU(cuMemGetInfo(&free0, &total));
  EXPECT_EQ(CUDA_ERROR_OUT_OF_MEMORY, cuMemCreate(&h, (free0 / kG + 1) * kG, &prop, 0));
  EXPECT_EQ(free0, free_bytes());

  ASSERT_CU(cuMemAddressReserve(&va, 4 * kG, 0, 0, 0));
  ASSERT_CU(cuMemCreate(&h, 2 * kG, &prop, 0));
  // Outside any reservation: an ordinary allocation, and running off the end.
  CUdeviceptr plain = 0;
  ASSERT_CU(cuMemAlloc(&plain, 4 * kG));
  const CUdeviceptr plain_aligned = (plain + kG - 1) / kG * kG;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(plain_aligned, kG, 0, h, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(va + 3 * kG, 2 * kG, 0, h, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(va + 4096, kG, 0, h, 0));     // unaligned address
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(va, kG, kG + kG, h, 0));      // past the handle's end
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(va, kG, 0, h + 1000, 0));     // unknown handle
  ASSERT_CU(cuMemMap(va + kG, 2 * kG, 0, h, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(va, 2 * kG, 0, h, 0));        // overlaps from below
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(va + 2 * kG, kG, 0, h, 0));   // inside
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAddressFree(va, 4 * kG));         // still mapped
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAddressFree(va, 2 * kG));         // not the reservation's size
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemUnmap(va + kG, kG));              // half a mapping
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemUnmap(va, 3 * kG));               // includes unmapped space

  // Mapped but no access granted yet: copies and memsets are refused, no crash.
  uint32_t v = 1;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyHtoD(va + kG, &v, 4));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpyDtoH(&v, va + kG, 4));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemcpy(va + kG, reinterpret_cast<CUdeviceptr>(&v), 4));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemsetD32(va + kG, 0, 1));
  // Access only for mapped ranges and known devices.
  CUmemAccessDesc d = rw();
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemSetAccess(va, 2 * kG, &d, 1));
  d = rw(9999);
  EXPECT_EQ(CUDA_ERROR_INVALID_DEVICE, cuMemSetAccess(va + kG, 2 * kG, &d, 1));
  d = rw();
  ASSERT_CU(cuMemSetAccess(va + kG, 2 * kG, &d, 1));
  EXPECT_CU(cuMemcpyHtoD(va + kG, &v, 4));

  ASSERT_CU(cuMemRelease(h));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemRelease(h));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemMap(va, kG, 0, h, 0));  // released: no new mappings
  ASSERT_CU(cuMemUnmap(va + kG, 2 * kG));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemUnmap(va + kG, 2 * kG));  // already unmapped
  ASSERT_CU(cuMemAddressFree(va, 4 * kG));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMemAddressFree(va, 4 * kG));
  ASSERT_CU(cuMemFree(plain));
  EXPECT_EQ(free0, free_bytes());
}

}  // namespace
