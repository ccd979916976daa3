// The texture and surface instructions: tex (plain, .level, .grad), tld4,
// txq, suld.b, sust.b and suq on texture and surface objects (a 64-bit
// handle in a register). The texel arithmetic is texture.cc's; this file
// lowers the PTX forms and runs them per lane, looking handles up through
// LaunchEnv::textures. Texture references (.texref names, the
// [tex, sampler, {...}] form) and the depth-compare operand of tex / tld4
// (the driver API has no way to give a texture object a comparison
// function) are refused at load with "unsupported instruction". sust.p
// converts the register values to the array's format (texture.cc).
//
// Kernels that use none of these pay nothing: the opcodes only add entries
// to the lowering table.
#include "block.h"
#include "lower_context.h"

#include "gpool/emu/exec/texture.h"

#include <cmath>
#include <cstring>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

enum class Geom : uint8_t { D1, D2, D3, A1, A2, Cube, ACube };
enum class TexMode : uint8_t { Plain, Level, Grad };
enum class Clamp : uint8_t { Trap, Clamp, Zero };

// Operand pool layout of tex/tld4 (LInstr::aux2 = first index):
// 0 handle, 1 layer, 2..4 x y z, 5 lod, 6..8 ddx, 9..11 ddy, 12..14 texel offsets.
constexpr int kTexOps = 15;

// aux bits: geom 0..3, mode 4..5, int coords 6, dtype 7..8 (0 f32, 1 s32, 2 u32), comp 9..10,
// tld4 11, offsets 12; surfaces: formatted (sust.p) 8, clamp 12..13, bytes per element 16..23,
// vector length 24..31.
uint32_t pack(Geom g, TexMode m, bool ic, uint32_t dtype, uint32_t comp, bool gather) {
  return static_cast<uint32_t>(g) | (static_cast<uint32_t>(m) << 4) | (ic ? 1u << 6 : 0) | (dtype << 7) |
         (comp << 9) | (gather ? 1u << 11 : 0);
}
Geom geom_of(uint32_t aux) { return static_cast<Geom>(aux & 15u); }

bool parse_geom(const std::string& m, Geom* g) {
  if (m == "1d") *g = Geom::D1;
  else if (m == "2d") *g = Geom::D2;
  else if (m == "3d") *g = Geom::D3;
  else if (m == "a1d") *g = Geom::A1;
  else if (m == "a2d") *g = Geom::A2;
  else if (m == "cube") *g = Geom::Cube;
  else if (m == "acube") *g = Geom::ACube;
  else return false;
  return true;
}
bool layered(Geom g) { return g == Geom::A1 || g == Geom::A2 || g == Geom::ACube; }
int spatial(Geom g) {
  switch (g) {
    case Geom::D1: case Geom::A1: return 1;
    case Geom::D2: case Geom::A2: return 2;
    default: return 3;
  }
}

bool refuse(const ptx::Instruction& in, LowerContext& ctx, const std::string& why) {
  return ctx.fail(in, fmt::format("unsupported instruction '{}' ({})", full_opcode(in), why));
}

// The handle and coordinate operands of [h, {c...}] into pool slots 0..4.
bool tex_address(const ptx::Instruction& in, LowerCtx& c, const ptx::Operand& a, Geom g, ptx::Type ct,
                 std::vector<LOperand>* pool) {
  if (a.kind != ptx::Operand::Kind::TexAddress)
    return refuse(in, c, "expected [handle, {coordinates}]");
  if (a.elems.size() != 2)
    return refuse(in, c, "texture references and separate samplers are not supported; use texture objects");
  if (a.elems[0].kind != ptx::Operand::Kind::Register)
    return refuse(in, c, "texture references are not supported; use texture objects");
  if (!c.src(a.elems[0], ptx::Type::B64, &(*pool)[0])) return false;
  const auto& v = a.elems[1].elems;
  size_t k = 0;
  if (layered(g)) {
    if (v.empty() || !c.src(v[0], ptx::Type::S32, &(*pool)[1])) return refuse(in, c, "layer operand");
    k = 1;
  }
  const int n = spatial(g);
  if (v.size() < k + static_cast<size_t>(n)) return refuse(in, c, "too few coordinates");
  for (int i = 0; i < n; ++i)
    if (!c.src(v[k + static_cast<size_t>(i)], ct, &(*pool)[2 + static_cast<size_t>(i)]))
      return refuse(in, c, "coordinate operand");
  return true;
}

