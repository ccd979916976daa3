// CUDA arrays, texture and surface objects: descriptors, 2D copies in and out of an array, a
// kernel fetching through a texture object (point and linear filtering) and one updating the
// array through a surface object, and the refusals of bad descriptors.
#include <cstring>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using TextureTest = DiffTest;

CUDA_MEMCPY2D host_to_array(const float* src, CUarray a, size_t w, size_t h) {
  CUDA_MEMCPY2D c;
  std::memset(&c, 0, sizeof c);
  c.srcMemoryType = CU_MEMORYTYPE_HOST;
  c.srcHost = src;
  c.srcPitch = w * 4;
  c.dstMemoryType = CU_MEMORYTYPE_ARRAY;
  c.dstArray = a;
  c.WidthInBytes = w * 4;
  c.Height = h;
  return c;
}

TEST_F(TextureTest, ArrayTextureAndSurface) {
  constexpr size_t w = 4, h = 3;
  CUDA_ARRAY3D_DESCRIPTOR d;
  std::memset(&d, 0, sizeof d);
  d.Width = w;
  d.Height = h;
  d.Format = CU_AD_FORMAT_FLOAT;
  d.NumChannels = 1;
  d.Flags = CUDA_ARRAY3D_SURFACE_LDST;
  CUarray a = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuArray3DCreate(&a, &d));
  CUDA_ARRAY3D_DESCRIPTOR back;
  EXPECT_CU(CUDA_SUCCESS, api().cuArray3DGetDescriptor(&back, a));
  EXPECT_SAME_VALUE(w, back.Width);
  EXPECT_SAME_VALUE(h, back.Height);
  EXPECT_SAME_VALUE(CU_AD_FORMAT_FLOAT, back.Format);
  CUDA_ARRAY_DESCRIPTOR d2;
  EXPECT_CU(CUDA_SUCCESS, api().cuArrayGetDescriptor(&d2, a));
  EXPECT_SAME_VALUE(1, d2.NumChannels);

  std::vector<float> v(w * h);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i * i);
  CUDA_MEMCPY2D in = host_to_array(v.data(), a, w, h);
  ASSERT_CU(CUDA_SUCCESS, api().cuMemcpy2D(&in));
  std::vector<float> out(w * h, -1.0f);
  CUDA_MEMCPY2D o;
  std::memset(&o, 0, sizeof o);
  o.srcMemoryType = CU_MEMORYTYPE_ARRAY;
  o.srcArray = a;
  o.dstMemoryType = CU_MEMORYTYPE_HOST;
  o.dstHost = out.data();
  o.dstPitch = w * 4;
  o.WidthInBytes = w * 4;
  o.Height = h;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemcpy2D(&o));
  EXPECT_SAME_VALUE(v[7], out[7]);
  EXPECT_SAME_VALUE(v[11], out[11]);

  CUDA_RESOURCE_DESC rd;
  std::memset(&rd, 0, sizeof rd);
  rd.resType = CU_RESOURCE_TYPE_ARRAY;
  rd.res.array.hArray = a;
  CUDA_TEXTURE_DESC td;
  std::memset(&td, 0, sizeof td);
  td.addressMode[0] = td.addressMode[1] = CU_TR_ADDRESS_MODE_CLAMP;
  td.filterMode = CU_TR_FILTER_MODE_POINT;
  CUtexObject point = 0, linear = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuTexObjectCreate(&point, &rd, &td, nullptr));
  td.filterMode = CU_TR_FILTER_MODE_LINEAR;
  ASSERT_CU(CUDA_SUCCESS, api().cuTexObjectCreate(&linear, &rd, &td, nullptr));
  CUDA_RESOURCE_DESC got;
  EXPECT_CU(CUDA_SUCCESS, api().cuTexObjectGetResourceDesc(&got, point));
  EXPECT_SAME_VALUE(CU_RESOURCE_TYPE_ARRAY, got.resType);

  CUmodule mod = load_ptx("texture.ptx");
  ASSERT_NE(nullptr, mod);
  CUfunction fetch = function(mod, "fetch2d"), add_one = function(mod, "surf_add_one");
  ASSERT_NE(nullptr, fetch);
  ASSERT_NE(nullptr, add_one);
  CUdeviceptr res = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&res, 16));
  float r[4] = {};
  auto run = [&](CUtexObject t, float x, float y) {
    void* params[] = {&t, &res, &x, &y};
    EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(fetch, 1, 1, 1, 1, 1, 1, 0, nullptr, params, nullptr));
    EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(r, res, 16));
  };
  run(point, 1.5f, 2.5f);                // texel (1, 2)
  EXPECT_SAME_VALUE(v[2 * w + 1], r[0]);
  run(point, 9.0f, -3.0f);               // clamped to texel (3, 0)
  EXPECT_SAME_VALUE(v[3], r[0]);
  run(linear, 2.0f, 1.5f);               // halfway between texels (1, 1) and (2, 1)
  EXPECT_SAME_VALUE((v[w + 1] + v[w + 2]) / 2, r[0]);

  CUsurfObject s = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuSurfObjectCreate(&s, &rd));
  unsigned row = 1;
  void* sp[] = {&s, &row};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(add_one, 1, 1, 1, w, 1, 1, 0, nullptr, sp, nullptr));
  ASSERT_CU(CUDA_SUCCESS, api().cuMemcpy2D(&o));
  EXPECT_SAME_VALUE(v[w + 3] + 1, out[w + 3]);
  EXPECT_SAME_VALUE(v[2 * w], out[2 * w]);

  EXPECT_CU(CUDA_SUCCESS, api().cuSurfObjectDestroy(s));
  EXPECT_CU(CUDA_SUCCESS, api().cuTexObjectDestroy(point));
  EXPECT_CU(CUDA_SUCCESS, api().cuTexObjectDestroy(linear));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(res));
  EXPECT_CU(CUDA_SUCCESS, api().cuArrayDestroy(a));
}

