// cuArray*, cuArray3D*, cuMipmappedArray* and the linear-offset array copies
// (cuMemcpyAtoH and friends). See array.h.
#include "array.h"

#include "alloc_table.h"
#include "context.h"
#include "copy_engine.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <set>

namespace gpool::emu::rt {
namespace {

std::mutex g_storage_mu;
std::set<uint64_t> g_storage;  // guarded by g_storage_mu

constexpr unsigned kKnownFlags = CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_SURFACE_LDST | CUDA_ARRAY3D_CUBEMAP |
                                 CUDA_ARRAY3D_TEXTURE_GATHER;

// Validates a descriptor (shape rules of cuArray3DCreate) and fills the layout.
CUresult layout(const CUDA_ARRAY3D_DESCRIPTOR& d, Array* a) {
  if (d.Width == 0) return CUDA_ERROR_INVALID_VALUE;
  if (d.NumChannels != 1 && d.NumChannels != 2 && d.NumChannels != 4) return CUDA_ERROR_INVALID_VALUE;
  if (d.Flags & ~(kKnownFlags | CUDA_ARRAY3D_DEPTH_TEXTURE | CUDA_ARRAY3D_COLOR_ATTACHMENT | CUDA_ARRAY3D_SPARSE |
                  CUDA_ARRAY3D_DEFERRED_MAPPING | CUDA_ARRAY3D_VIDEO_ENCODE_DECODE))
    return CUDA_ERROR_INVALID_VALUE;
  if (d.Flags & ~kKnownFlags) {
    log().info("cuArray3DCreate: flags {:#x} (depth, colour attachment, sparse, deferred mapping, video) are not emulated",
               d.Flags);
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  if (!array_format(d.Format, &a->format)) {
    log().info("cuArray3DCreate: array format {:#x} is not emulated", static_cast<unsigned>(d.Format));
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  const bool layered = d.Flags & CUDA_ARRAY3D_LAYERED, cube = d.Flags & CUDA_ARRAY3D_CUBEMAP;
  if (cube) {
    if (d.Width != d.Height) return CUDA_ERROR_INVALID_VALUE;
    if (layered ? (d.Depth == 0 || d.Depth % 6 != 0) : d.Depth != 6) return CUDA_ERROR_INVALID_VALUE;
  } else if (layered) {
    if (d.Depth == 0) return CUDA_ERROR_INVALID_VALUE;
  } else if (d.Height == 0 && d.Depth != 0) {
    return CUDA_ERROR_INVALID_VALUE;  // 1D arrays have no depth
  }
  constexpr uint64_t kMaxDim = 1u << 16;
  if (d.Width > kMaxDim * 2 || d.Height > kMaxDim || d.Depth > kMaxDim) return CUDA_ERROR_INVALID_VALUE;
  a->desc = d;
  a->texel_bytes = exec::tex_format_bytes(a->format) * d.NumChannels;
  a->height = d.Height == 0 ? 1 : static_cast<uint32_t>(d.Height);
  a->depth = d.Depth == 0 ? 1 : static_cast<uint32_t>(d.Depth);
  a->pitch = d.Width * a->texel_bytes;
  a->slice = a->pitch * a->height;
  a->bytes = a->slice * a->depth;
  return CUDA_SUCCESS;
}

CUresult create(const CUDA_ARRAY3D_DESCRIPTOR& d, MipmappedArray* parent, Array** out) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto a = std::make_unique<Array>();
  if (CUresult r = layout(d, a.get()); r != CUDA_SUCCESS) return r;
  uint64_t p = 0;
  if (CUresult r = device_alloc(ctx, ctx->dev->ordinal, a->bytes, AllocKind::Device, 0, nullptr, false, &p);
      r != CUDA_SUCCESS)
    return r;
  a->base = p;
  a->ctx = ctx;
  a->parent = parent;
  {
    std::lock_guard<std::mutex> lock(g_storage_mu);
    g_storage.insert(p);
  }
  registry().add(a.get());
  *out = a.release();
  return CUDA_SUCCESS;
}

void destroy(Array* a) {
  registry().remove(a);
  {
    std::lock_guard<std::mutex> lock(g_storage_mu);
    g_storage.erase(a->base);
  }
  Context* ctx = nullptr;
  if (use_context(nullptr, &ctx) == CUDA_SUCCESS) context_wait_idle(ctx);
  auto al = allocs().find(a->base);
  if (al && al->base == a->base) device_free(a->base);
  delete a;
}

CUresult to_v3(const CUDA_ARRAY_DESCRIPTOR* d, CUDA_ARRAY3D_DESCRIPTOR* out) {
  if (d == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *out = CUDA_ARRAY3D_DESCRIPTOR{};
  out->Width = d->Width;
  out->Height = d->Height;
  out->Format = d->Format;
  out->NumChannels = d->NumChannels;
  return CUDA_SUCCESS;
}

// A byte range [off, off + n) of an array as a checked device address.
CUresult array_range(CUarray h, size_t off, size_t n, uint64_t* addr) {
  Array* a = find_array(h);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (off > a->bytes || n > a->bytes - off) return CUDA_ERROR_INVALID_VALUE;
  *addr = a->base + off;
  return CUDA_SUCCESS;
}

CUresult copy_linear(CUstream s, uint64_t dst, bool dd, uint64_t src, bool sd, size_t n, bool async, const char* what) {
  CopySide d{dst, n, n, false}, sr{src, n, n, false};
  return do_copy(s, d, dd, sr, sd, CopyShape{n, 1, 1}, async, what);
}

}  // namespace

Array* find_array(CUarray h) {
  Array* a = lookup<Array>(h);
  if (a == nullptr) return nullptr;
  auto al = allocs().find(a->base);
  return (al && al->base == a->base) ? a : nullptr;
}

MipmappedArray* find_mipmapped(CUmipmappedArray h) { return lookup<MipmappedArray>(h); }

bool is_array_storage(uint64_t base) {
  std::lock_guard<std::mutex> lock(g_storage_mu);
  return g_storage.count(base) != 0;
}

bool array_format(CUarray_format f, exec::TexFormat* out) {
  switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8: *out = exec::TexFormat::U8; return true;
    case CU_AD_FORMAT_UNSIGNED_INT16: *out = exec::TexFormat::U16; return true;
    case CU_AD_FORMAT_UNSIGNED_INT32: *out = exec::TexFormat::U32; return true;
    case CU_AD_FORMAT_SIGNED_INT8: *out = exec::TexFormat::S8; return true;
    case CU_AD_FORMAT_SIGNED_INT16: *out = exec::TexFormat::S16; return true;
    case CU_AD_FORMAT_SIGNED_INT32: *out = exec::TexFormat::S32; return true;
    case CU_AD_FORMAT_HALF: *out = exec::TexFormat::F16; return true;
    case CU_AD_FORMAT_FLOAT: *out = exec::TexFormat::F32; return true;
    default: return false;
  }
}

exec::TexLevel array_level(const Array& a) {
  exec::TexLevel l;
  l.base = a.base;
  l.width = static_cast<uint32_t>(a.desc.Width);
  l.height = a.height;
  l.depth = (a.desc.Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP)) ? 1 : a.depth;
  l.pitch = a.pitch;
  l.slice = a.slice;
  l.extent = a.bytes;
  return l;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuArray3DCreate_v2(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* d) {
  if (pHandle == nullptr || d == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Array* a = nullptr;
  if (CUresult r = create(*d, nullptr, &a); r != CUDA_SUCCESS) return r;
  *pHandle = reinterpret_cast<CUarray>(a);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuArrayCreate_v2(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR* d) {
  CUDA_ARRAY3D_DESCRIPTOR d3;
  if (CUresult r = to_v3(d, &d3); r != CUDA_SUCCESS) return r;
  return gpool_impl_cuArray3DCreate_v2(pHandle, &d3);
}

extern "C" CUresult gpool_impl_cuArrayDestroy(CUarray h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Array* a = lookup<Array>(h);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (a->parent != nullptr) return CUDA_ERROR_INVALID_VALUE;  // a level of a mipmapped array
  destroy(a);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuArray3DGetDescriptor_v2(CUDA_ARRAY3D_DESCRIPTOR* out, CUarray h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Array* a = find_array(h);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *out = a->desc;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuArrayGetDescriptor_v2(CUDA_ARRAY_DESCRIPTOR* out, CUarray h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Array* a = find_array(h);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  out->Width = a->desc.Width;
  out->Height = a->desc.Height;
  out->Format = a->desc.Format;
  out->NumChannels = a->desc.NumChannels;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMipmappedArrayCreate(CUmipmappedArray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* d,
                                                      unsigned int numLevels) {
  if (pHandle == nullptr || d == nullptr || numLevels == 0 ||
      numLevels > static_cast<unsigned>(gpool::emu::exec::TexDesc::kMaxLevels))
    return CUDA_ERROR_INVALID_VALUE;
  auto m = std::make_unique<MipmappedArray>();
  m->desc = *d;
  const bool layered = d->Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP);
  for (unsigned l = 0; l < numLevels; ++l) {
    CUDA_ARRAY3D_DESCRIPTOR ld = *d;
    ld.Width = std::max<size_t>(d->Width >> l, 1);
    if (d->Height) ld.Height = std::max<size_t>(d->Height >> l, 1);
    if (d->Depth && !layered) ld.Depth = std::max<size_t>(d->Depth >> l, 1);
    if ((l > 0 && ld.Width == 1 && (d->Width >> l) == 0 && (!d->Height || (d->Height >> l) == 0) &&
         (!d->Depth || layered || (d->Depth >> l) == 0))) {
      for (Array* a : m->levels) destroy(a);
      return CUDA_ERROR_INVALID_VALUE;  // more levels than the size allows
    }
    Array* a = nullptr;
    if (CUresult r = create(ld, m.get(), &a); r != CUDA_SUCCESS) {
      for (Array* x : m->levels) destroy(x);
      return r;
    }
    m->levels.push_back(a);
  }
  registry().add(m.get());
  *pHandle = reinterpret_cast<CUmipmappedArray>(m.release());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMipmappedArrayGetLevel(CUarray* pLevel, CUmipmappedArray h, unsigned int level) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (pLevel == nullptr) return CUDA_ERROR_INVALID_VALUE;
  MipmappedArray* m = find_mipmapped(h);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (level >= m->levels.size()) return CUDA_ERROR_INVALID_VALUE;
  *pLevel = reinterpret_cast<CUarray>(m->levels[level]);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMipmappedArrayDestroy(CUmipmappedArray h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  MipmappedArray* m = find_mipmapped(h);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  registry().remove(m);
  for (Array* a : m->levels) destroy(a);
  delete m;
  return CUDA_SUCCESS;
}

// ---- linear-offset copies ----------------------------------------------------

extern "C" CUresult gpool_impl_cuMemcpyHtoA_v2(CUarray dst, size_t off, const void* src, size_t n) {
  uint64_t d = 0;
  if (CUresult r = array_range(dst, off, n, &d); r != CUDA_SUCCESS) return r;
  return copy_linear(nullptr, d, true, reinterpret_cast<uint64_t>(src), false, n, false, "cuMemcpyHtoA");
}
extern "C" CUresult gpool_impl_cuMemcpyHtoAAsync_v2(CUarray dst, size_t off, const void* src, size_t n, CUstream s) {
  uint64_t d = 0;
  if (CUresult r = array_range(dst, off, n, &d); r != CUDA_SUCCESS) return r;
  return copy_linear(s, d, true, reinterpret_cast<uint64_t>(src), false, n, true, "cuMemcpyHtoAAsync");
}
extern "C" CUresult gpool_impl_cuMemcpyAtoH_v2(void* dst, CUarray src, size_t off, size_t n) {
  uint64_t sa = 0;
  if (CUresult r = array_range(src, off, n, &sa); r != CUDA_SUCCESS) return r;
  return copy_linear(nullptr, reinterpret_cast<uint64_t>(dst), false, sa, true, n, false, "cuMemcpyAtoH");
}
extern "C" CUresult gpool_impl_cuMemcpyAtoHAsync_v2(void* dst, CUarray src, size_t off, size_t n, CUstream s) {
  uint64_t sa = 0;
  if (CUresult r = array_range(src, off, n, &sa); r != CUDA_SUCCESS) return r;
  return copy_linear(s, reinterpret_cast<uint64_t>(dst), false, sa, true, n, true, "cuMemcpyAtoHAsync");
}
extern "C" CUresult gpool_impl_cuMemcpyAtoD_v2(CUdeviceptr dst, CUarray src, size_t off, size_t n) {
  uint64_t sa = 0;
  if (CUresult r = array_range(src, off, n, &sa); r != CUDA_SUCCESS) return r;
  return copy_linear(nullptr, dst, true, sa, true, n, false, "cuMemcpyAtoD");
}
extern "C" CUresult gpool_impl_cuMemcpyDtoA_v2(CUarray dst, size_t off, CUdeviceptr src, size_t n) {
  uint64_t d = 0;
  if (CUresult r = array_range(dst, off, n, &d); r != CUDA_SUCCESS) return r;
  return copy_linear(nullptr, d, true, src, true, n, false, "cuMemcpyDtoA");
}
extern "C" CUresult gpool_impl_cuMemcpyAtoA_v2(CUarray dst, size_t doff, CUarray src, size_t soff, size_t n) {
  uint64_t d = 0, sa = 0;
  if (CUresult r = array_range(dst, doff, n, &d); r != CUDA_SUCCESS) return r;
  if (CUresult r = array_range(src, soff, n, &sa); r != CUDA_SUCCESS) return r;
  return copy_linear(nullptr, d, true, sa, true, n, false, "cuMemcpyAtoA");
}

// ---- memory requirements and sparse properties -------------------------------
// The driver answers these only for arrays made with CUDA_ARRAY3D_DEFERRED_MAPPING (memory
// requirements) or CUDA_ARRAY3D_SPARSE (sparse properties), and CUDA_ERROR_INVALID_VALUE for
// every other array. The emulator refuses both flags at creation (no cuMemMapArrayAsync), so
// every array it has gets the driver's CUDA_ERROR_INVALID_VALUE; a handle that is not a live
// array is CUDA_ERROR_INVALID_HANDLE, as in the other array calls.

extern "C" CUresult gpool_impl_cuArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS* out, CUarray h,
                                                            CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  Array* a = find_array(h);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_ERROR_INVALID_VALUE;  // not a deferred-mapping array
}

extern "C" CUresult gpool_impl_cuMipmappedArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS* out,
                                                                     CUmipmappedArray h, CUdevice dev) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  if (find_mipmapped(h) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_ERROR_INVALID_VALUE;  // not a deferred-mapping mipmapped array
}

extern "C" CUresult gpool_impl_cuArrayGetSparseProperties(CUDA_ARRAY_SPARSE_PROPERTIES* out, CUarray h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (find_array(h) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_ERROR_INVALID_VALUE;  // not a sparse array (a mipmap level is refused alike)
}

extern "C" CUresult gpool_impl_cuMipmappedArrayGetSparseProperties(CUDA_ARRAY_SPARSE_PROPERTIES* out,
                                                                    CUmipmappedArray h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (find_mipmapped(h) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  return CUDA_ERROR_INVALID_VALUE;  // not a sparse mipmapped array
}
