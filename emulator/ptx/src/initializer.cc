// Variable initializers: "= 5", "= {1, 2, 3}", nested braces for arrays,
// symbol addresses ("sym", "sym+8", "generic(sym)") recorded as relocations,
// and byte masks of addresses in .b8 arrays ("0xFF00(sym)").
#include "parser_impl.h"

#include <cstring>
#include <functional>
#include <map>

namespace gpool::emu::ptx::detail {
namespace {

constexpr uint64_t kMaxInitBytes = 1ull << 28;  // 256 MiB: beyond this the input is not real PTX

bool is_float_type(Type t) { return t == Type::F32 || t == Type::F64; }
bool is_half_type(Type t) {
  return t == Type::F16 || t == Type::BF16 || t == Type::F16x2 || t == Type::BF16x2;
}

struct Value {
  enum class Kind : uint8_t { Int, Float, Sym } kind = Kind::Int;
  uint64_t bits = 0;
  bool is_double = false;
  std::string sym;
  int64_t addend = 0;
  bool generic = false;
  uint64_t mask = 0;  // byte mask form 0xFF..(sym); 0 = a full-width value
  Token at;
};

struct MaskGroup {
  std::string sym;
  int64_t addend = 0;
  bool generic = false;
  uint32_t bytes = 0;  // bit k set: byte k present
  Token at;
};

}  // namespace

void Parser::initializer(VarDecl* d) {
  std::vector<uint64_t> shape = d->dims;
  if (d->vector_width > 1) shape.push_back(d->vector_width);
  auto product_from = [&](size_t level) {
    uint64_t p = 1;
    for (size_t i = level; i < shape.size(); ++i) {
      if (shape[i] != 0 && p > kMaxInitBytes / shape[i]) fail(peek(), "initialized variable too large");
      p *= shape[i];
    }
    return p;
  };
  const uint32_t elem = type_size(d->type);

  auto symbol_ref = [&](Value* v) {
    v->kind = Value::Kind::Sym;
    if (peek().kind == Token::Kind::Ident && peek().text == "generic" && peek(1).is('(')) {
      next();
      next();
      v->generic = true;
      v->sym = expect_name("a symbol inside generic( )");
      if (accept('+')) {
        bool neg = accept('-');
        v->addend = static_cast<int64_t>(neg ? 0 - expect_uint("an offset") : expect_uint("an offset"));
      }
      expect(')', "closing generic(");
    } else {
      v->sym = expect_name("a symbol");
    }
    if (accept('+')) {
      bool neg = accept('-');
      uint64_t off = expect_uint("an offset after '+'");
      v->addend += static_cast<int64_t>(neg ? 0 - off : off);
    } else if (peek().is('-') && peek(1).kind == Token::Kind::Int) {
      next();
      v->addend -= static_cast<int64_t>(expect_uint("an offset after '-'"));
    }
  };

  auto value = [&]() {
    Value v;
    v.at = peek();
    if (peek().kind == Token::Kind::Int && peek(1).is('(')) {
      uint64_t mask = expect_uint("a byte mask");
      next();  // (
      symbol_ref(&v);
      expect(')', "closing the masked address");
      v.mask = mask;
      return v;
    }
    if (peek().kind == Token::Kind::Ident) {
      symbol_ref(&v);
      return v;
    }
    bool neg = accept('-');
    Operand n = number(neg);
    if (n.kind == Operand::Kind::IntImm) {
      v.kind = Value::Kind::Int;
      v.bits = static_cast<uint64_t>(n.ivalue);
    } else {
      v.kind = Value::Kind::Float;
      v.bits = n.fbits;
      v.is_double = n.is_double;
    }
    return v;
  };

  std::vector<std::pair<uint64_t, Value>> values;  // flat element index -> value
  uint64_t pos = 0;
  std::function<void(size_t)> list = [&](size_t level) {
    expect('{', "opening an initializer list");
    const uint64_t sub = product_from(level + 1);
    if (!peek().is('}')) {
      do {
        if (peek().is('{')) {
          if (level + 1 >= shape.size()) fail(peek(), "too many nested braces in initializer");
          pos = (pos + sub - 1) / sub * sub;
          uint64_t begin = pos;
          list(level + 1);
          pos = begin + sub;
        } else {
          values.emplace_back(pos++, value());
        }
        if (pos > kMaxInitBytes) fail(peek(), "initializer too long");
      } while (accept(','));
    }
    expect('}', "closing the initializer list");
  };
  if (peek().is('{')) {
    list(0);
  } else {
    values.emplace_back(pos++, value());
  }

  // Element count: unsized first dimension takes its size from the initializer.
  if (!d->dims.empty() && d->dims[0] == 0) {
    uint64_t row = product_from(1);
    d->dims[0] = (pos + row - 1) / row;
    if (d->dims[0] == 0) d->dims[0] = 1;
    shape[0] = d->dims[0];
  }
  const uint64_t total = product_from(0);
  if (pos > total)
    fail(values.back().second.at, "too many initializers for '" + d->name + "' (" +
                                      std::to_string(total) + " elements)");
  if (total * elem > kMaxInitBytes) fail(values.back().second.at, "initialized variable too large");
  d->init.assign(total * elem, 0);

  std::map<uint64_t, MaskGroup> groups;  // byte offset of the address -> masked bytes seen
  for (auto& [index, v] : values) {
    const uint64_t off = index * elem;
    if (v.kind == Value::Kind::Sym && v.mask != 0) {
      if (elem != 1) fail(v.at, "byte-masked addresses are only allowed in .b8/.u8/.s8 arrays");
      int k = -1;
      for (int b = 0; b < 8; ++b)
        if (v.mask == (0xffull << (8 * b))) k = b;
      if (k < 0) fail(v.at, "byte mask must be one of 0xFF, 0xFF00, ..., 0xFF00000000000000");
      if (off < static_cast<uint64_t>(k)) fail(v.at, "masked address byte before the start of the variable");
      MaskGroup& g = groups[off - k];
      if (g.bytes == 0) {
        g.sym = v.sym;
        g.addend = v.addend;
        g.generic = v.generic;
        g.at = v.at;
      } else if (g.sym != v.sym || g.addend != v.addend || g.generic != v.generic) {
        fail(v.at, "masked address bytes of different symbols overlap");
      }
      g.bytes |= 1u << k;
      continue;
    }
    if (v.kind == Value::Kind::Sym) {
      if (elem != 4 && elem != 8) fail(v.at, "a symbol address initializer needs a 32- or 64-bit element type");
      d->relocs.push_back(InitReloc{off, v.sym, v.addend, elem, v.generic});
      continue;
    }
    uint64_t bits = v.bits;
    if (v.kind == Value::Kind::Int) {
      if (d->type == Type::F32) {
        float f = static_cast<float>(static_cast<int64_t>(v.bits));
        uint32_t b32;
        std::memcpy(&b32, &f, 4);
        bits = b32;
      } else if (d->type == Type::F64) {
        double f = static_cast<double>(static_cast<int64_t>(v.bits));
        std::memcpy(&bits, &f, 8);
      }
    } else {
      if (d->type == Type::F32 || d->type == Type::B32 || d->type == Type::U32 || d->type == Type::S32) {
        if (v.is_double) {
          double f;
          std::memcpy(&f, &v.bits, 8);
          float g = static_cast<float>(f);
          uint32_t b32;
          std::memcpy(&b32, &g, 4);
          bits = b32;
        }
        if (!is_float_type(d->type) && v.is_double)
          fail(v.at, "a double literal cannot initialize a 32-bit integer variable");
      } else if (d->type == Type::F64 || d->type == Type::B64) {
        if (!v.is_double) {
          float f;
          uint32_t b32 = static_cast<uint32_t>(v.bits);
          std::memcpy(&f, &b32, 4);
          double g = f;
          std::memcpy(&bits, &g, 8);
        }
      } else if (is_half_type(d->type)) {
        fail(v.at, "float literals for half-precision variables are not supported; use integer bit patterns");
      } else {
        fail(v.at, std::string("a float literal cannot initialize a .") + type_name(d->type) + " variable");
      }
    }
    for (uint32_t b = 0; b < elem && b < 8; ++b) d->init[off + b] = static_cast<uint8_t>(bits >> (8 * b));
  }
  for (auto& [off, g] : groups) {
    uint32_t width = (g.bytes & 0xf0u) ? 8 : 4;
    if (g.bytes != ((1u << width) - 1))
      fail(g.at, "incomplete byte-masked address of '" + g.sym + "' (need all " +
                     std::to_string(width) + " bytes)");
    if (off + width > d->init.size()) fail(g.at, "byte-masked address runs past the end of the variable");
    d->relocs.push_back(InitReloc{off, g.sym, g.addend, width, g.generic});
  }
}

}  // namespace gpool::emu::ptx::detail
