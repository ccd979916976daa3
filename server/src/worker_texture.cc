// CUDA arrays, mipmapped arrays, texture and surface objects of a session (calls.toml 430-439).
//
// Policy: an array is device memory, charged to the tenant's quota before the driver is
// asked (its dense size: width x height x depth x element bytes; the driver may pad, which
// is not charged). Every array, mipmapped array, texture object and surface object the
// session creates is in its own table here; a handle the session did not get from this
// server is refused (CUDA_ERROR_INVALID_HANDLE) before the driver sees it. A texture
// object's resource is checked the same way: an array or mipmapped array of this session,
// or linear / pitch-2D memory inside one of the session's allocations. Copies with an array
// side take only device or array sides (the shim stages host data through device memory),
// each checked likewise. Everything left at the end of the session goes with its context.
#include "worker.h"

#include <algorithm>
#include <cstring>

namespace gpool::server {
namespace {

uint32_t format_bytes(uint64_t f) {
  switch (f) {
    case CU_AD_FORMAT_UNSIGNED_INT8: case CU_AD_FORMAT_SIGNED_INT8: return 1;
    case CU_AD_FORMAT_UNSIGNED_INT16: case CU_AD_FORMAT_SIGNED_INT16: case CU_AD_FORMAT_HALF: return 2;
    case CU_AD_FORMAT_UNSIGNED_INT32: case CU_AD_FORMAT_SIGNED_INT32: case CU_AD_FORMAT_FLOAT: return 4;
    default: return 0;
  }
}

// Args [W, H, D, format, channels, flags] as a descriptor and its dense size; false when the
// size overflows or the format is not one the server accounts for.
bool descriptor(const uint64_t* a, CUDA_ARRAY3D_DESCRIPTOR* d, uint64_t* bytes) {
  std::memset(d, 0, sizeof *d);
  d->Width = a[0];
  d->Height = a[1];
  d->Depth = a[2];
  d->Format = static_cast<CUarray_format>(a[3]);
  d->NumChannels = static_cast<unsigned>(a[4]);
  d->Flags = static_cast<unsigned>(a[5]);
  const uint64_t eb = format_bytes(a[3]) * a[4];
  if (eb == 0 || a[4] > 4 || a[0] > (1u << 20) || a[1] > (1u << 20) || a[2] > (1u << 20)) return false;
  *bytes = eb * a[0] * (a[1] ? a[1] : 1) * (a[2] ? a[2] : 1);
  return true;
}

float as_float(uint64_t bits) {
  const uint32_t b = static_cast<uint32_t>(bits);
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

}  // namespace

CUresult Worker::op_array_create(Ctx& c) {
  ArrayCreateArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t a[6] = {args.width, args.height, args.depth, args.format, args.channels, args.flags};
  CUDA_ARRAY3D_DESCRIPTOR d;
  uint64_t bytes = 0;
  if (!descriptor(a, &d, &bytes)) return CUDA_ERROR_INVALID_VALUE;
  const int device = current_device();
  if (!charge(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUarray arr = nullptr;
  const CUresult st = drv_.cuArray3DCreate_v2(&arr, &d);
  if (st != CUDA_SUCCESS) {
    uncharge(device, bytes);
    return st;
  }
  c.results = {arrays_.add_array(arr, bytes, device)};
  return CUDA_SUCCESS;
}

CUresult Worker::op_array_destroy(Ctx& c) {
  ArrayDestroyArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Array* a = arrays_.find_array(args.array);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (a->mipmap != 0) return CUDA_ERROR_INVALID_VALUE;  // a level: goes with its mipmapped array
  const CUresult st = drv_.cuArrayDestroy(a->arr);
  if (st != CUDA_SUCCESS) return st;
  arrays_.erase_array(args.array);  // and its charge
  return CUDA_SUCCESS;
}

CUresult Worker::op_mipmapped_create(Ctx& c) {
  MipmappedArrayCreateArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t a[6] = {args.width, args.height, args.depth, args.format, args.channels, args.flags};
  const uint64_t levels = args.levels;
  CUDA_ARRAY3D_DESCRIPTOR d;
  uint64_t bytes = 0;
  if (!descriptor(a, &d, &bytes) || levels == 0 || levels > 32) return CUDA_ERROR_INVALID_VALUE;
  // Every level's dense size: extents halve per level (not the layers of a layered or cubemap
  // array), never below 1.
  const bool layered = d.Flags & (CUDA_ARRAY3D_LAYERED | CUDA_ARRAY3D_CUBEMAP);
  const uint64_t eb = bytes / (d.Width * (d.Height ? d.Height : 1) * (d.Depth ? d.Depth : 1));
  bytes = 0;
  for (uint64_t l = 0; l < levels; ++l) {
    const uint64_t w = std::max<uint64_t>(d.Width >> l, 1), h = d.Height ? std::max<uint64_t>(d.Height >> l, 1) : 1;
    const uint64_t z = !d.Depth ? 1 : layered ? d.Depth : std::max<uint64_t>(d.Depth >> l, 1);
    bytes += w * h * z * eb;
  }
  const int device = current_device();
  if (!charge(device, bytes)) return CUDA_ERROR_OUT_OF_MEMORY;
  CUmipmappedArray m = nullptr;
  const CUresult st = drv_.cuMipmappedArrayCreate(&m, &d, static_cast<unsigned>(levels));
  if (st != CUDA_SUCCESS) {
    uncharge(device, bytes);
    return st;
  }
  c.results = {arrays_.add_mipmap(m, bytes, device, static_cast<unsigned>(levels))};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mipmapped_get_level(Ctx& c) {
  MipmappedArrayGetLevelArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Mipmap* m = arrays_.find_mipmap(args.mipmap);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const uint64_t level = args.level;
  if (level >= m->levels) return CUDA_ERROR_INVALID_VALUE;
  CUarray arr = nullptr;
  if (CUresult st = drv_.cuMipmappedArrayGetLevel(&arr, m->m, static_cast<unsigned>(level)); st != CUDA_SUCCESS)
    return st;
  c.results = {arrays_.add_level(arr, args.mipmap)};  // charged with the mipmapped array
  return CUDA_SUCCESS;
}

CUresult Worker::op_mipmapped_destroy(Ctx& c) {
  MipmappedArrayDestroyArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Mipmap* m = arrays_.find_mipmap(args.mipmap);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const CUresult st = drv_.cuMipmappedArrayDestroy(m->m);
  if (st != CUDA_SUCCESS) return st;
  arrays_.erase_mipmap(args.mipmap);  // its levels and its charge
  return CUDA_SUCCESS;
}

// args: for src then dst [memory type, address or array handle, x bytes, y, z, pitch, height],
// then [width bytes, height, depth, async]; handles: [stream].
CUresult Worker::op_memcpy_array(Ctx& c) {
  MemcpyArrayArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  CUDA_MEMCPY3D p;
  std::memset(&p, 0, sizeof p);
  p.WidthInBytes = args.width_bytes;
  p.Height = args.height;
  p.Depth = args.depth;
  const bool async = args.async != 0;
  const uint64_t sides[14] = {args.src_type, args.src_where, args.src_x, args.src_y, args.src_z, args.src_pitch,
                              args.src_height, args.dst_type, args.dst_where, args.dst_x, args.dst_y, args.dst_z,
                              args.dst_pitch, args.dst_height};
  auto side = [&](size_t b, CUmemorytype* type, CUdeviceptr* dev, CUarray* arr, size_t* x, size_t* y, size_t* z,
                  size_t* pitch, size_t* height) -> CUresult {
    *type = static_cast<CUmemorytype>(sides[b]);
    *x = sides[b + 2];
    *y = sides[b + 3];
    *z = sides[b + 4];
    *pitch = sides[b + 5];
    *height = sides[b + 6];
    if (*type == CU_MEMORYTYPE_ARRAY) {
      const ArrayTable::Array* a = arrays_.find_array(sides[b + 1]);
      if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
      *arr = a->arr;
      return CUDA_SUCCESS;
    }
    if (*type != CU_MEMORYTYPE_DEVICE) return CUDA_ERROR_INVALID_VALUE;
    *dev = sides[b + 1];
    // The whole strided extent must lie inside one allocation of this session.
    const uint64_t rows = p.Height ? p.Height : 1, slices = p.Depth ? p.Depth : 1;
    const uint64_t h = *height ? *height : rows;
    // In 128 bits: client-chosen offsets and pitches must not wrap the extent into a small one.
    using u128 = unsigned __int128;
    const u128 extent = ((u128{*z} + slices - 1) * h + *y + rows - 1) * *pitch + *x + p.WidthInBytes;
    if (*pitch < p.WidthInBytes && rows > 1) return CUDA_ERROR_INVALID_VALUE;
    if (extent > (u128{1} << 48) || !range_ok(*dev, static_cast<uint64_t>(extent))) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
  };
  if (CUresult st = side(0, &p.srcMemoryType, &p.srcDevice, &p.srcArray, &p.srcXInBytes, &p.srcY, &p.srcZ,
                         &p.srcPitch, &p.srcHeight);
      st != CUDA_SUCCESS)
    return st;
  if (CUresult st = side(7, &p.dstMemoryType, &p.dstDevice, &p.dstArray, &p.dstXInBytes, &p.dstY, &p.dstZ,
                         &p.dstPitch, &p.dstHeight);
      st != CUDA_SUCCESS)
    return st;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 0, stream); st != CUDA_SUCCESS) return st;
  return async ? drv_.cuMemcpy3DAsync_v2(&p, stream) : drv_.cuMemcpy3D_v2(&p);
}

// args: [resType, handle/devPtr, format, channels, size or width, height, pitch,
//        addr0, addr1, addr2, filter, flags, maxAniso, mipFilter, bias, minLod, maxLod (f32 bits),
//        border0..3 (f32 bits), hasView, view format, view w, h, d, firstMip, lastMip, firstLayer,
//        lastLayer]
CUresult Worker::op_tex_object_create(Ctx& c) {
  TexObjectCreateArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t modes[3] = {args.address_mode0, args.address_mode1, args.address_mode2};
  const uint64_t border[4] = {args.border0, args.border1, args.border2, args.border3};
  CUDA_RESOURCE_DESC r;
  std::memset(&r, 0, sizeof r);
  r.resType = static_cast<CUresourcetype>(args.res_type);
  switch (r.resType) {
    case CU_RESOURCE_TYPE_ARRAY: {
      const ArrayTable::Array* a = arrays_.find_array(args.resource);
      if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
      r.res.array.hArray = a->arr;
      break;
    }
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY: {
      const ArrayTable::Mipmap* m = arrays_.find_mipmap(args.resource);
      if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
      r.res.mipmap.hMipmappedArray = m->m;
      break;
    }
    case CU_RESOURCE_TYPE_LINEAR:
      r.res.linear.devPtr = args.resource;
      r.res.linear.format = static_cast<CUarray_format>(args.format);
      r.res.linear.numChannels = static_cast<unsigned>(args.channels);
      r.res.linear.sizeInBytes = args.size_or_width;
      if (!range_ok(r.res.linear.devPtr, r.res.linear.sizeInBytes)) return CUDA_ERROR_INVALID_VALUE;
      break;
    case CU_RESOURCE_TYPE_PITCH2D: {
      r.res.pitch2D.devPtr = args.resource;
      r.res.pitch2D.format = static_cast<CUarray_format>(args.format);
      r.res.pitch2D.numChannels = static_cast<unsigned>(args.channels);
      r.res.pitch2D.width = args.size_or_width;
      r.res.pitch2D.height = args.height;
      r.res.pitch2D.pitchInBytes = args.pitch_bytes;
      const uint64_t eb = format_bytes(args.format) * args.channels;
      if (eb == 0 || args.height == 0 || args.size_or_width > (1u << 20) || args.height > (1u << 20) || args.pitch_bytes > (1ull << 32))
        return CUDA_ERROR_INVALID_VALUE;
      // Bounded above (width, height <= 2^20, pitch <= 2^32), so this cannot wrap.
      if (!range_ok(args.resource, args.pitch_bytes * (args.height - 1) + args.size_or_width * eb)) return CUDA_ERROR_INVALID_VALUE;
      break;
    }
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
  CUDA_TEXTURE_DESC t;
  std::memset(&t, 0, sizeof t);
  for (int i = 0; i < 3; ++i) t.addressMode[i] = static_cast<CUaddress_mode>(modes[i]);
  t.filterMode = static_cast<CUfilter_mode>(args.filter);
  t.flags = static_cast<unsigned>(args.flags);
  t.maxAnisotropy = static_cast<unsigned>(args.max_anisotropy);
  t.mipmapFilterMode = static_cast<CUfilter_mode>(args.mipmap_filter);
  t.mipmapLevelBias = as_float(args.level_bias);
  t.minMipmapLevelClamp = as_float(args.min_level);
  t.maxMipmapLevelClamp = as_float(args.max_level);
  for (int i = 0; i < 4; ++i) t.borderColor[i] = as_float(border[i]);
  CUDA_RESOURCE_VIEW_DESC v;
  std::memset(&v, 0, sizeof v);
  const bool has_view = args.has_view != 0;
  v.format = static_cast<CUresourceViewFormat>(args.view_format);
  v.width = args.view_width;
  v.height = args.view_height;
  v.depth = args.view_depth;
  v.firstMipmapLevel = static_cast<unsigned>(args.first_mip);
  v.lastMipmapLevel = static_cast<unsigned>(args.last_mip);
  v.firstLayer = static_cast<unsigned>(args.first_layer);
  v.lastLayer = static_cast<unsigned>(args.last_layer);
  CUtexObject obj = 0;
  if (CUresult st = drv_.cuTexObjectCreate(&obj, &r, &t, has_view ? &v : nullptr); st != CUDA_SUCCESS) return st;
  arrays_.add_tex(obj);
  c.results = {obj};
  return CUDA_SUCCESS;
}

CUresult Worker::op_tex_object_destroy(Ctx& c) {
  TexObjectDestroyArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  if (!arrays_.has_tex(args.tex)) return CUDA_ERROR_INVALID_VALUE;
  const CUresult st = drv_.cuTexObjectDestroy(args.tex);
  if (st == CUDA_SUCCESS) arrays_.erase_tex(args.tex);
  return st;
}

CUresult Worker::op_surf_object_create(Ctx& c) {
  SurfObjectCreateArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Array* a = arrays_.find_array(args.array);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  CUDA_RESOURCE_DESC r;
  std::memset(&r, 0, sizeof r);
  r.resType = CU_RESOURCE_TYPE_ARRAY;
  r.res.array.hArray = a->arr;
  CUsurfObject obj = 0;
  if (CUresult st = drv_.cuSurfObjectCreate(&obj, &r); st != CUDA_SUCCESS) return st;
  arrays_.add_surf(obj);
  c.results = {obj};
  return CUDA_SUCCESS;
}

CUresult Worker::op_surf_object_destroy(Ctx& c) {
  SurfObjectDestroyArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  if (!arrays_.has_surf(args.surf)) return CUDA_ERROR_INVALID_VALUE;
  const CUresult st = drv_.cuSurfObjectDestroy(args.surf);
  if (st == CUDA_SUCCESS) arrays_.erase_surf(args.surf);
  return st;
}

}  // namespace gpool::server

// ---- memory requirements and sparse properties (calls 460-463) --------------------------------
// The session's own arrays only; the driver answers (CUDA_ERROR_INVALID_VALUE for an array made
// without CUDA_ARRAY3D_DEFERRED_MAPPING / CUDA_ARRAY3D_SPARSE).

namespace gpool::server {

CUresult Worker::op_array_mem_requirements(Ctx& c) {
  ArrayGetMemoryRequirementsArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Array* a = arrays_.find_array(args.array);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  CUdevice dev = 0;
  if (CUresult st = device_at(args.device, dev); st != CUDA_SUCCESS) return st;
  CUDA_ARRAY_MEMORY_REQUIREMENTS r{};
  if (CUresult st = drv_.cuArrayGetMemoryRequirements(&r, a->arr, dev); st != CUDA_SUCCESS) return st;
  c.results = {r.size, r.alignment};
  return CUDA_SUCCESS;
}

CUresult Worker::op_mipmapped_mem_requirements(Ctx& c) {
  MipmappedArrayGetMemoryRequirementsArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Mipmap* m = arrays_.find_mipmap(args.mipmap);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  CUdevice dev = 0;
  if (CUresult st = device_at(args.device, dev); st != CUDA_SUCCESS) return st;
  CUDA_ARRAY_MEMORY_REQUIREMENTS r{};
  if (CUresult st = drv_.cuMipmappedArrayGetMemoryRequirements(&r, m->m, dev); st != CUDA_SUCCESS) return st;
  c.results = {r.size, r.alignment};
  return CUDA_SUCCESS;
}

namespace {
std::vector<uint64_t> sparse_results(const CUDA_ARRAY_SPARSE_PROPERTIES& p) {
  return {p.tileExtent.width, p.tileExtent.height, p.tileExtent.depth, p.miptailFirstLevel, p.miptailSize, p.flags};
}
}  // namespace

CUresult Worker::op_array_sparse_properties(Ctx& c) {
  ArrayGetSparsePropertiesArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Array* a = arrays_.find_array(args.array);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  CUDA_ARRAY_SPARSE_PROPERTIES p{};
  if (CUresult st = drv_.cuArrayGetSparseProperties(&p, a->arr); st != CUDA_SUCCESS) return st;
  c.results = sparse_results(p);
  return CUDA_SUCCESS;
}

CUresult Worker::op_mipmapped_sparse_properties(Ctx& c) {
  MipmappedArrayGetSparsePropertiesArgs args;
  if (!decode_args(c, args)) return CUDA_ERROR_INVALID_VALUE;
  const ArrayTable::Mipmap* m = arrays_.find_mipmap(args.mipmap);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  CUDA_ARRAY_SPARSE_PROPERTIES p{};
  if (CUresult st = drv_.cuMipmappedArrayGetSparseProperties(&p, m->m); st != CUDA_SUCCESS) return st;
  c.results = sparse_results(p);
  return CUDA_SUCCESS;
}

}  // namespace gpool::server
