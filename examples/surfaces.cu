// surfaces: surface objects over CUDA arrays written and read by kernels (surf1D/2D/3D and
// 2D-layered reads and writes, float and uchar4 elements, the clamp and zero boundary modes),
// with the arrays filled and read back through the array sides of cudaMemcpy2D/3D, and a
// texture object reading what a kernel wrote through a surface. Checked against values computed
// on the host.
//
// Build: nvcc -o surfaces surfaces.cu
// Run:   LD_LIBRARY_PATH=build/emulator ./surfaces
#include "check.h"

#include <cstring>
#include <vector>

__global__ void write2d(cudaSurfaceObject_t s, int w, int h) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < w && y < h) surf2Dwrite(static_cast<float>(x * 100 + y), s, x * 4, y);
}

// out = in + 1 through two surfaces, and reads one column beyond the edge in clamp and zero modes.
__global__ void add_one(cudaSurfaceObject_t in, cudaSurfaceObject_t out, float* edge, int w, int h) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < w && y < h) {
    float v;
    surf2Dread(&v, in, x * 4, y);
    surf2Dwrite(v + 1.0f, out, x * 4, y);
  }
  if (x == 0 && y < h) {
    float c, z;
    surf2Dread(&c, in, w * 4, y, cudaBoundaryModeClamp);
    surf2Dread(&z, in, w * 4, y, cudaBoundaryModeZero);
    edge[2 * y] = c;
    edge[2 * y + 1] = z;
  }
}

__global__ void rgba(cudaSurfaceObject_t s, int w, int h) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x, y = blockIdx.y * blockDim.y + threadIdx.y;
  if (x < w && y < h) {
    uchar4 c;
    surf2Dread(&c, s, x * 4, y);
    surf2Dwrite(make_uchar4(c.w, c.z, c.y, c.x), s, x * 4, y);  // reverse the channels in place
  }
}

__global__ void volume(cudaSurfaceObject_t s3, cudaSurfaceObject_t layered, cudaSurfaceObject_t line, int w, int h,
                       int d) {
  const int x = threadIdx.x, y = threadIdx.y, z = threadIdx.z;
  if (x >= w || y >= h || z >= d) return;
  const float v = static_cast<float>(x + 10 * y + 100 * z);
  surf3Dwrite(v, s3, x * 4, y, z);
  surf2DLayeredwrite(-v, layered, x * 4, y, z);
  if (y == 0 && z == 0) surf1Dwrite(v * 2, line, x * 4);
}

__global__ void through_texture(cudaTextureObject_t t, float* out, int w, int h) {
  const int x = threadIdx.x, y = threadIdx.y;
  if (x < w && y < h) out[y * w + x] = tex2D<float>(t, x + 0.5f, y + 0.5f);
}

cudaSurfaceObject_t make_surf(cudaArray_t a) {
  cudaResourceDesc rd;
  std::memset(&rd, 0, sizeof rd);
  rd.resType = cudaResourceTypeArray;
  rd.res.array.array = a;
  cudaSurfaceObject_t s = 0;
  CHECK(cudaCreateSurfaceObject(&s, &rd));
  return s;
}

