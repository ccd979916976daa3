// Shim: CUDA arrays, mipmapped arrays, texture and surface objects, and the copies with an
// array side (cuMemcpy2D/3D and their async forms, cuMemcpyHtoA/AtoH/AtoD/DtoA/AtoA), forwarded
// to the server's hooks (calls.toml 430-439, server/src/worker_texture.cc), which keep the
// handles in the session's tables and charge arrays to the tenant's quota.
//
// The descriptor queries are answered here from what this process sent (the server holds the
// same values). Host sides of array copies are staged through a device allocation of this
// session (a dense image of the rows), so the server only ever copies between its own device
// memory and arrays; such copies are synchronous even in their async form. cuMemcpy3D without
// an array side is a 2D copy per slice.
//
// Thread safety: the local tables are guarded by one mutex; forwarded calls are the session's.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <type_traits>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "oom_report.h"
#include "graph_host_copy.h"
#include "state.h"

using namespace gpool::shim;

extern "C" CUresult gpool_impl_cuMemAlloc_v2(CUdeviceptr*, size_t);
extern "C" CUresult gpool_impl_cuMemFree_v2(CUdeviceptr);
extern "C" CUresult gpool_impl_cuMemcpyHtoD_v2(CUdeviceptr, const void*, size_t);
extern "C" CUresult gpool_impl_cuMemcpyDtoH_v2(void*, CUdeviceptr, size_t);
extern "C" CUresult gpool_impl_cuMemcpy2DAsync_v2(const CUDA_MEMCPY2D*, CUstream);

namespace {

struct TexInfo {
  CUDA_RESOURCE_DESC res{};
  CUDA_TEXTURE_DESC tex{};
  CUDA_RESOURCE_VIEW_DESC view{};
  bool has_view = false;
};

std::mutex g_mu;
std::map<uint64_t, CUDA_ARRAY3D_DESCRIPTOR> g_arrays;  // guarded by g_mu
std::map<uint64_t, TexInfo> g_tex;                     // guarded by g_mu
std::map<uint64_t, CUDA_RESOURCE_DESC> g_surf;         // guarded by g_mu
std::map<uint64_t, CUDA_ARRAY3D_DESCRIPTOR> g_mipmaps; // guarded by g_mu: level 0's descriptor

// Forwards the destroy call `op` for handle `h`, then forgets `h` in `table` (kept when the
// server refuses).
template <typename Table>
CUresult destroy_handle(Op op, uint64_t h, Table& table) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {h};
  Reply r;
  if (CUresult st = Session::instance().sync(op, args, {}, {}, {}, &r); st != CUDA_SUCCESS) return st;
  std::lock_guard<std::mutex> lock(g_mu);
  table.erase(h);
  return CUDA_SUCCESS;
}

// A descriptor query answered from `table`: *out = *field(entry of h). `missing` when h is not in
// the table or `field` gives nullptr (a texture without a view); CUDA_ERROR_INVALID_VALUE for a
// null `out`.
template <typename Table, typename Out, typename Field>
CUresult query_handle(const Table& table, uint64_t h, Out* out, CUresult missing, Field field) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::lock_guard<std::mutex> lock(g_mu);
  const auto it = table.find(h);
  const Out* value = it == table.end() ? nullptr : field(it->second);
  if (value == nullptr) return missing;
  *out = *value;
  return CUDA_SUCCESS;
}

uint64_t fbits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

CUresult create_array(const CUDA_ARRAY3D_DESCRIPTOR& d, CUarray* out) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {d.Width, d.Height, d.Depth, static_cast<uint64_t>(d.Format), d.NumChannels, d.Flags};
  uint64_t h = 0;
  if (CUresult st = Session::instance().sync_value(Op::ArrayCreate, args, {}, h); st != CUDA_SUCCESS) {
    return report_out_of_memory(Session::instance(), "cuArray3DCreate", d.Width * (d.Height ? d.Height : 1), st);
  }
  std::lock_guard<std::mutex> lock(g_mu);
  g_arrays[h] = d;
  *out = reinterpret_cast<CUarray>(h);
  return CUDA_SUCCESS;
}

