// Resource views on cuTexObjectCreate and the array memory-requirement / sparse-property calls
// (emulator/runtime/src/texobj.cc, array.cc): what is accepted, what is invalid, and what is
// refused as not emulated (CUDA_ERROR_NOT_SUPPORTED). The texels a view reads are checked by
// examples/texture_extras.cu.
#include "test_util.h"

#include <cstring>

namespace {

using RuntimeTextureView = RuntimeTest;

CUDA_ARRAY3D_DESCRIPTOR desc(size_t w, size_t h, size_t d, unsigned flags) {
  CUDA_ARRAY3D_DESCRIPTOR a;
  std::memset(&a, 0, sizeof a);
  a.Width = w;
  a.Height = h;
  a.Depth = d;
  a.Format = CU_AD_FORMAT_FLOAT;
  a.NumChannels = 1;
  a.Flags = flags;
  return a;
}

CUDA_RESOURCE_DESC array_res(CUarray a) {
  CUDA_RESOURCE_DESC r;
  std::memset(&r, 0, sizeof r);
  r.resType = CU_RESOURCE_TYPE_ARRAY;
  r.res.array.hArray = a;
  return r;
}

CUDA_RESOURCE_VIEW_DESC view(CUresourceViewFormat f, size_t w, size_t h) {
  CUDA_RESOURCE_VIEW_DESC v;
  std::memset(&v, 0, sizeof v);
  v.format = f;
  v.width = w;
  v.height = h;
  return v;
}

TEST_F(RuntimeTextureView, ViewsAreCheckedAgainstTheResource) {
  CUarray a = nullptr, cube = nullptr;
  const CUDA_ARRAY3D_DESCRIPTOR d = desc(8, 4, 0, 0);
  ASSERT_CU(cuArray3DCreate(&a, &d));
  const CUDA_ARRAY3D_DESCRIPTOR c = desc(4, 4, 12, CUDA_ARRAY3D_CUBEMAP | CUDA_ARRAY3D_LAYERED);
  ASSERT_CU(cuArray3DCreate(&cube, &c));
  CUDA_TEXTURE_DESC td;
  std::memset(&td, 0, sizeof td);
  CUtexObject t = 0;
  CUDA_RESOURCE_DESC r = array_res(a);

  CUDA_RESOURCE_VIEW_DESC v = view(CU_RES_VIEW_FORMAT_SINT_1X32, 8, 4);
  ASSERT_CU(cuTexObjectCreate(&t, &r, &td, &v));
  CUDA_RESOURCE_VIEW_DESC back;
  ASSERT_CU(cuTexObjectGetResourceViewDesc(&back, t));
  EXPECT_EQ(back.format, CU_RES_VIEW_FORMAT_SINT_1X32);
  ASSERT_CU(cuTexObjectDestroy(t));
  // Linear filtering needs a texture read as floats: the view's integer format decides.
  td.filterMode = CU_TR_FILTER_MODE_LINEAR;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &r, &td, &v));
  td.filterMode = CU_TR_FILTER_MODE_POINT;

  v = view(CU_RES_VIEW_FORMAT_FLOAT_2X16, 8, 4);  // 4 bytes as two halves
  ASSERT_CU(cuTexObjectCreate(&t, &r, &td, &v));
  ASSERT_CU(cuTexObjectDestroy(t));
  v = view(CU_RES_VIEW_FORMAT_UINT_2X32, 8, 4);  // 8 bytes: another texel size
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &r, &td, &v));
  v = view(CU_RES_VIEW_FORMAT_UNSIGNED_BC1, 8, 4);  // block compressed: not emulated
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED, cuTexObjectCreate(&t, &r, &td, &v));
  v = view(CU_RES_VIEW_FORMAT_NONE, 2, 1);  // another size: only block-compressed views have one
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED, cuTexObjectCreate(&t, &r, &td, &v));
  v = view(CU_RES_VIEW_FORMAT_NONE, 0, 0);
  v.lastMipmapLevel = 1;  // a plain array has level 0 only
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &r, &td, &v));
  v.lastMipmapLevel = 0;
  v.lastLayer = 1;  // and no layers
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &r, &td, &v));
  v.lastLayer = 0;
  v.reserved[3] = 1;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &r, &td, &v));

  // A cubemap array: whole cubes only (faces 6..11 is the second cube).
  r = array_res(cube);
  v = view(CU_RES_VIEW_FORMAT_NONE, 0, 0);
  v.firstLayer = 6;
  v.lastLayer = 11;
  ASSERT_CU(cuTexObjectCreate(&t, &r, &td, &v));
  ASSERT_CU(cuTexObjectDestroy(t));
  v.depth = 6;  // the view's face count, or the array's (12), may be given as its depth
  ASSERT_CU(cuTexObjectCreate(&t, &r, &td, &v));
  ASSERT_CU(cuTexObjectDestroy(t));
  v.depth = 12;
  ASSERT_CU(cuTexObjectCreate(&t, &r, &td, &v));
  ASSERT_CU(cuTexObjectDestroy(t));
  v.depth = 5;
  EXPECT_EQ(CUDA_ERROR_NOT_SUPPORTED, cuTexObjectCreate(&t, &r, &td, &v));
  v.depth = 0;
  v.lastLayer = 8;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &r, &td, &v));
  v.firstLayer = 6;
  v.lastLayer = 17;  // past the array
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &r, &td, &v));

  // Views apply to arrays only.
  CUdeviceptr p = 0;
  ASSERT_CU(cuMemAlloc(&p, 256));
  CUDA_RESOURCE_DESC lin;
  std::memset(&lin, 0, sizeof lin);
  lin.resType = CU_RESOURCE_TYPE_LINEAR;
  lin.res.linear.devPtr = p;
  lin.res.linear.format = CU_AD_FORMAT_FLOAT;
  lin.res.linear.numChannels = 1;
  lin.res.linear.sizeInBytes = 256;
  v = view(CU_RES_VIEW_FORMAT_NONE, 0, 0);
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuTexObjectCreate(&t, &lin, &td, &v));
  ASSERT_CU(cuTexObjectCreate(&t, &lin, &td, nullptr));
  ASSERT_CU(cuTexObjectDestroy(t));
  ASSERT_CU(cuMemFree(p));
  ASSERT_CU(cuArrayDestroy(a));
  ASSERT_CU(cuArrayDestroy(cube));
}