bool dst4(const ptx::Instruction& in, LowerCtx& c, const ptx::Operand& d, ptx::Type t, LInstr& out) {
  if (d.kind != ptx::Operand::Kind::Vector || d.elems.size() != 4) return refuse(in, c, "expected a .v4 destination");
  for (int i = 0; i < 4; ++i)
    if (!c.dst(d.elems[static_cast<size_t>(i)], t, &out.d[i])) return false;
  out.nd = 4;
  return true;
}

uint32_t dtype_code(ptx::Type t) { return t == ptx::Type::S32 ? 1 : t == ptx::Type::U32 ? 2 : 0; }

void h_tex(const LInstr& in, WarpState& w, LaneMask active);

bool lower_tex_common(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, bool gather) {
  auto& c = static_cast<LowerCtx&>(ctx);
  TexMode mode = TexMode::Plain;
  Geom g = Geom::D1;
  bool have_geom = false;
  uint32_t comp = 0;
  std::vector<ptx::Type> types;
  for (const auto& m : in.modifiers) {
    if (m == "base" && !gather) mode = TexMode::Plain;  // lod 0, as without a mipmap mode
    else if (m == "level" && !gather) mode = TexMode::Level;
    else if (m == "grad" && !gather) mode = TexMode::Grad;
    else if (gather && (m == "r" || m == "g" || m == "b" || m == "a"))
      comp = m == "r" ? 0 : m == "g" ? 1 : m == "b" ? 2 : 3;
    else if (parse_geom(m, &g)) have_geom = true;
    else if (m == "v4") {
    } else if (auto t = ptx::type_from_name(m)) types.push_back(*t);
    else return refuse(in, ctx, "modifier ." + m);
  }
  if (!have_geom || types.size() != 2) return refuse(in, ctx, "needs a geometry, .v4 and two types");
  if (gather && g != Geom::D2 && g != Geom::A2) return refuse(in, ctx, "tld4 geometry");
  const ptx::Type dt = types[0], ct = types[1];
  if (dt != ptx::Type::F32 && dt != ptx::Type::S32 && dt != ptx::Type::U32) return refuse(in, ctx, "result type");
  if (ct != ptx::Type::F32 && ct != ptx::Type::S32) return refuse(in, ctx, "coordinate type");
  if (in.operands.size() < 2) return refuse(in, ctx, "operands");
  if (!dst4(in, c, in.operands[0], dt, out)) return false;
  std::vector<LOperand> pool(kTexOps);
  if (!tex_address(in, c, in.operands[1], g, ct, &pool)) return false;
  size_t want = 2;
  if (mode == TexMode::Level) {
    want = 3;
    if (in.operands.size() < 3 || !c.src(in.operands[2], ptx::Type::F32, &pool[5])) return refuse(in, ctx, "lod operand");
  } else if (mode == TexMode::Grad) {
    want = 4;
    if (in.operands.size() < 4) return refuse(in, ctx, "gradient operands");
    for (int k = 0; k < 2; ++k) {
      const auto& v = in.operands[2 + static_cast<size_t>(k)];
      if (v.kind != ptx::Operand::Kind::Vector) return refuse(in, ctx, "gradient operands");
      for (size_t i = 0; i < v.elems.size() && i < 3; ++i)
        if (!c.src(v.elems[i], ptx::Type::F32, &pool[6 + 3 * static_cast<size_t>(k) + i]))
          return refuse(in, ctx, "gradient operands");
    }
  }
  // Optional operands after these: a vector of .s32 texel offsets (e), then a scalar .f32 depth
  // compare value (f).
  bool offsets = false;
  if (in.operands.size() > want && in.operands[want].kind == ptx::Operand::Kind::Vector) {
    if (g == Geom::Cube || g == Geom::ACube) return refuse(in, ctx, "texel offsets do not exist for cubemaps");
    const auto& e = in.operands[want];
    const int n = spatial(g);
    if (e.elems.size() < static_cast<size_t>(n)) return refuse(in, ctx, "offset operand");
    for (int i = 0; i < n; ++i)
      if (!c.src(e.elems[static_cast<size_t>(i)], ptx::Type::S32, &pool[12 + static_cast<size_t>(i)]))
        return refuse(in, ctx, "offset operand");
    offsets = true;
    ++want;
  }
  if (in.operands.size() > want)
    return refuse(in, ctx,
                  "depth-compare operand: the driver API gives a texture object no comparison function, so "
                  "depth textures cannot be made (docs/emulator.md, \"Arrays, textures and surfaces\")");
  if (in.operands.size() != want) return refuse(in, ctx, "operands");
  const uint32_t first = ctx.add_operands(pool);
  if (first == UINT32_MAX) return refuse(in, ctx, "no operand pool");
  out.aux = pack(g, mode, ct == ptx::Type::S32, dtype_code(dt), comp, gather) | (offsets ? 1u << 12 : 0);
  out.aux2 = first;
  out.type = dt;
  out.fn = h_tex;
  return true;
}

