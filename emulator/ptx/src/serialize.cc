// Binary form of ptx::Module (serialize.h): little-endian fixed-width integers, strings and
// vectors as a u32 count followed by their elements, fields in declaration order.
#include "gpool/emu/ptx/serialize.h"

#include <cstring>
#include <limits>
#include <type_traits>

namespace gpool::emu::ptx {
namespace {

// Integers are LEB128 varints (signed ones zigzag-coded): most are small (line numbers, counts,
// flags, enumerators), so an entry is about half the size of a fixed-width one.
class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}
  template <class T>
    requires std::is_integral_v<T>
  void num(T v) {
    uint64_t u;
    if constexpr (std::is_signed_v<T>) {
      const auto x = static_cast<int64_t>(v);
      u = (static_cast<uint64_t>(x) << 1) ^ static_cast<uint64_t>(x >> 63);
    } else {
      u = static_cast<uint64_t>(v);
    }
    while (u >= 0x80) {
      out_->push_back(static_cast<char>((u & 0x7f) | 0x80));
      u >>= 7;
    }
    out_->push_back(static_cast<char>(u));
  }
  template <class E>
    requires std::is_enum_v<E>
  void num(E v) {
    num(static_cast<std::underlying_type_t<E>>(v));
  }
  void str(const std::string& s) {
    num(static_cast<uint32_t>(s.size()));
    out_->append(s);
  }

 private:
  std::string* out_;
};

struct Bad {
  std::string what;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <class T>
    requires std::is_integral_v<T>
  void num(T* v) {
    uint64_t u = 0;
    for (int shift = 0;; shift += 7) {
      if (shift > 63) throw Bad{"an integer is too long"};
      need(1);
      const auto b = static_cast<uint8_t>(in_[pos_++]);
      u |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) break;
    }
    if constexpr (std::is_signed_v<T>) {
      const auto x = static_cast<int64_t>((u >> 1) ^ (~(u & 1) + 1));
      if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) throw Bad{"an integer is out of range"};
      *v = static_cast<T>(x);
    } else {
      if (u > std::numeric_limits<T>::max()) throw Bad{"an integer is out of range"};
      *v = static_cast<T>(u);
    }
  }
  void num(bool* v) {
    uint8_t b = 0;
    num(&b);
    if (b > 1) throw Bad{"a flag is neither 0 nor 1"};
    *v = b != 0;
  }
  template <class E>
    requires std::is_enum_v<E>
  void num(E* v, std::underlying_type_t<E> max) {
    std::underlying_type_t<E> raw{};
    num(&raw);
    if (raw > max) throw Bad{"an enumerator is out of range"};
    *v = static_cast<E>(raw);
  }
  void str(std::string* s) {
    uint32_t n = 0;
    num(&n);
    need(n);
    s->assign(in_.data() + pos_, n);
    pos_ += n;
  }
  // A count of elements each at least `min_bytes` long: bounded by the bytes left.
  uint32_t count(size_t min_bytes) {
    uint32_t n = 0;
    num(&n);
    if (min_bytes != 0 && n > (in_.size() - pos_) / min_bytes) throw Bad{"a count exceeds the bytes left"};
    return n;
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  void need(size_t n) const {
    if (n > in_.size() - pos_) throw Bad{"truncated"};
  }
  std::string_view in_;
  size_t pos_ = 0;
};

constexpr uint8_t kMaxSpace = static_cast<uint8_t>(Space::Generic);
constexpr uint8_t kMaxType = static_cast<uint8_t>(Type::E5M2x2);
constexpr uint8_t kMaxOperandKind = static_cast<uint8_t>(Operand::Kind::TexAddress);
constexpr uint8_t kMaxStatementKind = static_cast<uint8_t>(Statement::Kind::Decl);
constexpr int kMaxOperandDepth = 16;

void put(Writer& w, const Operand& o) {
  w.num(o.kind);
  w.str(o.name);
  w.num(static_cast<uint8_t>(o.negate));
  w.num(static_cast<uint8_t>(o.base_is_symbol));
  w.num(o.ivalue);
  w.num(o.fbits);
  w.num(static_cast<uint8_t>(o.is_double));
  w.num(static_cast<uint32_t>(o.elems.size()));
  for (const auto& e : o.elems) put(w, e);
  w.str(o.pipe);
}

