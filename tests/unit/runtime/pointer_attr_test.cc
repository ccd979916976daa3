// Pointer attributes of device, pinned, managed and unknown memory.
#include "test_util.h"

using RuntimePointer = RuntimeTest;

TEST_F(RuntimePointer, DeviceMemory) {
  CUdeviceptr d = 0;
  ASSERT_CU(cuMemAlloc(&d, 100));
  unsigned type = 0;
  ASSERT_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d + 10));
  EXPECT_EQ(static_cast<unsigned>(CU_MEMORYTYPE_DEVICE), type);
  CUcontext c = nullptr;
  ASSERT_CU(cuPointerGetAttribute(&c, CU_POINTER_ATTRIBUTE_CONTEXT, d));
  EXPECT_EQ(ctx_, c);
  CUdeviceptr start = 0;
  size_t size = 0;
  ASSERT_CU(cuPointerGetAttribute(&start, CU_POINTER_ATTRIBUTE_RANGE_START_ADDR, d + 10));
  ASSERT_CU(cuPointerGetAttribute(&size, CU_POINTER_ATTRIBUTE_RANGE_SIZE, d + 10));
  EXPECT_EQ(d, start);
  EXPECT_EQ(100u, size);
  int managed = -1, ordinal = -1;
  ASSERT_CU(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, d));
  ASSERT_CU(cuPointerGetAttribute(&ordinal, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, d));
  EXPECT_EQ(0, managed);
  EXPECT_EQ(0, ordinal);
  void* host = nullptr;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuPointerGetAttribute(&host, CU_POINTER_ATTRIBUTE_HOST_POINTER, d));
  unsigned long long id1 = 0, id2 = 0;
  CUdeviceptr d2 = 0;
  ASSERT_CU(cuMemAlloc(&d2, 100));
  ASSERT_CU(cuPointerGetAttribute(&id1, CU_POINTER_ATTRIBUTE_BUFFER_ID, d));
  ASSERT_CU(cuPointerGetAttribute(&id2, CU_POINTER_ATTRIBUTE_BUFFER_ID, d2));
  EXPECT_NE(id1, id2);
  ASSERT_CU(cuMemFree(d));
  ASSERT_CU(cuMemFree(d2));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, d));
}

TEST_F(RuntimePointer, HostManagedAndUnknown) {
  void* h = nullptr;
  ASSERT_CU(cuMemAllocHost(&h, 64));
  unsigned type = 0;
  ASSERT_CU(cuPointerGetAttribute(&type, CU_POINTER_ATTRIBUTE_MEMORY_TYPE, reinterpret_cast<CUdeviceptr>(h)));
  EXPECT_EQ(static_cast<unsigned>(CU_MEMORYTYPE_HOST), type);
  CUdeviceptr dp = 0;
  ASSERT_CU(cuPointerGetAttribute(&dp, CU_POINTER_ATTRIBUTE_DEVICE_POINTER, reinterpret_cast<CUdeviceptr>(h)));
  EXPECT_EQ(reinterpret_cast<CUdeviceptr>(h), dp);
  ASSERT_CU(cuMemFreeHost(h));

  CUdeviceptr m = 0;
  ASSERT_CU(cuMemAllocManaged(&m, 64, CU_MEM_ATTACH_GLOBAL));
  int managed = 0;
  ASSERT_CU(cuPointerGetAttribute(&managed, CU_POINTER_ATTRIBUTE_IS_MANAGED, m));
  EXPECT_EQ(1, managed);
  void* hp = nullptr;
  ASSERT_CU(cuPointerGetAttribute(&hp, CU_POINTER_ATTRIBUTE_HOST_POINTER, m));
  EXPECT_EQ(reinterpret_cast<void*>(m), hp);

  // The plural form answers for unknown memory with zeros ("unregistered").
  int local = 0;
  CUpointer_attribute attrs[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_CONTEXT,
                                 CU_POINTER_ATTRIBUTE_IS_MANAGED};
  unsigned t = 99;
  CUcontext c = reinterpret_cast<CUcontext>(1);
  int im = 99;
  void* data[] = {&t, &c, &im};
  ASSERT_CU(cuPointerGetAttributes(3, attrs, data, reinterpret_cast<CUdeviceptr>(&local)));
  EXPECT_EQ(0u, t);
  EXPECT_EQ(nullptr, c);
  EXPECT_EQ(0, im);
  ASSERT_CU(cuPointerGetAttributes(3, attrs, data, m));
  EXPECT_EQ(static_cast<unsigned>(CU_MEMORYTYPE_DEVICE), t);
  EXPECT_EQ(ctx_, c);
  EXPECT_EQ(1, im);
  ASSERT_CU(cuMemFree(m));
}