TEST_F(TextureTest, LinearCopiesOfA1DArray) {
  CUDA_ARRAY_DESCRIPTOR d;
  std::memset(&d, 0, sizeof d);
  d.Width = 64;
  d.Format = CU_AD_FORMAT_UNSIGNED_INT32;
  d.NumChannels = 1;
  CUarray a = nullptr, b = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuArrayCreate(&a, &d));
  ASSERT_CU(CUDA_SUCCESS, api().cuArrayCreate(&b, &d));
  std::vector<unsigned> v(64), back(64, 0);
  for (unsigned i = 0; i < 64; ++i) v[i] = i * 3 + 1;
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyHtoA(a, 0, v.data(), 256));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyAtoA(b, 16, a, 32, 40));  // elements 8..17 to 4..13
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyAtoH(back.data(), b, 16, 40));
  EXPECT_SAME_VALUE(v[8], back[0]);
  EXPECT_SAME_VALUE(v[17], back[9]);
  CUdeviceptr dp = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&dp, 256));
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyAtoD(dp, a, 100, 12));
  unsigned three[3] = {};
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(three, dp, 12));
  EXPECT_SAME_VALUE(v[25], three[0]);
  EXPECT_SAME_VALUE(v[27], three[2]);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpyHtoA(a, 200, v.data(), 64)) << "past the array's end";
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(dp));
  EXPECT_CU(CUDA_SUCCESS, api().cuArrayDestroy(a));
  EXPECT_CU(CUDA_SUCCESS, api().cuArrayDestroy(b));
}