// One side of a copy as the server takes it: [type, address or array, x, y, z, pitch, height].
struct Side {
  CUmemorytype type;
  uint64_t where;
  uint64_t x, y, z, pitch, height;
  const void* host_src = nullptr;
  void* host_dst = nullptr;
};

bool is_host(CUmemorytype t, CUdeviceptr dev) {
  if (t == CU_MEMORYTYPE_HOST) return true;
  if (t == CU_MEMORYTYPE_UNIFIED) return !find_device_range(dev, nullptr, nullptr);
  return false;
}

// The w x h x d box of a host side (its origin, pitch and slice height; height 0: h) and a
// dense image of it (rows of w bytes): `pack` copies the host rows into `dense` (a source side),
// else `dense` into the host rows (a destination side).
void move_host_rows(const Side& s, char* dense, uint64_t w, uint64_t h, uint64_t d, bool pack) {
  const uint64_t slice = s.height ? s.height : h;
  for (uint64_t z = 0; z < d; ++z) {
    for (uint64_t y = 0; y < h; ++y) {
      const uint64_t at = ((s.z + z) * slice + s.y + y) * s.pitch + s.x;
      char* row = dense + (z * h + y) * w;
      if (pack) std::memcpy(row, static_cast<const char*>(s.host_src) + at, w);
      else std::memcpy(static_cast<char*>(s.host_dst) + at, row, w);
    }
  }
}

// A copy with at least one array side. Host sides go through a dense device staging buffer.
CUresult array_copy(Side src, Side dst, uint64_t w, uint64_t h, uint64_t d, CUstream stream, bool async) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (w == 0 || h == 0 || d == 0) return CUDA_SUCCESS;
  const bool src_host = src.type == CU_MEMORYTYPE_HOST, dst_host = dst.type == CU_MEMORYTYPE_HOST;
  if (src_host && dst_host) return CUDA_ERROR_INVALID_VALUE;
  CUdeviceptr stage = 0;
  const uint64_t bytes = w * h * d;
  if (src_host || dst_host) {
    if (CUresult st = gpool_impl_cuMemAlloc_v2(&stage, bytes); st != CUDA_SUCCESS) return st;
    async = false;
  }
  CUresult st = CUDA_SUCCESS;
  if (src_host) {
    std::vector<char> dense(bytes);
    move_host_rows(src, dense.data(), w, h, d, true);
    st = gpool_impl_cuMemcpyHtoD_v2(stage, dense.data(), bytes);
    src = Side{CU_MEMORYTYPE_DEVICE, stage, 0, 0, 0, w, h};
  }
  const Side real_dst = dst;
  if (dst_host) dst = Side{CU_MEMORYTYPE_DEVICE, stage, 0, 0, 0, w, h};
  if (st == CUDA_SUCCESS) {
    const uint64_t args[] = {static_cast<uint64_t>(src.type), src.where, src.x, src.y, src.z, src.pitch, src.height,
                             static_cast<uint64_t>(dst.type), dst.where, dst.x, dst.y, dst.z, dst.pitch, dst.height,
                             w, h, d, async ? 1u : 0u};
    const HandleRef hs[] = {stream_ref(stream)};
    Reply r;
    st = Session::instance().sync(Op::MemcpyArray, args, hs, {}, {}, &r);
  }
  if (st == CUDA_SUCCESS && dst_host) {
    std::vector<char> dense(bytes);
    st = gpool_impl_cuMemcpyDtoH_v2(dense.data(), stage, bytes);
    if (st == CUDA_SUCCESS) move_host_rows(real_dst, dense.data(), w, h, d, false);
  }
  if (stage != 0) gpool_impl_cuMemFree_v2(stage);
  return st;
}

Side side_of(CUmemorytype type, const void* host, CUdeviceptr dev, CUarray arr, size_t x, size_t y, size_t z,
             size_t pitch, size_t height, bool is_src) {
  Side s{type, 0, x, y, z, pitch, height};
  if (type == CU_MEMORYTYPE_ARRAY) {
    s.where = reinterpret_cast<uint64_t>(arr);
  } else if (is_host(type, dev)) {
    s.type = CU_MEMORYTYPE_HOST;
    const void* base = type == CU_MEMORYTYPE_UNIFIED ? reinterpret_cast<const void*>(dev) : host;
    if (is_src) s.host_src = base;
    else s.host_dst = const_cast<void*>(base);
  } else {
    s.type = CU_MEMORYTYPE_DEVICE;
    s.where = dev;
  }
  return s;
}