bool lower_tex(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_tex_common(in, ctx, out, false);
}
bool lower_tld4(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) {
  return lower_tex_common(in, ctx, out, true);
}

uint32_t f2b(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}
float b2f(uint64_t v) {
  float f;
  const uint32_t b = static_cast<uint32_t>(v);
  std::memcpy(&f, &b, 4);
  return f;
}

// Every level of `d` is accessible global memory (an object whose array or
// allocation was freed must fault, not read freed memory).
bool levels_ok(const LaunchState& L, const TexDesc& d) {
  for (uint32_t i = 0; i < d.num_levels; ++i)
    if (d.level[i].extent != 0 && !L.memory->accessible(d.level[i].base, d.level[i].extent)) return false;
  return true;
}

void h_tex(const LInstr& in, WarpState& w, LaneMask active) {
  const LaunchState& L = *w.block->launch;
  const LOperand* ops = &L.k->operand_pool[in.aux2];
  const Geom g = geom_of(in.aux);
  const TexMode mode = static_cast<TexMode>((in.aux >> 4) & 3u);
  const bool ic = (in.aux >> 6) & 1u;
  const uint32_t dtype = (in.aux >> 7) & 3u;
  const int comp = static_cast<int>((in.aux >> 9) & 3u);
  const bool gather = (in.aux >> 11) & 1u;
  const bool offsets = (in.aux >> 12) & 1u;
  TexDesc d;
  uint64_t have = 0;
  bool valid = false;
  for (int lane = 0; lane < kWarpSize; ++lane) {
    if (!(active & (1u << lane))) continue;
    const uint64_t h = w.get(ops[0], lane);
    if (!valid || h != have) {
      if (L.textures == nullptr || !L.textures->texture(h, &d)) {
        w.fault(LaunchStatus::IllegalAddress,
                fmt::format("{}: {:#x} is not a live texture object", describe_site(in, w, lane), h));
        return;
      }
      if (!levels_ok(L, d)) {
        w.fault(LaunchStatus::IllegalAddress,
                fmt::format("{}: the memory of texture object {:#x} was freed", describe_site(in, w, lane), h));
        return;
      }
      have = h;
      valid = true;
    }
    TexCoords tc;
    tc.int_coords = ic;
    auto coord = [&](int i, float* f, int32_t* n) {
      const LOperand& o = ops[2 + i];
      if (o.kind == LOperand::Kind::None) return;
      const uint64_t v = w.get(o, lane);
      if (ic) *n = static_cast<int32_t>(v);
      else *f = b2f(v);
    };
    coord(0, &tc.x, &tc.ix);
    coord(1, &tc.y, &tc.iy);
    coord(2, &tc.z, &tc.iz);
    if (layered(g)) tc.layer = static_cast<int32_t>(w.get(ops[1], lane));
    if (mode == TexMode::Level) {
      tc.lod = b2f(w.get(ops[5], lane));
    } else if (mode == TexMode::Grad) {
      // The level of detail and the anisotropic footprint come from the gradients (texture.cc).
      tc.grad = true;
      for (int k = 0; k < 2; ++k)
        for (int i = 0; i < 3; ++i) {
          const LOperand& o = ops[6 + 3 * k + i];
          if (o.kind != LOperand::Kind::None) (k ? tc.ddy : tc.ddx)[i] = b2f(w.get(o, lane));
        }
    }
    if (offsets)
      for (int i = 0; i < 3; ++i)
        if (ops[12 + i].kind != LOperand::Kind::None) tc.off[i] = static_cast<int32_t>(w.get(ops[12 + i], lane));
    TexResult r = gather ? tex_gather(d, tc, comp) : tex_fetch(d, tc);
    for (int i = 0; i < 4; ++i) {
      uint32_t bits = r.bits[i];
      if (dtype == 0 && !r.is_float) bits = f2b(static_cast<float>(static_cast<int32_t>(bits)));
      if (dtype != 0 && r.is_float) {
        float f;
        std::memcpy(&f, &bits, 4);
        bits = static_cast<uint32_t>(static_cast<int32_t>(f));
      }
      if (in.d[i].kind == LOperand::Kind::Reg) w.reg(in.d[i].index)[lane] = bits;
    }
  }
}