TEST_F(RuntimeTextureView, MemoryRequirementsAndSparsePropertiesOfOrdinaryArrays) {
  CUarray a = nullptr;
  const CUDA_ARRAY3D_DESCRIPTOR d = desc(8, 4, 0, 0);
  ASSERT_CU(cuArray3DCreate(&a, &d));
  CUmipmappedArray m = nullptr;
  ASSERT_CU(cuMipmappedArrayCreate(&m, &d, 2));
  CUarray level = nullptr;
  ASSERT_CU(cuMipmappedArrayGetLevel(&level, m, 1));
  CUDA_ARRAY_MEMORY_REQUIREMENTS req;
  CUDA_ARRAY_SPARSE_PROPERTIES sp;
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuArrayGetMemoryRequirements(&req, a, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_DEVICE, cuArrayGetMemoryRequirements(&req, a, 99));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuArrayGetMemoryRequirements(nullptr, a, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMipmappedArrayGetMemoryRequirements(&req, m, 0));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuArrayGetSparseProperties(&sp, a));
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuArrayGetSparseProperties(&sp, level));  // a level: as the driver
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, cuMipmappedArrayGetSparseProperties(&sp, m));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE,
            cuArrayGetSparseProperties(&sp, reinterpret_cast<CUarray>(m)));  // not an array
  ASSERT_CU(cuArrayDestroy(a));
  EXPECT_EQ(CUDA_ERROR_INVALID_HANDLE, cuArrayGetMemoryRequirements(&req, a, 0));  // destroyed
  ASSERT_CU(cuMipmappedArrayDestroy(m));
}

}  // namespace