// A 2D or 3D copy descriptor with an array side (a 2D one is a box of depth 1 at z 0, whose
// slice height does not matter).
template <typename Copy>
CUresult array_copy_of(const Copy& c, CUstream stream, bool async) {
  uint64_t src_z = 0, src_height = 0, dst_z = 0, dst_height = 0, depth = 1;
  if constexpr (std::is_same_v<Copy, CUDA_MEMCPY3D>) {
    src_z = c.srcZ, src_height = c.srcHeight, dst_z = c.dstZ, dst_height = c.dstHeight, depth = c.Depth;
  }
  const Side s = side_of(c.srcMemoryType, c.srcHost, c.srcDevice, c.srcArray, c.srcXInBytes, c.srcY, src_z,
                         c.srcPitch, src_height, true);
  const Side d = side_of(c.dstMemoryType, c.dstHost, c.dstDevice, c.dstArray, c.dstXInBytes, c.dstY, dst_z,
                         c.dstPitch, dst_height, false);
  return array_copy(s, d, c.WidthInBytes, c.Height, depth, stream, async);
}

CUresult copy3d(const CUDA_MEMCPY3D* p, CUstream stream, bool async) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (p->srcLOD != 0 || p->dstLOD != 0) return CUDA_ERROR_INVALID_VALUE;
  if (async && stream != nullptr) {  // in a capture, one host side: a graph node (graph_host_copy.h)
    if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
    bool recorded = false;
    if (CUresult st = gpool::shim::hostcopy::try_capture(*p, stream, recorded); st != CUDA_SUCCESS || recorded) return st;
  }
  if (p->srcMemoryType == CU_MEMORYTYPE_ARRAY || p->dstMemoryType == CU_MEMORYTYPE_ARRAY) {
    return array_copy_of(*p, stream, async);
  }
  // No array side: one 2D copy per slice.
  if (p->Depth > 1 && (p->srcHeight < p->Height || p->dstHeight < p->Height)) return CUDA_ERROR_INVALID_VALUE;
  for (size_t z = 0; z < p->Depth; ++z) {
    CUDA_MEMCPY2D c;
    std::memset(&c, 0, sizeof c);
    c.srcMemoryType = p->srcMemoryType;
    c.srcHost = p->srcHost;
    c.srcDevice = p->srcDevice;
    c.srcXInBytes = p->srcXInBytes;
    c.srcY = (p->srcZ + z) * p->srcHeight + p->srcY;
    c.srcPitch = p->srcPitch;
    c.dstMemoryType = p->dstMemoryType;
    c.dstHost = p->dstHost;
    c.dstDevice = p->dstDevice;
    c.dstXInBytes = p->dstXInBytes;
    c.dstY = (p->dstZ + z) * p->dstHeight + p->dstY;
    c.dstPitch = p->dstPitch;
    c.WidthInBytes = p->WidthInBytes;
    c.Height = p->Height;
    if (CUresult st = gpool_impl_cuMemcpy2DAsync_v2(&c, stream); st != CUDA_SUCCESS) return st;
  }
  (void)async;
  return CUDA_SUCCESS;
}

// cuMemcpyHtoA / AtoH / AtoD / DtoA / AtoA: a linear byte range of an array (in its row-major
// layout: rows of width x element bytes, then slices) as one copy per row segment.
uint32_t element_bytes(const CUDA_ARRAY3D_DESCRIPTOR& d) {
  switch (d.Format) {
    case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return d.NumChannels;
    case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 2 * d.NumChannels;
    case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 4 * d.NumChannels;
    default: return 0;
  }
}