// ---- surfaces ---------------------------------------------------------------

void h_suld(const LInstr& in, WarpState& w, LaneMask active);
void h_sust(const LInstr& in, WarpState& w, LaneMask active);
void h_sust_p(const LInstr& in, WarpState& w, LaneMask active);

bool lower_surf(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, bool store) {
  auto& c = static_cast<LowerCtx&>(ctx);
  Geom g = Geom::D1;
  bool have_geom = false, raw = false, formatted = false;
  uint32_t vec = 1;
  Clamp cl = Clamp::Trap;
  ptx::Type t = ptx::Type::None;
  for (const auto& m : in.modifiers) {
    if (m == "b") raw = true;
    else if (m == "p" && store) formatted = true;
    else if (m == "p") return refuse(in, ctx, "formatted surface loads (suld.p) are not in the PTX ISA");
    else if (parse_geom(m, &g)) have_geom = true;
    else if (m == "v2") vec = 2;
    else if (m == "v4") vec = 4;
    else if (m == "trap") cl = Clamp::Trap;
    else if (m == "clamp") cl = Clamp::Clamp;
    else if (m == "zero") cl = Clamp::Zero;
    else if (m == "ca" || m == "cg" || m == "cs" || m == "cv" || m == "wb" || m == "wt") {
    } else if (auto ty = ptx::type_from_name(m)) t = *ty;
    else return refuse(in, ctx, "modifier ." + m);
  }
  if (raw == formatted || !have_geom || g == Geom::Cube || g == Geom::ACube)
    return refuse(in, ctx, "needs .b (or sust.p) and a 1d/2d/3d/a1d/a2d geometry");
  if (t != ptx::Type::B8 && t != ptx::Type::B16 && t != ptx::Type::B32 && t != ptx::Type::B64)
    return refuse(in, ctx, "element type");
  if (formatted && t != ptx::Type::B32) return refuse(in, ctx, "sust.p stores .b32 values");
  if (in.operands.size() != 2) return refuse(in, ctx, "operands");
  const auto& a = store ? in.operands[0] : in.operands[1];
  const auto& v = store ? in.operands[1] : in.operands[0];
  std::vector<LOperand> pool(kTexOps);
  if (!tex_address(in, c, a, g, ptx::Type::S32, &pool)) return false;
  std::vector<const ptx::Operand*> vals;
  if (v.kind == ptx::Operand::Kind::Vector) {
    for (const auto& e : v.elems) vals.push_back(&e);
  } else {
    vals.push_back(&v);
  }
  if (vals.size() != vec) return refuse(in, ctx, "value operand count");
  for (uint32_t i = 0; i < vec; ++i) {
    if (store) {
      if (!c.src(*vals[i], t, &pool[5 + i])) return refuse(in, ctx, "value operand");
    } else if (!c.dst(*vals[i], t, &out.d[i])) {
      return refuse(in, ctx, "destination operand");
    }
  }
  out.nd = store ? 0 : static_cast<uint8_t>(vec);
  const uint32_t first = ctx.add_operands(pool);
  if (first == UINT32_MAX) return refuse(in, ctx, "no operand pool");
  out.aux = static_cast<uint32_t>(g) | (formatted ? 1u << 8 : 0) | (static_cast<uint32_t>(cl) << 12) |
            (ptx::type_size(t) << 16) | (vec << 24);
  out.aux2 = first;
  out.type = t;
  out.fn = formatted ? h_sust_p : store ? h_sust : h_suld;
  return true;
}
bool lower_suld(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) { return lower_surf(in, ctx, out, false); }
bool lower_sust(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) { return lower_surf(in, ctx, out, true); }

