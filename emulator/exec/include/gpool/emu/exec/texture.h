// Texture and surface sampling: what a texture or surface object is to the
// executor, and the texel arithmetic of the PTX tex / tld4 / suld / sust
// instructions, following the CUDA programming guide's "Texture Fetching"
// appendix (point and linear filtering with 9-bit fixed-point weights,
// wrap / clamp / mirror / border addressing, normalized coordinates, read
// modes, sRGB, layered and cubemap textures).
//
// Ownership: a TexDesc is plain data the runtime fills for each object
// (emulator/runtime/src/texobj.cc) and the executor copies per lookup. The
// texel memory it names belongs to the runtime; the executor checks it with
// GlobalMemory::accessible before every read (an object whose array was freed
// faults instead of reading freed memory).
//
// Thread safety: the functions here are pure; TextureTable implementations
// are called concurrently from every interpreter thread.
#pragma once

#include <cstdint>

namespace gpool::emu::exec {

// Texel channel formats (the CUarray_format values the emulator supports).
enum class TexFormat : uint8_t { U8, U16, U32, S8, S16, S32, F16, F32 };
uint32_t tex_format_bytes(TexFormat f);

enum class TexAddress : uint8_t { Wrap, Clamp, Mirror, Border };

// One mip level (level 0 is the only one of a plain array or linear memory).
struct TexLevel {
  uint64_t base = 0;    // address of texel (0, 0, 0) of layer 0
  uint32_t width = 1, height = 1, depth = 1;  // texels
  uint64_t pitch = 0;   // bytes between rows
  uint64_t slice = 0;   // bytes between depth slices / layers / cube faces
  uint64_t extent = 0;  // bytes from base to one past the last texel (all layers)
};

struct TexDesc {
  static constexpr int kMaxLevels = 16;
  TexFormat format = TexFormat::F32;
  uint8_t channels = 1;        // 1, 2 or 4
  uint8_t dims = 1;            // 1, 2 or 3 (a cubemap is 2 with `cubemap`)
  bool layered = false;
  bool cubemap = false;
  bool linear_memory = false;  // CU_RESOURCE_TYPE_LINEAR: tex1Dfetch, out of range reads 0
  uint32_t layers = 1;         // layered: layers; cubemap: 6 x layers of faces in `slice` steps
  TexAddress address[3] = {TexAddress::Clamp, TexAddress::Clamp, TexAddress::Clamp};
  bool linear_filter = false;
  bool mip_linear = false;
  bool normalized_coords = false;
  bool read_as_integer = false;  // CU_TRSF_READ_AS_INTEGER (8/16-bit formats otherwise read as [0,1]/[-1,1])
  bool srgb = false;
  bool seamless_cube = false;  // CU_TRSF_SEAMLESS_CUBEMAP: linear filtering crosses cube faces
  uint32_t max_aniso = 1;      // maxAnisotropy (1..16): samples along the major axis of tex.grad
  float border[4] = {0, 0, 0, 0};
  float lod_bias = 0, min_lod = 0, max_lod = 0;
  uint32_t num_levels = 1;
  TexLevel level[kMaxLevels];
};

// A surface: level 0 of an array, addressed in bytes along x.
struct SurfDesc {
  TexFormat format = TexFormat::U8;
  uint8_t channels = 1;
  uint8_t dims = 1;
  bool layered = false;
  bool cubemap = false;
  uint32_t layers = 1;
  TexLevel level;
};

// Looks texture and surface object handles up for the executor. Implemented
// by the runtime; must be thread safe and cheap.
class TextureTable {
 public:
  virtual ~TextureTable() = default;
  // False when `handle` is not a live texture (surface) object.
  virtual bool texture(uint64_t handle, TexDesc* out) const = 0;
  virtual bool surface(uint64_t handle, SurfDesc* out) const = 0;
};

// The result of a fetch: four channels as f32 bits, or as 32-bit integers
// when the texture reads integers (is_float false).
struct TexResult {
  uint32_t bits[4] = {0, 0, 0, 0};
  bool is_float = true;
};

// Where a fetch looks: coordinates as written in the tex instruction (x, y, z;
// unnormalized or normalized as the descriptor says; integer texel
// coordinates when `int_coords`), the layer of a layered fetch, and the
// level of detail (0 unless tex.level chose one). With `grad`, the level (and,
// with max_aniso > 1, the anisotropic footprint) comes from the gradients
// ddx / ddy (in the same units as the coordinates) instead of `lod`. `off`
// is the texel offset operand of tex (-8..7 texels per axis, added in texel
// space before addressing).
struct TexCoords {
  float x = 0, y = 0, z = 0;
  int32_t ix = 0, iy = 0, iz = 0;
  bool int_coords = false;
  int32_t layer = 0;
  float lod = 0;
  bool grad = false;
  float ddx[3] = {0, 0, 0}, ddy[3] = {0, 0, 0};
  int32_t off[3] = {0, 0, 0};
};

// True when the texture is returned as floats (float formats, or integer
// formats read as normalized floats).
bool tex_returns_float(const TexDesc& d);

// tex: the filtered value at `c`. Reads texel memory directly: the caller
// has checked [level.base, level.base + level.extent) for every level.
TexResult tex_fetch(const TexDesc& d, const TexCoords& c);

// tld4: component `comp` (0..3) of the four texels that bilinear filtering at
// (c.x, c.y) would weight, in the PTX order (i0,j1), (i1,j1), (i1,j0), (i0,j0).
TexResult tex_gather(const TexDesc& d, const TexCoords& c, int comp);

// One channel as a float as tex returns it (normalization, sRGB applied):
// exposed for the unit tests.
float tex_texel_channel(const TexDesc& d, const uint8_t* texel, int channel);

// The 1.8 fixed-point weight linear filtering uses for fraction `f` in [0, 1).
float tex_weight_9bit(float f);

// Applies an address mode to an integer texel index in [0, n): -1 for a
// border texel.
int32_t tex_address_index(TexAddress mode, int32_t i, int32_t n);

// Cubemap face selection: face 0..5 and normalized (u, v) on it.
void tex_cube_face(float x, float y, float z, int* face, float* u, float* v);

// The inverse of tex_cube_face for a point (u, v) of face `face` (u, v may lie
// outside [0, 1]): a direction that selects that point.
void tex_cube_direction(int face, float u, float v, float dir[3]);

// The texel of an n x n cube face that seamless filtering reads for the
// (possibly out-of-face) index (i, j) on face `face`: the same face when the
// index is inside it, else the neighbouring face's texel across the edge.
// Exactly one of i, j may lie outside [0, n).
void tex_cube_neighbour(int face, int32_t i, int32_t j, int32_t n, int* out_face, int32_t* oi, int32_t* oj);

// The footprint of tex.grad: the level of detail and the sample points.
// Gradients are in texels of level 0 (`size` scales normalized ones). With
// max_aniso 1 (or isotropic gradients) it is one sample at the coordinate
// and lod = log2 of the longer gradient; otherwise N = min(ceil(Pmax / Pmin),
// max_aniso) samples spread evenly along the longer gradient and lod =
// log2(Pmax / N) (docs/emulator.md, "Anisotropic filtering").
struct TexFootprint {
  float lod = 0;
  int samples = 1;
  float step[3] = {0, 0, 0};  // coordinate units between two samples
};
TexFootprint tex_footprint(const float ddx[3], const float ddy[3], const float size[3], int dims,
                           uint32_t max_aniso);

// sust.p: converts `n` 32-bit values (R, G, B, A in order) to one texel of
// `format` with `channels` channels at `texel`. Float formats take the values
// as .f32 (F16 rounds to nearest even); unsigned integer formats as .u32 and
// signed ones as .s32, saturated to the channel's range. Channels the values
// do not reach keep their bytes (the ISA leaves them unpredictable); values
// beyond the channels are ignored.
void surf_store_formatted(TexFormat format, int channels, uint8_t* texel, const uint32_t* values, int n);

}  // namespace gpool::emu::exec
