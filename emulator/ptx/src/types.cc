// Type names and sizes, and VarDecl::byte_size (declared in ast.h).
#include "gpool/emu/ptx/ast.h"

#include <array>
#include <utility>

namespace gpool::emu::ptx {
namespace {

struct TypeInfo {
  Type type;
  const char* name;
  uint32_t size;
};

constexpr std::array<TypeInfo, 24> kTypes = {{
    {Type::None, "", 0},        {Type::B8, "b8", 1},          {Type::B16, "b16", 2},
    {Type::B32, "b32", 4},      {Type::B64, "b64", 8},        {Type::B128, "b128", 16},
    {Type::U8, "u8", 1},        {Type::U16, "u16", 2},        {Type::U32, "u32", 4},
    {Type::U64, "u64", 8},      {Type::S8, "s8", 1},          {Type::S16, "s16", 2},
    {Type::S32, "s32", 4},      {Type::S64, "s64", 8},        {Type::F16, "f16", 2},
    {Type::F16x2, "f16x2", 4},  {Type::BF16, "bf16", 2},      {Type::BF16x2, "bf16x2", 4},
    {Type::F32, "f32", 4},      {Type::F64, "f64", 8},        {Type::Pred, "pred", 1},
    {Type::TF32, "tf32", 4},    {Type::E4M3x2, "e4m3x2", 2},  {Type::E5M2x2, "e5m2x2", 2},
}};

const TypeInfo* info(Type t) {
  for (const auto& i : kTypes)
    if (i.type == t) return &i;
  return nullptr;
}

}  // namespace

std::optional<Type> type_from_name(std::string_view name) {
  if (name.empty()) return std::nullopt;
  for (const auto& i : kTypes)
    if (name == i.name) return i.type;
  return std::nullopt;
}

const char* type_name(Type t) {
  const TypeInfo* i = info(t);
  return i ? i->name : "?";
}

uint32_t type_size(Type t) {
  const TypeInfo* i = info(t);
  return i ? i->size : 0;
}

uint64_t VarDecl::byte_size() const {
  uint64_t size = static_cast<uint64_t>(type_size(type)) * (vector_width ? vector_width : 1);
  for (uint64_t d : dims) {
    if (d == 0) return 0;
    if (size != 0 && d > UINT64_MAX / size) return 0;  // absurd size: treat as unknown
    size *= d;
  }
  return size;
}

}  // namespace gpool::emu::ptx