void get(Reader& r, Operand* o, int depth) {
  if (depth > kMaxOperandDepth) throw Bad{"operands nested too deeply"};
  r.num(&o->kind, kMaxOperandKind);
  r.str(&o->name);
  r.num(&o->negate);
  r.num(&o->base_is_symbol);
  r.num(&o->ivalue);
  r.num(&o->fbits);
  r.num(&o->is_double);
  o->elems.resize(r.count(1));
  for (auto& e : o->elems) get(r, &e, depth + 1);
  r.str(&o->pipe);
}

void put(Writer& w, const Instruction& in) {
  w.str(in.opcode);
  w.num(static_cast<uint32_t>(in.modifiers.size()));
  for (const auto& m : in.modifiers) w.str(m);
  w.num(static_cast<uint8_t>(in.guard.has_value()));
  if (in.guard) w.str(*in.guard);
  w.num(static_cast<uint8_t>(in.guard_negated));
  w.num(static_cast<uint32_t>(in.operands.size()));
  for (const auto& o : in.operands) put(w, o);
  w.num(in.line);
}

void get(Reader& r, Instruction* in) {
  r.str(&in->opcode);
  in->modifiers.resize(r.count(1));
  for (auto& m : in->modifiers) r.str(&m);
  bool has_guard = false;
  r.num(&has_guard);
  if (has_guard) {
    in->guard.emplace();
    r.str(&*in->guard);
  }
  r.num(&in->guard_negated);
  in->operands.resize(r.count(1));
  for (auto& o : in->operands) get(r, &o, 0);
  r.num(&in->line);
}

void put(Writer& w, const VarDecl& d) {
  w.num(d.space);
  w.num(d.type);
  w.str(d.name);
  w.num(d.align);
  w.num(d.vector_width);
  w.num(static_cast<uint32_t>(d.dims.size()));
  for (uint64_t x : d.dims) w.num(x);
  w.num(d.count);
  w.num(static_cast<uint8_t>(d.is_extern));
  w.num(static_cast<uint8_t>(d.is_visible));
  w.num(static_cast<uint8_t>(d.is_weak));
  w.str(d.opaque);
  w.num(static_cast<uint32_t>(d.opaque_fields.size()));
  for (const auto& [k, v] : d.opaque_fields) {
    w.str(k);
    w.str(v);
  }
  w.num(static_cast<uint8_t>(d.is_managed));
  w.num(static_cast<uint8_t>(d.ptr_attr));
  w.num(d.ptr_align);
  w.str(std::string(d.init.begin(), d.init.end()));
  w.num(static_cast<uint32_t>(d.relocs.size()));
  for (const auto& rel : d.relocs) {
    w.num(rel.offset);
    w.str(rel.symbol);
    w.num(rel.addend);
    w.num(rel.width);
    w.num(static_cast<uint8_t>(rel.generic));
  }
  w.num(d.line);
}

void get(Reader& r, VarDecl* d) {
  r.num(&d->space, kMaxSpace);
  r.num(&d->type, kMaxType);
  r.str(&d->name);
  r.num(&d->align);
  r.num(&d->vector_width);
  d->dims.resize(r.count(1));
  for (auto& x : d->dims) r.num(&x);
  r.num(&d->count);
  r.num(&d->is_extern);
  r.num(&d->is_visible);
  r.num(&d->is_weak);
  r.str(&d->opaque);
  d->opaque_fields.resize(r.count(1));
  for (auto& [k, v] : d->opaque_fields) {
    r.str(&k);
    r.str(&v);
  }
  r.num(&d->is_managed);
  r.num(&d->ptr_attr);
  r.num(&d->ptr_align);
  std::string init;
  r.str(&init);
  d->init.assign(init.begin(), init.end());
  d->relocs.resize(r.count(1));
  for (auto& rel : d->relocs) {
    r.num(&rel.offset);
    r.str(&rel.symbol);
    r.num(&rel.addend);
    r.num(&rel.width);
    r.num(&rel.generic);
  }
  r.num(&d->line);
}