// Resolves one lane's surface access to an address; nullptr for a dropped
// (.zero) access; faults (and returns nullptr, *faulted) for .trap.
uint8_t* surf_addr(const LInstr& in, WarpState& w, int lane, const SurfDesc& s, const LOperand* ops, bool* faulted) {
  const Geom g = geom_of(in.aux);
  const Clamp cl = static_cast<Clamp>((in.aux >> 12) & 3u);
  const bool formatted = (in.aux >> 8) & 1u;
  const uint32_t texel_bytes = tex_format_bytes(s.format) * s.channels;
  // sust.p addresses whole texels (x is a sample index); .b addresses bytes.
  const uint32_t esize = formatted ? texel_bytes : ((in.aux >> 16) & 0xffu) * ((in.aux >> 24) & 0xffu);
  const TexLevel& lv = s.level;
  int64_t x = static_cast<int32_t>(w.get(ops[2], lane));
  if (formatted) x *= texel_bytes;
  int64_t y = spatial(g) >= 2 ? static_cast<int32_t>(w.get(ops[3], lane)) : 0;
  int64_t z = spatial(g) >= 3 ? static_cast<int32_t>(w.get(ops[4], lane)) : 0;
  int64_t layer = layered(g) ? static_cast<int32_t>(w.get(ops[1], lane)) : 0;
  const int64_t row = static_cast<int64_t>(lv.width) * tex_format_bytes(s.format) * s.channels;
  const int64_t h = spatial(g) >= 2 ? lv.height : 1, dp = g == Geom::D3 ? lv.depth : 1;
  const int64_t nl = layered(g) ? s.layers : 1;
  const bool out_of_range = x < 0 || x + esize > row || y < 0 || y >= h || z < 0 || z >= dp || layer < 0 || layer >= nl;
  if (out_of_range) {
    if (cl == Clamp::Zero) return nullptr;
    if (cl == Clamp::Trap) {
      w.fault(LaunchStatus::IllegalAddress,
              fmt::format("{}: surface coordinate (x {} bytes, y {}, z {}, layer {}) is out of range",
                          describe_site(in, w, lane), x, y, z, layer));
      *faulted = true;
      return nullptr;
    }
    x = std::clamp<int64_t>(x, 0, std::max<int64_t>(row - esize, 0)) / esize * esize;
    y = std::clamp<int64_t>(y, 0, h - 1);
    z = std::clamp<int64_t>(z, 0, dp - 1);
    layer = std::clamp<int64_t>(layer, 0, nl - 1);
  }
  if (x % esize != 0) {
    w.fault(LaunchStatus::MisalignedAddress,
            fmt::format("{}: surface x {} is not a multiple of the access size {}", describe_site(in, w, lane), x, esize));
    *faulted = true;
    return nullptr;
  }
  const uint64_t zz = static_cast<uint64_t>(g == Geom::D3 ? z : layer);
  return reinterpret_cast<uint8_t*>(lv.base + zz * lv.slice + static_cast<uint64_t>(y) * lv.pitch + static_cast<uint64_t>(x));
}