TEST_F(TextureTest, BadDescriptorsAreRefused) {
  CUDA_ARRAY3D_DESCRIPTOR d;
  std::memset(&d, 0, sizeof d);
  d.Width = 8;
  d.Height = 4;
  d.Format = CU_AD_FORMAT_FLOAT;
  d.NumChannels = 3;  // 1, 2 or 4
  CUarray a = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuArray3DCreate(&a, &d));
  d.NumChannels = 1;
  d.Width = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuArray3DCreate(&a, &d));
  d.Width = 8;
  ASSERT_CU(CUDA_SUCCESS, api().cuArray3DCreate(&a, &d));
  // A surface needs CUDA_ARRAY3D_SURFACE_LDST.
  CUDA_RESOURCE_DESC rd;
  std::memset(&rd, 0, sizeof rd);
  rd.resType = CU_RESOURCE_TYPE_ARRAY;
  rd.res.array.hArray = a;
  CUsurfObject s = 0;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuSurfObjectCreate(&s, &rd));
  // A copy box wider than the array's rows is refused (rows never wrap). The host buffer holds
  // every box described below (9 x 4 and 8 x 5 floats): only the array side is out of range.
  std::vector<float> v(9 * 5);
  CUDA_MEMCPY2D c = host_to_array(v.data(), a, 9, 4);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpy2D(&c));
  c = host_to_array(v.data(), a, 8, 5);
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMemcpy2D(&c));
  EXPECT_CU(CUDA_SUCCESS, api().cuArrayDestroy(a));
}

// Ordinary arrays have no deferred-mapping memory requirements and no sparse layout: the driver
// answers CUDA_ERROR_INVALID_VALUE (cuda.h). Resource views: a format of the same texel size is
// accepted and read back; another texel size or a level range past the array is refused.
TEST_F(TextureTest, MemoryRequirementsSparsePropertiesAndViews) {
  CUDA_ARRAY3D_DESCRIPTOR d;
  std::memset(&d, 0, sizeof d);
  d.Width = 8;
  d.Height = 4;
  d.Format = CU_AD_FORMAT_FLOAT;
  d.NumChannels = 1;
  CUarray a = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuArray3DCreate(&a, &d));
  CUmipmappedArray m = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuMipmappedArrayCreate(&m, &d, 3));
  CUdevice dev = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuCtxGetDevice(&dev));
  CUDA_ARRAY_MEMORY_REQUIREMENTS req;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuArrayGetMemoryRequirements(&req, a, dev));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMipmappedArrayGetMemoryRequirements(&req, m, dev));
  CUDA_ARRAY_SPARSE_PROPERTIES sp;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuArrayGetSparseProperties(&sp, a));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuMipmappedArrayGetSparseProperties(&sp, m));

  CUDA_RESOURCE_DESC rd;
  std::memset(&rd, 0, sizeof rd);
  rd.resType = CU_RESOURCE_TYPE_ARRAY;
  rd.res.array.hArray = a;
  CUDA_TEXTURE_DESC td;
  std::memset(&td, 0, sizeof td);
  CUDA_RESOURCE_VIEW_DESC v;
  std::memset(&v, 0, sizeof v);
  v.format = CU_RES_VIEW_FORMAT_UINT_1X32;
  v.width = 8;
  v.height = 4;
  CUtexObject t = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuTexObjectCreate(&t, &rd, &td, &v));
  CUDA_RESOURCE_VIEW_DESC back;
  std::memset(&back, 0, sizeof back);
  EXPECT_CU(CUDA_SUCCESS, api().cuTexObjectGetResourceViewDesc(&back, t));
  EXPECT_SAME_VALUE(CU_RES_VIEW_FORMAT_UINT_1X32, back.format);
  EXPECT_CU(CUDA_SUCCESS, api().cuTexObjectDestroy(t));
  v.format = CU_RES_VIEW_FORMAT_UINT_1X16;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuTexObjectCreate(&t, &rd, &td, &v)) << "another texel size";
  rd.resType = CU_RESOURCE_TYPE_MIPMAPPED_ARRAY;
  rd.res.mipmap.hMipmappedArray = m;
  v.format = CU_RES_VIEW_FORMAT_NONE;
  v.firstMipmapLevel = 1;
  v.lastMipmapLevel = 2;
  ASSERT_CU(CUDA_SUCCESS, api().cuTexObjectCreate(&t, &rd, &td, &v));
  EXPECT_CU(CUDA_SUCCESS, api().cuTexObjectDestroy(t));
  v.lastMipmapLevel = 3;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuTexObjectCreate(&t, &rd, &td, &v)) << "past the last level";
  EXPECT_CU(CUDA_SUCCESS, api().cuMipmappedArrayDestroy(m));
  EXPECT_CU(CUDA_SUCCESS, api().cuArrayDestroy(a));
}

}  // namespace
}  // namespace diff