void put(Writer& w, const Function& f) {
  w.str(f.name);
  w.num(static_cast<uint8_t>(f.is_entry));
  w.num(static_cast<uint8_t>(f.is_extern));
  w.num(static_cast<uint8_t>(f.is_visible));
  w.num(static_cast<uint8_t>(f.is_weak));
  w.num(static_cast<uint8_t>(f.is_noreturn));
  w.num(static_cast<uint32_t>(f.params.size()));
  for (const auto& p : f.params) put(w, p);
  w.num(static_cast<uint32_t>(f.returns.size()));
  for (const auto& p : f.returns) put(w, p);
  w.num(static_cast<uint32_t>(f.body.size()));
  for (const auto& st : f.body) {
    w.num(st.kind);
    switch (st.kind) {
      case Statement::Kind::Label: w.str(st.label); break;
      case Statement::Kind::Instr: put(w, st.instr); break;
      case Statement::Kind::Decl: put(w, st.decl); break;
    }
  }
  for (int i = 0; i < 3; ++i) w.num(f.maxntid[i]);
  for (int i = 0; i < 3; ++i) w.num(f.reqntid[i]);
  w.num(f.minnctapersm);
  w.num(f.maxnreg);
  w.num(f.maxclusterrank);
  for (int i = 0; i < 3; ++i) w.num(f.reqnctapercluster[i]);
  w.num(f.line);
}

void get(Reader& r, Function* f) {
  r.str(&f->name);
  r.num(&f->is_entry);
  r.num(&f->is_extern);
  r.num(&f->is_visible);
  r.num(&f->is_weak);
  r.num(&f->is_noreturn);
  f->params.resize(r.count(1));
  for (auto& p : f->params) get(r, &p);
  f->returns.resize(r.count(1));
  for (auto& p : f->returns) get(r, &p);
  f->body.resize(r.count(1));
  for (auto& st : f->body) {
    r.num(&st.kind, kMaxStatementKind);
    switch (st.kind) {
      case Statement::Kind::Label: r.str(&st.label); break;
      case Statement::Kind::Instr: get(r, &st.instr); break;
      case Statement::Kind::Decl: get(r, &st.decl); break;
    }
  }
  for (auto& x : f->maxntid) r.num(&x);
  for (auto& x : f->reqntid) r.num(&x);
  r.num(&f->minnctapersm);
  r.num(&f->maxnreg);
  r.num(&f->maxclusterrank);
  for (auto& x : f->reqnctapercluster) r.num(&x);
  r.num(&f->line);
}

}  // namespace

void serialize(const Module& m, std::string* out) {
  Writer w(out);
  w.num(kFormatVersion);
  w.num(m.version_major);
  w.num(m.version_minor);
  w.str(m.target);
  w.num(static_cast<uint32_t>(m.target_options.size()));
  for (const auto& o : m.target_options) w.str(o);
  w.num(m.address_size);
  w.num(static_cast<uint32_t>(m.globals.size()));
  for (const auto& g : m.globals) put(w, g);
  w.num(static_cast<uint32_t>(m.functions.size()));
  for (const auto& f : m.functions) put(w, f);
}

bool deserialize(std::string_view bytes, Module* out, std::string* error) {
  Reader r(bytes);
  Module m;
  try {
    uint32_t version = 0;
    r.num(&version);
    if (version != kFormatVersion) throw Bad{"format version " + std::to_string(version) + ", this build reads " +
                                             std::to_string(kFormatVersion)};
    r.num(&m.version_major);
    r.num(&m.version_minor);
    r.str(&m.target);
    m.target_options.resize(r.count(1));
    for (auto& o : m.target_options) r.str(&o);
    r.num(&m.address_size);
    m.globals.resize(r.count(1));
    for (auto& g : m.globals) get(r, &g);
    m.functions.resize(r.count(1));
    for (auto& f : m.functions) get(r, &f);
    if (!r.done()) throw Bad{"trailing bytes"};
  } catch (const Bad& b) {
    if (error) *error = b.what;
    return false;
  }
  *out = std::move(m);
  return true;
}

}  // namespace gpool::emu::ptx