// The surface object `h` that `lane` names, into *s, looked up only when it is not the one the
// warp already holds (*have, while *valid). False, after faulting the warp, when it is not a live
// surface object or its array was freed.
bool surface_of(const LInstr& in, WarpState& w, int lane, uint64_t h, SurfDesc* s, uint64_t* have, bool* valid) {
  if (*valid && h == *have) return true;
  const LaunchState& L = *w.block->launch;
  if (L.textures == nullptr || !L.textures->surface(h, s)) {
    w.fault(LaunchStatus::IllegalAddress,
            fmt::format("{}: {:#x} is not a live surface object", describe_site(in, w, lane), h));
    return false;
  }
  if (!L.memory->accessible(s->level.base, s->level.extent)) {
    w.fault(LaunchStatus::IllegalAddress,
            fmt::format("{}: the array of surface object {:#x} was freed", describe_site(in, w, lane), h));
    return false;
  }
  *have = h;
  *valid = true;
  return true;
}

template <bool kStore>
void surf_run(const LInstr& in, WarpState& w, LaneMask active) {
  const LaunchState& L = *w.block->launch;
  const LOperand* ops = &L.k->operand_pool[in.aux2];
  const uint32_t tsize = (in.aux >> 16) & 0xffu, vec = (in.aux >> 24) & 0xffu;
  SurfDesc s;
  uint64_t have = 0;
  bool valid = false;
  for (int lane = 0; lane < kWarpSize; ++lane) {
    if (!(active & (1u << lane))) continue;
    if (!surface_of(in, w, lane, w.get(ops[0], lane), &s, &have, &valid)) return;
    bool faulted = false;
    uint8_t* p = surf_addr(in, w, lane, s, ops, &faulted);
    if (faulted) return;
    for (uint32_t i = 0; i < vec; ++i) {
      if (kStore) {
        if (p == nullptr) break;
        const uint64_t v = w.get(ops[5 + i], lane);
        std::memcpy(p + i * tsize, &v, tsize);
      } else {
        uint64_t v = 0;
        if (p != nullptr) std::memcpy(&v, p + i * tsize, tsize);
        if (in.d[i].kind == LOperand::Kind::Reg) w.reg(in.d[i].index)[lane] = v;
      }
    }
  }
}
void h_suld(const LInstr& in, WarpState& w, LaneMask active) { surf_run<false>(in, w, active); }

// sust.p: the values are .f32, .u32 or .s32 as the array's format says, converted to it.
void h_sust_p(const LInstr& in, WarpState& w, LaneMask active) {
  const LaunchState& L = *w.block->launch;
  const LOperand* ops = &L.k->operand_pool[in.aux2];
  const uint32_t vec = (in.aux >> 24) & 0xffu;
  SurfDesc s;
  uint64_t have = 0;
  bool valid = false;
  for (int lane = 0; lane < kWarpSize; ++lane) {
    if (!(active & (1u << lane))) continue;
    if (!surface_of(in, w, lane, w.get(ops[0], lane), &s, &have, &valid)) return;
    bool faulted = false;
    uint8_t* p = surf_addr(in, w, lane, s, ops, &faulted);
    if (faulted) return;
    if (p == nullptr) continue;
    uint32_t v[4] = {0, 0, 0, 0};
    for (uint32_t i = 0; i < vec && i < 4; ++i) v[i] = static_cast<uint32_t>(w.get(ops[5 + i], lane));
    surf_store_formatted(s.format, s.channels, p, v, static_cast<int>(vec));
  }
}
void h_sust(const LInstr& in, WarpState& w, LaneMask active) { surf_run<true>(in, w, active); }