int main() {
  const int w = 19, h = 11;
  const cudaChannelFormatDesc f1 = cudaCreateChannelDesc<float>();
  cudaArray_t a, b;
  CHECK(cudaMallocArray(&a, &f1, w, h, cudaArraySurfaceLoadStore));
  CHECK(cudaMallocArray(&b, &f1, w, h, cudaArraySurfaceLoadStore));
  cudaSurfaceObject_t sa = make_surf(a), sb = make_surf(b);
  const dim3 block(8, 8), grid((w + 7) / 8, (h + 7) / 8);
  write2d<<<grid, block>>>(sa, w, h);
  float* edge = nullptr;
  CHECK(cudaMalloc(&edge, 2 * h * sizeof(float)));
  add_one<<<grid, block>>>(sa, sb, edge, w, h);
  CHECK(cudaGetLastError());
  std::vector<float> got(w * h), e(2 * h);
  CHECK(cudaMemcpy2DFromArray(got.data(), w * 4, b, 0, 0, w * 4, h, cudaMemcpyDeviceToHost));
  CHECK(cudaMemcpy(e.data(), edge, e.size() * 4, cudaMemcpyDeviceToHost));
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x)
      if (got[y * w + x] != x * 100 + y + 1.0f)
        example_fail("surface 2D (%d, %d): got %g, expected %g", x, y, got[y * w + x], x * 100 + y + 1.0f);
    if (e[2 * y] != (w - 1) * 100 + y) example_fail("clamp read at row %d: got %g", y, e[2 * y]);
    if (e[2 * y + 1] != 0.0f) example_fail("zero read at row %d: got %g", y, e[2 * y + 1]);
  }
  // The array a kernel wrote through a surface, read by a texture object (array -> array copy first).
  CHECK(cudaMemcpy2DArrayToArray(a, 0, 0, b, 0, 0, w * 4, h, cudaMemcpyDeviceToDevice));
  {
    cudaResourceDesc rd;
    std::memset(&rd, 0, sizeof rd);
    rd.resType = cudaResourceTypeArray;
    rd.res.array.array = a;
    cudaTextureDesc td;
    std::memset(&td, 0, sizeof td);
    td.filterMode = cudaFilterModePoint;
    td.readMode = cudaReadModeElementType;
    cudaTextureObject_t t = 0;
    CHECK(cudaCreateTextureObject(&t, &rd, &td, nullptr));
    float* out = nullptr;
    CHECK(cudaMalloc(&out, w * h * 4));
    through_texture<<<1, dim3(w, h)>>>(t, out, w, h);
    CHECK(cudaMemcpy(got.data(), out, w * h * 4, cudaMemcpyDeviceToHost));
    for (int i = 0; i < w * h; ++i)
      if (got[i] != (i % w) * 100 + i / w + 1.0f) example_fail("texture over the surface's array at %d: %g", i, got[i]);
    CHECK(cudaDestroyTextureObject(t));
    CHECK(cudaFree(out));
  }
  CHECK(cudaDestroySurfaceObject(sa));
  CHECK(cudaDestroySurfaceObject(sb));
  CHECK(cudaFreeArray(a));
  CHECK(cudaFreeArray(b));
  CHECK(cudaFree(edge));

  // uchar4 elements, in place.
  {
    const cudaChannelFormatDesc u4 = cudaCreateChannelDesc<uchar4>();
    std::vector<uchar4> px(w * h);
    for (int i = 0; i < w * h; ++i)
      px[i] = make_uchar4(static_cast<unsigned char>(i), static_cast<unsigned char>(i * 3), static_cast<unsigned char>(i * 7), 9);
    cudaArray_t c;
    CHECK(cudaMallocArray(&c, &u4, w, h, cudaArraySurfaceLoadStore));
    CHECK(cudaMemcpy2DToArray(c, 0, 0, px.data(), w * 4, w * 4, h, cudaMemcpyHostToDevice));
    cudaSurfaceObject_t sc = make_surf(c);
    rgba<<<grid, block>>>(sc, w, h);
    std::vector<uchar4> back(w * h);
    CHECK(cudaMemcpy2DFromArray(back.data(), w * 4, c, 0, 0, w * 4, h, cudaMemcpyDeviceToHost));
    for (int i = 0; i < w * h; ++i)
      if (back[i].x != px[i].w || back[i].y != px[i].z || back[i].z != px[i].y || back[i].w != px[i].x)
        example_fail("uchar4 surface at %d", i);
    CHECK(cudaDestroySurfaceObject(sc));
    CHECK(cudaFreeArray(c));
  }

  // 3D, 2D layered and 1D surfaces, read back with cudaMemcpy3D.
  {
    const int vw = 6, vh = 4, vd = 3;
    cudaArray_t v3, vl, v1;
    CHECK(cudaMalloc3DArray(&v3, &f1, make_cudaExtent(vw, vh, vd), cudaArraySurfaceLoadStore));
    CHECK(cudaMalloc3DArray(&vl, &f1, make_cudaExtent(vw, vh, vd), cudaArraySurfaceLoadStore | cudaArrayLayered));
    CHECK(cudaMallocArray(&v1, &f1, vw, 0, cudaArraySurfaceLoadStore));
    cudaSurfaceObject_t s3 = make_surf(v3), sl = make_surf(vl), s1 = make_surf(v1);
    volume<<<1, dim3(vw, vh, vd)>>>(s3, sl, s1, vw, vh, vd);
    CHECK(cudaGetLastError());
    for (int k = 0; k < 2; ++k) {
      std::vector<float> host(vw * vh * vd);
      cudaMemcpy3DParms p;
      std::memset(&p, 0, sizeof p);
      p.srcArray = k == 0 ? v3 : vl;
      p.dstPtr = make_cudaPitchedPtr(host.data(), vw * 4, vw, vh);
      p.extent = make_cudaExtent(vw, vh, vd);
      p.kind = cudaMemcpyDeviceToHost;
      CHECK(cudaMemcpy3D(&p));
      for (int z = 0; z < vd; ++z)
        for (int y = 0; y < vh; ++y)
          for (int x = 0; x < vw; ++x) {
            const float want = (k == 0 ? 1.0f : -1.0f) * (x + 10 * y + 100 * z);
            if (host[(z * vh + y) * vw + x] != want)
              example_fail("%s surface at (%d, %d, %d): got %g, expected %g", k == 0 ? "3D" : "layered", x, y, z,
                           host[(z * vh + y) * vw + x], want);
          }
    }
    std::vector<float> line(vw);
    CHECK(cudaMemcpy2DFromArray(line.data(), vw * 4, v1, 0, 0, vw * 4, 1, cudaMemcpyDeviceToHost));
    for (int x = 0; x < vw; ++x)
      if (line[x] != 2.0f * x) example_fail("1D surface at %d: got %g", x, line[x]);
    CHECK(cudaDestroySurfaceObject(s3));
    CHECK(cudaDestroySurfaceObject(sl));
    CHECK(cudaDestroySurfaceObject(s1));
    CHECK(cudaFreeArray(v3));
    CHECK(cudaFreeArray(vl));
    CHECK(cudaFreeArray(v1));
  }
  return example_pass();
}
