// cuTexObject* / cuSurfObject* and the handle table (texobj.h).
#include "texobj.h"

#include "alloc_table.h"
#include "array.h"
#include "context.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <shared_mutex>
#include <unordered_map>

namespace gpool::emu::rt {
namespace {

struct TexObject {
  CUDA_RESOURCE_DESC res{};
  CUDA_TEXTURE_DESC tex{};
  CUDA_RESOURCE_VIEW_DESC view{};
  bool has_view = false;
  exec::TexDesc desc;
};

struct SurfObject {
  CUDA_RESOURCE_DESC res{};
  exec::SurfDesc desc;
};

class Table final : public exec::TextureTable {
 public:
  bool texture(uint64_t h, exec::TexDesc* out) const override {
    std::shared_lock lock(mu_);
    auto it = tex_.find(h);
    if (it == tex_.end()) return false;
    *out = it->second->desc;
    return true;
  }
  bool surface(uint64_t h, exec::SurfDesc* out) const override {
    std::shared_lock lock(mu_);
    auto it = surf_.find(h);
    if (it == surf_.end()) return false;
    *out = it->second->desc;
    return true;
  }
  uint64_t add_tex(std::unique_ptr<TexObject> t) {
    std::unique_lock lock(mu_);
    const uint64_t h = next_++;
    tex_[h] = std::move(t);
    return h;
  }
  uint64_t add_surf(std::unique_ptr<SurfObject> s) {
    std::unique_lock lock(mu_);
    const uint64_t h = next_++;
    surf_[h] = std::move(s);
    return h;
  }
  bool remove_tex(uint64_t h) {
    std::unique_lock lock(mu_);
    return tex_.erase(h) != 0;
  }
  bool remove_surf(uint64_t h) {
    std::unique_lock lock(mu_);
    return surf_.erase(h) != 0;
  }
  template <class F>
  bool with_tex(uint64_t h, F f) const {
    std::shared_lock lock(mu_);
    auto it = tex_.find(h);
    if (it == tex_.end()) return false;
    f(*it->second);
    return true;
  }
  template <class F>
  bool with_surf(uint64_t h, F f) const {
    std::shared_lock lock(mu_);
    auto it = surf_.find(h);
    if (it == surf_.end()) return false;
    f(*it->second);
    return true;
  }