// ---- queries ----------------------------------------------------------------

enum class Query : uint8_t { Width, Height, Depth, ArraySize, Levels, Normalized };

template <bool kSurface>
void h_query(const LInstr& in, WarpState& w, LaneMask active) {
  const LaunchState& L = *w.block->launch;
  const Query q = static_cast<Query>(in.aux);
  for (int lane = 0; lane < kWarpSize; ++lane) {
    if (!(active & (1u << lane))) continue;
    const uint64_t h = w.get(in.s[0], lane);
    TexDesc d;
    SurfDesc s;
    const bool ok = L.textures != nullptr && (kSurface ? L.textures->surface(h, &s) : L.textures->texture(h, &d));
    if (!ok) {
      w.fault(LaunchStatus::IllegalAddress,
              fmt::format("{}: {:#x} is not a live {} object", describe_site(in, w, lane), h, kSurface ? "surface" : "texture"));
      return;
    }
    const TexLevel& lv = kSurface ? s.level : d.level[0];
    const uint32_t layers = kSurface ? s.layers : d.layers;
    uint32_t v = 0;
    switch (q) {
      case Query::Width: v = lv.width; break;
      case Query::Height: v = lv.height; break;
      case Query::Depth: v = lv.depth; break;
      case Query::ArraySize: v = layers; break;
      case Query::Levels: v = kSurface ? 1 : d.num_levels; break;
      case Query::Normalized: v = kSurface ? 0 : (d.normalized_coords ? 1 : 0); break;
    }
    if (in.d[0].kind == LOperand::Kind::Reg) w.reg(in.d[0].index)[lane] = v;
  }
}

bool lower_query(const ptx::Instruction& in, LowerContext& ctx, LInstr& out, bool surface) {
  auto& c = static_cast<LowerCtx&>(ctx);
  Query q = Query::Width;
  bool have = false;
  for (const auto& m : in.modifiers) {
    if (m == "width") q = Query::Width, have = true;
    else if (m == "height") q = Query::Height, have = true;
    else if (m == "depth") q = Query::Depth, have = true;
    else if (m == "array_size") q = Query::ArraySize, have = true;
    else if (m == "num_mipmap_levels" && !surface) q = Query::Levels, have = true;
    else if (m == "normalized_coords" && !surface) q = Query::Normalized, have = true;
    else if (m == "b32") {
    } else return refuse(in, ctx, "query ." + m);
  }
  if (!have || in.operands.size() != 2) return refuse(in, ctx, "operands");
  const auto& a = in.operands[1];
  if (a.kind != ptx::Operand::Kind::Address || a.base_is_symbol || a.name.empty() || a.ivalue != 0)
    return refuse(in, ctx, "texture references are not supported; use texture objects");
  ptx::Operand r;
  r.kind = ptx::Operand::Kind::Register;
  r.name = a.name;
  if (!c.src(r, ptx::Type::B64, &out.s[0]) || !c.dst(in.operands[0], ptx::Type::B32, &out.d[0])) return false;
  out.ns = 1;
  out.nd = 1;
  out.aux = static_cast<uint32_t>(q);
  out.fn = surface ? h_query<true> : h_query<false>;
  return true;
}
bool lower_txq(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) { return lower_query(in, ctx, out, false); }
bool lower_suq(const ptx::Instruction& in, LowerContext& ctx, LInstr& out) { return lower_query(in, ctx, out, true); }

}  // namespace

void register_tex_ops(OpTable& t) {
  t.add("tex", lower_tex);
  t.add("tld4", lower_tld4);
  t.add("txq", lower_txq);
  t.add("suld", lower_suld);
  t.add("sust", lower_sust);
  t.add("suq", lower_suq);
}

}  // namespace gpool::emu::exec