// `other` is the non-array side: host or device memory, or a second array with its own offset.
CUresult linear_copy(CUarray dst_arr, size_t dst_off, CUarray src_arr, size_t src_off, Side other, size_t n,
                     CUstream stream, bool async) {
  auto row_of = [](CUarray a, uint64_t* row, uint64_t* rows) -> CUresult {
    std::lock_guard<std::mutex> lock(g_mu);
    auto it = g_arrays.find(reinterpret_cast<uint64_t>(a));
    if (it == g_arrays.end()) return CUDA_ERROR_INVALID_HANDLE;
    *row = it->second.Width * element_bytes(it->second);
    *rows = (it->second.Height ? it->second.Height : 1) * (it->second.Depth ? it->second.Depth : 1);
    return *row == 0 ? CUDA_ERROR_INVALID_VALUE : CUDA_SUCCESS;
  };
  uint64_t drow = 0, drows = 0, srow = 0, srows = 0;
  if (dst_arr != nullptr)
    if (CUresult st = row_of(dst_arr, &drow, &drows); st != CUDA_SUCCESS) return st;
  if (src_arr != nullptr)
    if (CUresult st = row_of(src_arr, &srow, &srows); st != CUDA_SUCCESS) return st;
  if ((dst_arr && (dst_off > drow * drows || n > drow * drows - dst_off)) ||
      (src_arr && (src_off > srow * srows || n > srow * srows - src_off)))
    return CUDA_ERROR_INVALID_VALUE;
  for (size_t done = 0; done < n;) {
    size_t len = n - done;
    Side d = other, s = other;
    if (dst_arr) {
      const uint64_t o = dst_off + done;
      len = std::min<uint64_t>(len, drow - o % drow);
      d = Side{CU_MEMORYTYPE_ARRAY, reinterpret_cast<uint64_t>(dst_arr), o % drow, o / drow, 0, drow, 0};
    }
    if (src_arr) {
      const uint64_t o = src_off + done;
      len = std::min<uint64_t>(len, srow - o % srow);
      s = Side{CU_MEMORYTYPE_ARRAY, reinterpret_cast<uint64_t>(src_arr), o % srow, o / srow, 0, srow, 0};
    }
    if (!dst_arr) {
      d.x += done;
      d.pitch = len;
    }
    if (!src_arr) {
      s.x += done;
      s.pitch = len;
    }
    if (CUresult st = array_copy(s, d, len, 1, 1, stream, async); st != CUDA_SUCCESS) return st;
    done += len;
  }
  return CUDA_SUCCESS;
}

Side host_side(const void* p, bool is_src) {
  Side s{CU_MEMORYTYPE_HOST, 0, 0, 0, 0, 0, 0};
  if (is_src) s.host_src = p;
  else s.host_dst = const_cast<void*>(p);
  return s;
}

}  // namespace

extern "C" CUresult gpool_impl_cuMemcpyHtoA_v2(CUarray dst, size_t off, const void* src, size_t n) {
  return linear_copy(dst, off, nullptr, 0, host_side(src, true), n, nullptr, false);
}
extern "C" CUresult gpool_impl_cuMemcpyHtoAAsync_v2(CUarray dst, size_t off, const void* src, size_t n, CUstream s) {
  return linear_copy(dst, off, nullptr, 0, host_side(src, true), n, s, true);
}
extern "C" CUresult gpool_impl_cuMemcpyAtoH_v2(void* dst, CUarray src, size_t off, size_t n) {
  return linear_copy(nullptr, 0, src, off, host_side(dst, false), n, nullptr, false);
}
extern "C" CUresult gpool_impl_cuMemcpyAtoHAsync_v2(void* dst, CUarray src, size_t off, size_t n, CUstream s) {
  return linear_copy(nullptr, 0, src, off, host_side(dst, false), n, s, true);
}
extern "C" CUresult gpool_impl_cuMemcpyAtoD_v2(CUdeviceptr dst, CUarray src, size_t off, size_t n) {
  return linear_copy(nullptr, 0, src, off, Side{CU_MEMORYTYPE_DEVICE, dst, 0, 0, 0, 0, 0}, n, nullptr, false);
}
extern "C" CUresult gpool_impl_cuMemcpyDtoA_v2(CUarray dst, size_t off, CUdeviceptr src, size_t n) {
  return linear_copy(dst, off, nullptr, 0, Side{CU_MEMORYTYPE_DEVICE, src, 0, 0, 0, 0, 0}, n, nullptr, false);
}
extern "C" CUresult gpool_impl_cuMemcpyAtoA_v2(CUarray dst, size_t doff, CUarray src, size_t soff, size_t n) {
  return linear_copy(dst, doff, src, soff, Side{}, n, nullptr, false);
}