 private:
  mutable std::shared_mutex mu_;
  std::unordered_map<uint64_t, std::unique_ptr<TexObject>> tex_;   // guarded by mu_
  std::unordered_map<uint64_t, std::unique_ptr<SurfObject>> surf_; // guarded by mu_
  uint64_t next_ = 0x7e0000001ull;  // guarded by mu_: handles start away from small integers
};

Table& table() {
  static Table* t = new Table();  // lives for the process (kernels may run at exit)
  return *t;
}

// Geometry of an array as the executor sees it.
void array_geometry(const Array& a, uint8_t* dims, bool* layered, bool* cube, uint32_t* layers) {
  const unsigned f = a.desc.Flags;
  *cube = f & CUDA_ARRAY3D_CUBEMAP;
  *layered = f & CUDA_ARRAY3D_LAYERED;
  if (*cube) {
    *dims = 2;
    *layers = static_cast<uint32_t>(a.desc.Depth / 6);
  } else if (*layered) {
    *dims = a.desc.Height ? 2 : 1;
    *layers = static_cast<uint32_t>(a.desc.Depth);
  } else {
    *dims = a.desc.Depth ? 3 : a.desc.Height ? 2 : 1;
    *layers = 1;
  }
  if (*layers == 0) *layers = 1;
}

// Memory described by a linear / pitch2D resource must lie inside one allocation.
bool memory_ok(uint64_t base, uint64_t bytes) { return bytes != 0 && allocs().find_range(base, bytes).has_value(); }

CUresult resource(const CUDA_RESOURCE_DESC& r, exec::TexDesc* d) {
  if (r.flags != 0) return CUDA_ERROR_INVALID_VALUE;
  switch (r.resType) {
    case CU_RESOURCE_TYPE_ARRAY: {
      Array* a = find_array(r.res.array.hArray);
      if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
      d->format = a->format;
      d->channels = static_cast<uint8_t>(a->desc.NumChannels);
      array_geometry(*a, &d->dims, &d->layered, &d->cubemap, &d->layers);
      d->num_levels = 1;
      d->level[0] = array_level(*a);
      return CUDA_SUCCESS;
    }
    case CU_RESOURCE_TYPE_MIPMAPPED_ARRAY: {
      MipmappedArray* m = find_mipmapped(r.res.mipmap.hMipmappedArray);
      if (m == nullptr || m->levels.empty()) return CUDA_ERROR_INVALID_HANDLE;
      const Array& a0 = *m->levels[0];
      d->format = a0.format;
      d->channels = static_cast<uint8_t>(a0.desc.NumChannels);
      array_geometry(a0, &d->dims, &d->layered, &d->cubemap, &d->layers);
      d->num_levels = static_cast<uint32_t>(m->levels.size());
      for (uint32_t i = 0; i < d->num_levels; ++i) d->level[i] = array_level(*m->levels[i]);
      return CUDA_SUCCESS;
    }
    case CU_RESOURCE_TYPE_LINEAR: {
      const auto& l = r.res.linear;
      if (!array_format(l.format, &d->format)) return CUDA_ERROR_NOT_SUPPORTED;
      if (l.numChannels != 1 && l.numChannels != 2 && l.numChannels != 4) return CUDA_ERROR_INVALID_VALUE;
      d->channels = static_cast<uint8_t>(l.numChannels);
      const uint64_t tb = exec::tex_format_bytes(d->format) * l.numChannels;
      if (!memory_ok(l.devPtr, l.sizeInBytes)) return CUDA_ERROR_INVALID_VALUE;
      d->dims = 1;
      d->linear_memory = true;
      d->level[0].base = l.devPtr;
      d->level[0].width = static_cast<uint32_t>(std::min<uint64_t>(l.sizeInBytes / tb, UINT32_MAX));
      d->level[0].pitch = l.sizeInBytes;
      d->level[0].extent = l.sizeInBytes;
      return CUDA_SUCCESS;
    }
    case CU_RESOURCE_TYPE_PITCH2D: {
      const auto& p = r.res.pitch2D;
      if (!array_format(p.format, &d->format)) return CUDA_ERROR_NOT_SUPPORTED;
      if (p.numChannels != 1 && p.numChannels != 2 && p.numChannels != 4) return CUDA_ERROR_INVALID_VALUE;
      d->channels = static_cast<uint8_t>(p.numChannels);
      const uint64_t tb = exec::tex_format_bytes(d->format) * p.numChannels;
      if (p.width == 0 || p.height == 0 || p.width > UINT32_MAX || p.height > UINT32_MAX ||
          p.pitchInBytes < p.width * tb)
        return CUDA_ERROR_INVALID_VALUE;
      const uint64_t extent = p.pitchInBytes * (p.height - 1) + p.width * tb;
      if (!memory_ok(p.devPtr, extent)) return CUDA_ERROR_INVALID_VALUE;
      d->dims = 2;
      d->level[0].base = p.devPtr;
      d->level[0].width = static_cast<uint32_t>(p.width);
      d->level[0].height = static_cast<uint32_t>(p.height);
      d->level[0].pitch = p.pitchInBytes;
      d->level[0].slice = extent;
      d->level[0].extent = extent;
      return CUDA_SUCCESS;
    }
    default:
      return CUDA_ERROR_INVALID_VALUE;
  }
}

bool address_mode(CUaddress_mode m, exec::TexAddress* out) {
  switch (m) {
    case CU_TR_ADDRESS_MODE_WRAP: *out = exec::TexAddress::Wrap; return true;
    case CU_TR_ADDRESS_MODE_CLAMP: *out = exec::TexAddress::Clamp; return true;
    case CU_TR_ADDRESS_MODE_MIRROR: *out = exec::TexAddress::Mirror; return true;
    case CU_TR_ADDRESS_MODE_BORDER: *out = exec::TexAddress::Border; return true;
    default: return false;
  }
}

CUresult sampler(const CUDA_TEXTURE_DESC& t, exec::TexDesc* d) {
  constexpr unsigned kFlags = CU_TRSF_READ_AS_INTEGER | CU_TRSF_NORMALIZED_COORDINATES | CU_TRSF_SRGB |
                              CU_TRSF_DISABLE_TRILINEAR_OPTIMIZATION | CU_TRSF_SEAMLESS_CUBEMAP;
  if (t.flags & ~kFlags) return CUDA_ERROR_INVALID_VALUE;
  d->normalized_coords = t.flags & CU_TRSF_NORMALIZED_COORDINATES;
  d->read_as_integer = t.flags & CU_TRSF_READ_AS_INTEGER;
  d->srgb = (t.flags & CU_TRSF_SRGB) && d->format == exec::TexFormat::U8;
  d->seamless_cube = (t.flags & CU_TRSF_SEAMLESS_CUBEMAP) && d->cubemap;
  // maxAnisotropy: 0 and 1 both mean isotropic; the hardware's limit is 16.
  d->max_aniso = std::clamp(t.maxAnisotropy, 1u, 16u);
  for (int i = 0; i < 3; ++i) {
    if (!address_mode(t.addressMode[i], &d->address[i])) return CUDA_ERROR_INVALID_VALUE;
    // Without normalized coordinates only clamp and border exist; wrap and mirror act as clamp.
    if (!d->normalized_coords &&
        (d->address[i] == exec::TexAddress::Wrap || d->address[i] == exec::TexAddress::Mirror))
      d->address[i] = exec::TexAddress::Clamp;
  }
  if (t.filterMode != CU_TR_FILTER_MODE_POINT && t.filterMode != CU_TR_FILTER_MODE_LINEAR) return CUDA_ERROR_INVALID_VALUE;
  if (t.mipmapFilterMode != CU_TR_FILTER_MODE_POINT && t.mipmapFilterMode != CU_TR_FILTER_MODE_LINEAR)
    return CUDA_ERROR_INVALID_VALUE;
  d->linear_filter = t.filterMode == CU_TR_FILTER_MODE_LINEAR && !d->linear_memory;
  // Linear filtering blends values: only textures read as floats may use it.
  if (d->linear_filter && !exec::tex_returns_float(*d)) return CUDA_ERROR_INVALID_VALUE;
  d->mip_linear = t.mipmapFilterMode == CU_TR_FILTER_MODE_LINEAR;
  d->lod_bias = t.mipmapLevelBias;
  d->min_lod = t.minMipmapLevelClamp;
  d->max_lod = t.maxMipmapLevelClamp;
  if (d->num_levels > 1 && d->max_lod == 0 && d->min_lod == 0) d->max_lod = static_cast<float>(d->num_levels - 1);
  for (int i = 0; i < 4; ++i) d->border[i] = t.borderColor[i];
  return CUDA_SUCCESS;
}

// The executor format and channel count of a resource view format; false for the block-
// compressed formats (not emulated).
bool view_format(CUresourceViewFormat f, exec::TexFormat* fmt, uint8_t* channels) {
  using F = exec::TexFormat;
  static constexpr F kKinds[8] = {F::U8, F::S8, F::U16, F::S16, F::U32, F::S32, F::F16, F::F32};
  // CU_RES_VIEW_FORMAT_UINT_1X8 (1) .. FLOAT_4X32 (0x18): eight kinds of three channel counts.
  const unsigned v = static_cast<unsigned>(f);
  if (v < CU_RES_VIEW_FORMAT_UINT_1X8 || v > CU_RES_VIEW_FORMAT_FLOAT_4X32) return false;
  const unsigned k = v - CU_RES_VIEW_FORMAT_UINT_1X8;
  *fmt = kKinds[k / 3];
  *channels = static_cast<uint8_t>(1u << (k % 3));
  return true;
}

// Applies a resource view to the descriptor of an array or mipmapped array: a format of the same
// texel size, a range of mip levels (lod 0 is the first) and a range of layers (cube faces for
// a cubemap array, whole cubes only). Width, height and depth must be the resource's own (other
// sizes exist only for block-compressed views); anything else is refused by name.
CUresult apply_view(const CUDA_RESOURCE_VIEW_DESC& v, const CUDA_RESOURCE_DESC& r, exec::TexDesc* d) {
  if (r.resType != CU_RESOURCE_TYPE_ARRAY && r.resType != CU_RESOURCE_TYPE_MIPMAPPED_ARRAY)
    return CUDA_ERROR_INVALID_VALUE;  // views apply to arrays only
  for (unsigned x : v.reserved)
    if (x != 0) return CUDA_ERROR_INVALID_VALUE;
  if (v.format != CU_RES_VIEW_FORMAT_NONE) {
    exec::TexFormat f;
    uint8_t ch = 0;
    if (!view_format(v.format, &f, &ch)) {
      log().info("cuTexObjectCreate: resource view format {:#x} (block compressed) is not emulated",
                 static_cast<unsigned>(v.format));
      return CUDA_ERROR_NOT_SUPPORTED;
    }
    if (exec::tex_format_bytes(f) * ch != exec::tex_format_bytes(d->format) * d->channels)
      return CUDA_ERROR_INVALID_VALUE;  // a view reinterprets texels of the same size
    d->format = f;
    d->channels = ch;
  }
  const exec::TexLevel& l0 = d->level[0];
  // Depth: a 3D array's depth; for layered and cubemap arrays their descriptor's Depth (the layer
  // or face count) or the view's own layer count.
  const uint64_t faces = static_cast<uint64_t>(d->layers) * (d->cubemap ? 6 : 1);
  const bool depth_ok = v.depth == 0 || (d->dims >= 3 && v.depth == l0.depth) ||
                        ((d->layered || d->cubemap) &&
                         (v.depth == faces || v.depth == static_cast<uint64_t>(v.lastLayer) - v.firstLayer + 1));
  if ((v.width != 0 && v.width != l0.width) || (v.height != 0 && v.height != (d->dims >= 2 ? l0.height : 0)) ||
      !depth_ok) {
    log().info("cuTexObjectCreate: a resource view with another width, height or depth than its array is not emulated");
    return CUDA_ERROR_NOT_SUPPORTED;
  }
  // Mip levels: the view's first level becomes level 0.
  if (v.lastMipmapLevel < v.firstMipmapLevel || v.lastMipmapLevel >= d->num_levels) return CUDA_ERROR_INVALID_VALUE;
  if (r.resType == CU_RESOURCE_TYPE_MIPMAPPED_ARRAY) {
    const uint32_t n = v.lastMipmapLevel - v.firstMipmapLevel + 1;
    for (uint32_t i = 0; i < n; ++i) d->level[i] = d->level[v.firstMipmapLevel + i];
    d->num_levels = n;
  }
  // Layers (faces of a cubemap array, six per cube).
  const uint32_t per = d->cubemap ? 6 : 1;
  const uint32_t total = d->layers * per;
  if (!d->layered) {
    const bool whole_cube = d->cubemap && v.firstLayer == 0 && (v.lastLayer == 0 || v.lastLayer == 5);
    if (!whole_cube && (v.firstLayer != 0 || v.lastLayer != 0)) return CUDA_ERROR_INVALID_VALUE;
    return CUDA_SUCCESS;
  }
  if (v.lastLayer < v.firstLayer || v.lastLayer >= total) return CUDA_ERROR_INVALID_VALUE;
  if (v.firstLayer % per != 0 || (v.lastLayer + 1) % per != 0) return CUDA_ERROR_INVALID_VALUE;
  const uint32_t first = v.firstLayer / per, count = (v.lastLayer + 1 - v.firstLayer) / per;
  for (uint32_t i = 0; i < d->num_levels; ++i) {
    exec::TexLevel& lv = d->level[i];
    lv.base += static_cast<uint64_t>(first) * per * lv.slice;
    lv.extent = static_cast<uint64_t>(count) * per * lv.slice;
  }
  d->layers = count;
  return CUDA_SUCCESS;
}

}  // namespace

const exec::TextureTable& texture_table() { return table(); }

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuTexObjectCreate(CUtexObject* pTex, const CUDA_RESOURCE_DESC* pRes,
                                                 const CUDA_TEXTURE_DESC* pTexDesc, const CUDA_RESOURCE_VIEW_DESC* pView) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  if (pTex == nullptr || pRes == nullptr || pTexDesc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto t = std::make_unique<TexObject>();
  t->res = *pRes;
  t->tex = *pTexDesc;
  if (CUresult r = resource(*pRes, &t->desc); r != CUDA_SUCCESS) return r;
  if (pView != nullptr) {  // before the sampler: the view's format decides the read mode
    if (CUresult r = apply_view(*pView, *pRes, &t->desc); r != CUDA_SUCCESS) return r;
    t->view = *pView;
    t->has_view = true;
  }
  if (CUresult r = sampler(*pTexDesc, &t->desc); r != CUDA_SUCCESS) return r;
  *pTex = table().add_tex(std::move(t));
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuTexObjectDestroy(CUtexObject h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  return table().remove_tex(h) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuTexObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUtexObject h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return table().with_tex(h, [&](const TexObject& t) { *out = t.res; }) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuTexObjectGetTextureDesc(CUDA_TEXTURE_DESC* out, CUtexObject h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return table().with_tex(h, [&](const TexObject& t) { *out = t.tex; }) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuTexObjectGetResourceViewDesc(CUDA_RESOURCE_VIEW_DESC* out, CUtexObject h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  bool had = false;
  if (!table().with_tex(h, [&](const TexObject& t) {
        had = t.has_view;
        *out = t.view;
      }))
    return CUDA_ERROR_INVALID_VALUE;
  return had ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuSurfObjectCreate(CUsurfObject* pSurf, const CUDA_RESOURCE_DESC* pRes) {
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  if (pSurf == nullptr || pRes == nullptr || pRes->flags != 0) return CUDA_ERROR_INVALID_VALUE;
  if (pRes->resType != CU_RESOURCE_TYPE_ARRAY) return CUDA_ERROR_INVALID_VALUE;
  Array* a = find_array(pRes->res.array.hArray);
  if (a == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (!(a->desc.Flags & CUDA_ARRAY3D_SURFACE_LDST)) return CUDA_ERROR_INVALID_VALUE;
  auto s = std::make_unique<SurfObject>();
  s->res = *pRes;
  s->desc.format = a->format;
  s->desc.channels = static_cast<uint8_t>(a->desc.NumChannels);
  array_geometry(*a, &s->desc.dims, &s->desc.layered, &s->desc.cubemap, &s->desc.layers);
  if (s->desc.cubemap) s->desc.layers *= 6;  // surfaces address cube faces as layers
  s->desc.level = array_level(*a);
  *pSurf = table().add_surf(std::move(s));
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuSurfObjectDestroy(CUsurfObject h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  return table().remove_surf(h) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuSurfObjectGetResourceDesc(CUDA_RESOURCE_DESC* out, CUsurfObject h) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return table().with_surf(h, [&](const SurfObject& s) { *out = s.res; }) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