// Called by memcpy_2d.cc for a 2D copy with an array side.
CUresult gpool_shim_array_copy2d(const CUDA_MEMCPY2D* c, CUstream stream, bool async) {
  return array_copy_of(*c, stream, async);
}

extern "C" CUresult gpool_impl_cuArray3DCreate_v2(CUarray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* d) {
  if (pHandle == nullptr || d == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return create_array(*d, pHandle);
}

extern "C" CUresult gpool_impl_cuArrayCreate_v2(CUarray* pHandle, const CUDA_ARRAY_DESCRIPTOR* d) {
  if (pHandle == nullptr || d == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUDA_ARRAY3D_DESCRIPTOR d3;
  std::memset(&d3, 0, sizeof d3);
  d3.Width = d->Width;
  d3.Height = d->Height;
  d3.Format = d->Format;
  d3.NumChannels = d->NumChannels;
  return create_array(d3, pHandle);
}

extern "C" CUresult gpool_impl_cuArrayDestroy(CUarray a) {
  return destroy_handle(Op::ArrayDestroy, reinterpret_cast<uint64_t>(a), g_arrays);
}

extern "C" CUresult gpool_impl_cuArray3DGetDescriptor_v2(CUDA_ARRAY3D_DESCRIPTOR* out, CUarray a) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  return query_handle(g_arrays, reinterpret_cast<uint64_t>(a), out, CUDA_ERROR_INVALID_HANDLE,
                      [](const CUDA_ARRAY3D_DESCRIPTOR& d) { return &d; });
}

extern "C" CUresult gpool_impl_cuArrayGetDescriptor_v2(CUDA_ARRAY_DESCRIPTOR* out, CUarray a) {
  CUDA_ARRAY3D_DESCRIPTOR d;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = gpool_impl_cuArray3DGetDescriptor_v2(&d, a); st != CUDA_SUCCESS) return st;
  out->Width = d.Width;
  out->Height = d.Height;
  out->Format = d.Format;
  out->NumChannels = d.NumChannels;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMipmappedArrayCreate(CUmipmappedArray* pHandle, const CUDA_ARRAY3D_DESCRIPTOR* d,
                                                      unsigned int levels) {
  if (pHandle == nullptr || d == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {d->Width, d->Height, d->Depth, static_cast<uint64_t>(d->Format), d->NumChannels, d->Flags,
                           levels};
  uint64_t h = 0;
  if (CUresult st = Session::instance().sync_value(Op::MipmappedArrayCreate, args, {}, h); st != CUDA_SUCCESS) {
    return report_out_of_memory(Session::instance(), "cuMipmappedArrayCreate", d->Width * (d->Height ? d->Height : 1), st);
  }
  std::lock_guard<std::mutex> lock(g_mu);
  g_mipmaps[h] = *d;
  *pHandle = reinterpret_cast<CUmipmappedArray>(h);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMipmappedArrayGetLevel(CUarray* pLevel, CUmipmappedArray m, unsigned int level) {
  if (pLevel == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(m), level};
  uint64_t h = 0;
  if (CUresult st = Session::instance().sync_value(Op::MipmappedArrayGetLevel, args, {}, h); st != CUDA_SUCCESS) return st;
  // The level's descriptor, for cuArray3DGetDescriptor: each extent halves per level (not the
  // layer count of a layered or cubemap array).
  std::lock_guard<std::mutex> lock(g_mu);
  if (auto it = g_mipmaps.find(args[0]); it != g_mipmaps.end()) {
    CUDA_ARRAY3D_DESCRIPTOR d = it->second;
    const bool layered = d.Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP);
    d.Width = d.Width >> level ? d.Width >> level : 1;
    if (d.Height) d.Height = d.Height >> level ? d.Height >> level : 1;
    if (d.Depth && !layered) d.Depth = d.Depth >> level ? d.Depth >> level : 1;
    g_arrays[h] = d;
  }
  *pLevel = reinterpret_cast<CUarray>(h);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuMipmappedArrayDestroy(CUmipmappedArray m) {
  return destroy_handle(Op::MipmappedArrayDestroy, reinterpret_cast<uint64_t>(m), g_mipmaps);
}

extern "C" CUresult gpool_impl_cuMemcpy3D_v2(const CUDA_MEMCPY3D* p) { return copy3d(p, nullptr, false); }
extern "C" CUresult gpool_impl_cuMemcpy3DAsync_v2(const CUDA_MEMCPY3D* p, CUstream s) { return copy3d(p, s, true); }

extern "C" CUresult gpool_impl_cuTexObjectCreate(CUtexObject* pTex, const CUDA_RESOURCE_DESC* r,
                                                 const CUDA_TEXTURE_DESC* t, const CUDA_RESOURCE_VIEW_DESC* v) {
  if (pTex == nullptr || r == nullptr || t == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  uint64_t res[7] = {static_cast<uint64_t>(r->resType), 0, 0, 0, 0, 0, 0};
  switch (r->resType) {
    case CU_RESOURCE_TYPE_ARRAY: res[1] = reinterpret_cast<uint64_t>(r->res.array.hArray); break;
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY: res[1] = reinterpret_cast<uint64_t>(r->res.mipmap.hMipmappedArray); break;
    case CU_RESOURCE_TYPE_LINEAR:
      res[1] = r->res.linear.devPtr, res[2] = r->res.linear.format, res[3] = r->res.linear.numChannels;
      res[4] = r->res.linear.sizeInBytes;
      break;
    case CU_RESOURCE_TYPE_PITCH2D:
      res[1] = r->res.pitch2D.devPtr, res[2] = r->res.pitch2D.format, res[3] = r->res.pitch2D.numChannels;
      res[4] = r->res.pitch2D.width, res[5] = r->res.pitch2D.height, res[6] = r->res.pitch2D.pitchInBytes;
      break;
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
  if (r->flags != 0) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t args[] = {res[0], res[1], res[2], res[3], res[4], res[5], res[6],
                           static_cast<uint64_t>(t->addressMode[0]), static_cast<uint64_t>(t->addressMode[1]),
                           static_cast<uint64_t>(t->addressMode[2]), static_cast<uint64_t>(t->filterMode), t->flags,
                           t->maxAnisotropy, static_cast<uint64_t>(t->mipmapFilterMode), fbits(t->mipmapLevelBias),
                           fbits(t->minMipmapLevelClamp), fbits(t->maxMipmapLevelClamp), fbits(t->borderColor[0]),
                           fbits(t->borderColor[1]), fbits(t->borderColor[2]), fbits(t->borderColor[3]),
                           v != nullptr ? 1u : 0u, v ? static_cast<uint64_t>(v->format) : 0, v ? v->width : 0,
                           v ? v->height : 0, v ? v->depth : 0, v ? v->firstMipmapLevel : 0u,
                           v ? v->lastMipmapLevel : 0u, v ? v->firstLayer : 0u, v ? v->lastLayer : 0u};
  uint64_t h = 0;
  if (CUresult st = Session::instance().sync_value(Op::TexObjectCreate, args, {}, h); st != CUDA_SUCCESS) return st;
  TexInfo info;
  info.res = *r;
  info.tex = *t;
  if (v != nullptr) info.view = *v, info.has_view = true;
  std::lock_guard<std::mutex> lock(g_mu);
  g_tex[h] = info;
  *pTex = h;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuTexObjectDestroy(CUtexObject h) {
  return destroy_handle(Op::TexObjectDestroy, h, g_tex);
}

extern "C" CUresult gpool_impl_cuTexObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUtexObject h) {
  return query_handle(g_tex, h, out, CUDA_ERROR_INVALID_VALUE, [](const TexInfo& t) { return &t.res; });
}

extern "C" CUresult gpool_impl_cuTexObjectGetTextureDesc(CUDA_TEXTURE_DESC* out, CUtexObject h) {
  return query_handle(g_tex, h, out, CUDA_ERROR_INVALID_VALUE, [](const TexInfo& t) { return &t.tex; });
}

extern "C" CUresult gpool_impl_cuTexObjectGetResourceViewDesc(CUDA_RESOURCE_VIEW_DESC* out, CUtexObject h) {
  return query_handle(g_tex, h, out, CUDA_ERROR_INVALID_VALUE,
                      [](const TexInfo& t) { return t.has_view ? &t.view : nullptr; });
}

extern "C" CUresult gpool_impl_cuSurfObjectCreate(CUsurfObject* pSurf, const CUDA_RESOURCE_DESC* r) {
  if (pSurf == nullptr || r == nullptr || r->flags != 0 || r->resType != CU_RESOURCE_TYPE_ARRAY)
    return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(r->res.array.hArray)};
  uint64_t h = 0;
  if (CUresult st = Session::instance().sync_value(Op::SurfObjectCreate, args, {}, h); st != CUDA_SUCCESS) return st;
  std::lock_guard<std::mutex> lock(g_mu);
  g_surf[h] = *r;
  *pSurf = h;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuSurfObjectDestroy(CUsurfObject h) {
  return destroy_handle(Op::SurfObjectDestroy, h, g_surf);
}

extern "C" CUresult gpool_impl_cuSurfObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUsurfObject h) {
  return query_handle(g_surf, h, out, CUDA_ERROR_INVALID_VALUE, [](const CUDA_RESOURCE_DESC& d) { return &d; });
}

// ---- memory requirements and sparse properties (calls 460-463) ---------------------------------
// Forwarded with the array's handle; the server checks it is this session's and the driver
// answers (CUDA_ERROR_INVALID_VALUE for an array without deferred mapping / sparse storage).

namespace {

CUresult mem_requirements(Op op, uint64_t h, CUdevice dev, CUDA_ARRAY_MEMORY_REQUIREMENTS* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session* dev_session = nullptr;
  uint64_t ordinal = 0;
  if (CUresult st = Pool::global().locate(dev, dev_session, ordinal); st != CUDA_SUCCESS) return st;
  if (dev_session != &Session::instance()) return CUDA_ERROR_INVALID_DEVICE;  // arrays live on one server
  const uint64_t args[] = {h, ordinal};
  Reply r;
  if (CUresult st = Session::instance().sync(op, args, {}, {}, {}, &r); st != CUDA_SUCCESS) return st;
  if (r.results.size() != 2) return CUDA_ERROR_UNKNOWN;
  *out = CUDA_ARRAY_MEMORY_REQUIREMENTS{};
  out->size = r.results[0];
  out->alignment = r.results[1];
  return CUDA_SUCCESS;
}

CUresult sparse_properties(Op op, uint64_t h, CUDA_ARRAY_SPARSE_PROPERTIES* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {h};
  Reply r;
  if (CUresult st = Session::instance().sync(op, args, {}, {}, {}, &r); st != CUDA_SUCCESS) return st;
  if (r.results.size() != 6) return CUDA_ERROR_UNKNOWN;
  *out = CUDA_ARRAY_SPARSE_PROPERTIES{};
  out->tileExtent.width = static_cast<unsigned>(r.results[0]);
  out->tileExtent.height = static_cast<unsigned>(r.results[1]);
  out->tileExtent.depth = static_cast<unsigned>(r.results[2]);
  out->miptailFirstLevel = static_cast<unsigned>(r.results[3]);
  out->miptailSize = r.results[4];
  out->flags = static_cast<unsigned>(r.results[5]);
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS* out, CUarray a,
                                                            CUdevice dev) {
  return mem_requirements(Op::ArrayGetMemoryRequirements, reinterpret_cast<uint64_t>(a), dev, out);
}
extern "C" CUresult gpool_impl_cuMipmappedArrayGetMemoryRequirements(CUDA_ARRAY_MEMORY_REQUIREMENTS* out,
                                                                     CUmipmappedArray m, CUdevice dev) {
  return mem_requirements(Op::MipmappedArrayGetMemoryRequirements, reinterpret_cast<uint64_t>(m), dev, out);
}
extern "C" CUresult gpool_impl_cuArrayGetSparseProperties(CUDA_ARRAY_SPARSE_PROPERTIES* out, CUarray a) {
  return sparse_properties(Op::ArrayGetSparseProperties, reinterpret_cast<uint64_t>(a), out);
}
extern "C" CUresult gpool_impl_cuMipmappedArrayGetSparseProperties(CUDA_ARRAY_SPARSE_PROPERTIES* out,
                                                                    CUmipmappedArray m) {
  return sparse_properties(Op::MipmappedArrayGetSparseProperties, reinterpret_cast<uint64_t>(m), out);
}
