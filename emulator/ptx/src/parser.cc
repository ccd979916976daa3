// The recursive-descent PTX parser: module level, functions and instructions.
// Initializers are in initializer.cc, block flattening in flatten.cc.
#include "gpool/emu/ptx/parser.h"

#include "parser_impl.h"

#include <algorithm>
#include <cstring>
#include <map>

namespace gpool::emu::ptx {
namespace detail {
namespace {

// The token as an error message shows it. Built by append rather than `"'" + std::string(...)`:
// GCC 12 at -O3 reports a false -Wrestrict on operator+(const char*, std::string&&).
std::string shown(const Token& t) {
  if (t.kind == Token::Kind::End) return "end of input";
  const char quote = t.kind == Token::Kind::String ? '"' : '\'';
  // A token may be as long as the input (junk without spaces): the message shows its start only,
  // so a bad upload cannot turn into a log line (and a client message) of its own size.
  constexpr size_t kShown = 64;
  std::string out;
  out.push_back(quote);
  out.append(t.text.substr(0, kShown));
  out.push_back(quote);
  if (t.text.size() > kShown) out += " (" + std::to_string(t.text.size()) + " characters)";
  return out;
}

std::optional<Space> space_of(std::string_view dot) {
  if (dot == ".reg") return Space::Reg;
  if (dot == ".global") return Space::Global;
  if (dot == ".const") return Space::Const;
  if (dot == ".shared") return Space::Shared;
  if (dot == ".local") return Space::Local;
  if (dot == ".param") return Space::Param;
  return std::nullopt;
}

bool is_linkage(std::string_view dot) {
  return dot == ".visible" || dot == ".extern" || dot == ".weak" || dot == ".common";
}

// Special registers with .x/.y/.z components.
bool is_vector_sreg(std::string_view n) {
  static const char* const kNames[] = {"%tid",        "%ntid",          "%ctaid",         "%nctaid",
                                       "%clusterid",  "%nclusterid",    "%cluster_ctaid", "%cluster_nctaid"};
  for (const char* k : kNames)
    if (n == k) return true;
  return false;
}

bool is_scalar_sreg(std::string_view n) {
  static const char* const kNames[] = {
      "%laneid",         "%warpid",           "%nwarpid",          "%smid",
      "%nsmid",          "%gridid",           "%lanemask_eq",      "%lanemask_lt",
      "%lanemask_le",    "%lanemask_gt",      "%lanemask_ge",      "%clock",
      "%clock64",        "%clock_hi",         "%globaltimer",      "%globaltimer_lo",
      "%globaltimer_hi", "%dynamic_smem_size", "%total_smem_size", "%aggr_smem_size",
      "%cluster_ctarank", "%cluster_nctarank", "%is_explicit_cluster", "%current_graph_exec",
      "%reserved_smem_offset_begin", "%reserved_smem_offset_end", "%reserved_smem_offset_cap",
      "%reserved_smem_offset_0", "%reserved_smem_offset_1"};
  for (const char* k : kNames)
    if (n == k) return true;
  auto numbered = [&](std::string_view prefix, int max) {
    if (n.size() <= prefix.size() || n.substr(0, prefix.size()) != prefix) return false;
    int v = 0;
    for (char c : n.substr(prefix.size())) {
      if (c < '0' || c > '9') return false;
      v = v * 10 + (c - '0');
      if (v > max) return false;
    }
    return true;
  };
  return numbered("%envreg", 31) || numbered("%pm", 7);
}

}  // namespace

// ---- token access ---------------------------------------------------------

const Token& Parser::peek(size_t k) const {
  size_t i = std::min(pos_ + k, t_.size() - 1);
  return t_[i];
}

const Token& Parser::next() {
  const Token& t = t_[pos_];
  if (pos_ + 1 < t_.size()) ++pos_;
  return t;
}

void Parser::fail(const Token& at, const std::string& what) const {
  throw ParseError{"line " + std::to_string(at.line) + ", column " + std::to_string(at.col) + ": " +
                   what};
}

void Parser::expected(const std::string& what) const {
  fail(peek(), "expected " + what + ", found " + shown(peek()));
}

bool Parser::accept(char c) {
  if (!peek().is(c)) return false;
  next();
  return true;
}

void Parser::expect(char c, const char* context) {
  if (!accept(c)) expected(std::string("'") + c + "' " + context);
}

std::string Parser::expect_name(const char* what) {
  if (peek().kind != Token::Kind::Ident) expected(what);
  return std::string(next().text);
}

uint64_t Parser::expect_uint(const char* what) {
  if (peek().kind != Token::Kind::Int) expected(what);
  uint64_t v = 0;
  if (!int_value(peek().text, &v)) fail(peek(), "integer literal out of range: " + shown(peek()));
  next();
  return v;
}

void Parser::skip_line(const Token& directive) {
  while (peek().kind != Token::Kind::End && peek().line == directive.line) next();
}

void Parser::skip_section() {
  // .section <name> { ... } : DWARF and other debug data, skipped with nested braces.
  while (peek().kind != Token::Kind::End && !peek().is('{')) next();
  expect('{', "to open the .section body");
  int depth = 1;
  while (depth > 0) {
    if (peek().kind == Token::Kind::End) expected("'}' closing the .section body");
    if (peek().is('{')) ++depth;
    if (peek().is('}')) --depth;
    next();
  }
}

// ---- module level ---------------------------------------------------------

void Parser::module(Module* m) {
  *m = Module{};
  bool saw_version = false;
  while (peek().kind != Token::Kind::End) {
    const Token& t = peek();
    if (t.kind != Token::Kind::Dot) expected("a directive (.version, .target, .entry, .func, .global, ...)");
    if (t.text == ".version") {
      next();
      if (peek().kind != Token::Kind::Float && peek().kind != Token::Kind::Int) expected("a version number after .version");
      std::string_view v = next().text;
      size_t dot = v.find('.');
      uint64_t major = 0, minor = 0;
      if (dot == std::string_view::npos || !int_value(v.substr(0, dot), &major) ||
          !int_value(v.substr(dot + 1), &minor) || major > 99 || minor > 99)
        fail(t, "malformed .version '" + std::string(v) + "' (expected MAJOR.MINOR)");
      m->version_major = static_cast<uint32_t>(major);
      m->version_minor = static_cast<uint32_t>(minor);
      saw_version = true;
    } else if (t.text == ".target") {
      next();
      m->target = expect_name("a target name (e.g. sm_75) after .target");
      while (accept(',')) m->target_options.push_back(expect_name("a target option after ','"));
    } else if (t.text == ".address_size") {
      next();
      uint64_t v = expect_uint("32 or 64 after .address_size");
      if (v != 32 && v != 64) fail(t, ".address_size must be 32 or 64");
      m->address_size = static_cast<uint32_t>(v);
    } else if (t.text == ".file" || t.text == ".loc") {
      Token d = next();
      skip_line(d);
    } else if (t.text == ".section") {
      next();
      skip_section();
    } else if (t.text == ".pragma") {
      next();
      if (peek().kind != Token::Kind::String) expected("a string after .pragma");
      next();
      expect(';', "after .pragma");
    } else if (t.text == ".alias") {
      next();
      alias(m);
    } else {
      declaration(m);
    }
  }
  if (!saw_version) fail(peek(), "missing .version directive");
}

void Parser::alias(Module* m) {
  Token at = peek();
  std::string name = expect_name("an alias name after .alias");
  expect(',', "between the alias and the aliased function");
  std::string target = expect_name("the aliased function name");
  expect(';', "after .alias");
  for (const Function& f : m->functions) {
    if (f.name == target) {
      Function copy = f;
      copy.name = name;
      m->functions.push_back(std::move(copy));
      return;
    }
  }
  fail(at, ".alias target '" + target + "' is not a function declared before it");
}

void Parser::declaration(Module* m) {
  VarDecl linkage;
  while (peek().kind == Token::Kind::Dot && is_linkage(peek().text)) {
    std::string_view l = next().text;
    if (l == ".visible") linkage.is_visible = true;
    if (l == ".extern") linkage.is_extern = true;
    if (l == ".weak" || l == ".common") linkage.is_weak = true;
  }
  const Token& t = peek();
  if (t.is_dot(".entry") || t.is_dot(".func")) {
    bool entry = t.is_dot(".entry");
    next();
    function(m, entry, linkage.is_visible, linkage.is_extern, linkage.is_weak);
    return;
  }
  if (t.kind == Token::Kind::Dot) {
    if (auto s = space_of(t.text); s && *s != Space::Reg && *s != Space::Param) {
      next();
      var_decls(*s, linkage, &m->globals, false);
      return;
    }
  }
  expected("a module-level directive (.entry, .func, .global, .const, .shared, .local)");
}

void Parser::function(Module* m, bool is_entry, bool vis, bool ext, bool weak) {
  Function f;
  f.is_entry = is_entry;
  f.is_visible = vis;
  f.is_extern = ext;
  f.is_weak = weak;
  f.line = peek().line;
  if (!is_entry && peek().is('(')) param_list(&f.returns, "return parameters");
  f.name = expect_name(is_entry ? "a kernel name after .entry" : "a function name after .func");
  if (peek().is('(')) param_list(&f.params, "parameters");
  perf_directives(&f);
  if (accept(';')) {
    f.is_extern = true;  // a declaration: the body is elsewhere
    m->functions.push_back(std::move(f));
    return;
  }
  std::set<std::string> module_names;
  for (const VarDecl& g : m->globals) module_names.insert(g.name);
  for (const Function& other : m->functions) module_names.insert(other.name);
  body(&f, module_names);
  // A definition replaces an earlier declaration of the same function.
  for (Function& other : m->functions) {
    if (other.name == f.name) {
      if (!other.body.empty() || !other.is_extern)
        throw ParseError{"line " + std::to_string(f.line) + ": function '" + f.name +
                         "' is defined twice"};
      f.is_visible = f.is_visible || other.is_visible;
      other = std::move(f);
      return;
    }
  }
  m->functions.push_back(std::move(f));
}

void Parser::perf_directives(Function* f) {
  auto dims = [&](uint32_t out[3], const char* what) {
    out[0] = static_cast<uint32_t>(expect_uint(what));
    for (int i = 1; i < 3 && accept(','); ++i) out[i] = static_cast<uint32_t>(expect_uint(what));
  };
  while (peek().kind == Token::Kind::Dot) {
    std::string_view d = peek().text;
    if (d == ".maxntid") {
      next();
      dims(f->maxntid, "a thread count after .maxntid");
    } else if (d == ".reqntid") {
      next();
      dims(f->reqntid, "a thread count after .reqntid");
    } else if (d == ".reqnctapercluster") {
      next();
      dims(f->reqnctapercluster, "a CTA count after .reqnctapercluster");
    } else if (d == ".minnctapersm") {
      next();
      f->minnctapersm = static_cast<uint32_t>(expect_uint("a count after .minnctapersm"));
    } else if (d == ".maxnctapersm") {
      next();
      expect_uint("a count after .maxnctapersm");
    } else if (d == ".maxnreg") {
      next();
      f->maxnreg = static_cast<uint32_t>(expect_uint("a register count after .maxnreg"));
    } else if (d == ".maxclusterrank") {
      next();
      f->maxclusterrank = static_cast<uint32_t>(expect_uint("a count after .maxclusterrank"));
    } else if (d == ".noreturn") {
      next();
      f->is_noreturn = true;
    } else if (d == ".explicitcluster") {
      next();
    } else if (d == ".pragma") {
      next();
      if (peek().kind != Token::Kind::String) expected("a string after .pragma");
      next();
      expect(';', "after .pragma");
    } else {
      break;
    }
  }
}

void Parser::param_list(std::vector<VarDecl>* out, const char* context) {
  expect('(', context);
  if (accept(')')) return;
  do {
    out->push_back(param());
  } while (accept(','));
  expect(')', (std::string("closing the ") + context).c_str());
}

VarDecl Parser::param() {
  VarDecl d;
  d.line = peek().line;
  if (peek().is_dot(".param")) {
    d.space = Space::Param;
  } else if (peek().is_dot(".reg")) {
    d.space = Space::Reg;
  } else {
    expected("a parameter declaration (.param or .reg)");
  }
  next();
  var_attrs(&d, true);
  d.name = expect_name("a parameter name");
  while (accept('[')) {
    if (peek().is(']')) {
      d.dims.push_back(0);
    } else {
      d.dims.push_back(expect_uint("an array size"));
    }
    expect(']', "closing the array size");
  }
  return d;
}

// Attributes between the state space and the name: .align N, .v2/.v4/.v8,
// .attribute(.managed), the type, and for parameters .ptr [.space] [.align N].
void Parser::var_attrs(VarDecl* d, bool allow_ptr) {
  while (peek().kind == Token::Kind::Dot) {
    const Token& t = peek();
    std::string_view s = t.text;
    if (s == ".align") {
      next();
      uint64_t a = expect_uint("an alignment after .align");
      if (a == 0 || (a & (a - 1)) != 0 || a > (1u << 20)) fail(t, ".align must be a power of two");
      (d->ptr_attr ? d->ptr_align : d->align) = static_cast<uint32_t>(a);
    } else if (s == ".v2" || s == ".v4" || s == ".v8") {
      next();
      d->vector_width = static_cast<uint32_t>(s[2] - '0');
    } else if (s == ".attribute") {
      next();
      expect('(', "after .attribute");
      while (peek().kind == Token::Kind::Dot) {
        if (peek().text == ".managed") d->is_managed = true;
        next();
        if (!accept(',')) break;
      }
      expect(')', "closing .attribute");
    } else if (s == ".ptr" && allow_ptr) {
      next();
      d->ptr_attr = true;
    } else if (d->ptr_attr && space_of(s)) {
      next();  // .ptr.global / .ptr.shared ...: the pointee's space (informational)
    } else if (auto ty = type_from_name(s.substr(1)); ty) {
      if (d->type != Type::None) fail(t, "two types in one declaration");
      next();
      d->type = *ty;
    } else if (s == ".texref" || s == ".samplerref" || s == ".surfref") {
      if (d->type != Type::None) fail(t, "two types in one declaration");
      next();
      d->type = Type::B64;
      d->opaque = std::string(s.substr(1));
    } else {
      break;
    }
  }
  if (d->type == Type::None) expected("a type (.b32, .u64, .f32, .pred, ...)");
}

void Parser::var_decls(Space space, const VarDecl& linkage, std::vector<VarDecl>* out, bool in_body) {
  VarDecl base = linkage;
  base.space = space;
  base.line = peek().line;
  var_attrs(&base, false);
  do {
    VarDecl d = base;
    d.line = peek().line;
    d.name = expect_name("a variable name");
    if (accept('<')) {
      uint64_t n = expect_uint("a register count in %name<N>");
      if (n == 0 || n > (1u << 24)) fail(peek(), "register count out of range");
      d.count = static_cast<uint32_t>(n);
      expect('>', "closing the register count");
    }
    while (accept('[')) {
      if (peek().is(']')) {
        if (!d.dims.empty()) fail(peek(), "only the first array dimension may be unsized");
        d.dims.push_back(0);
      } else {
        uint64_t n = expect_uint("an array size");
        d.dims.push_back(n);
      }
      expect(']', "closing the array size");
    }
    if (!d.opaque.empty() && accept('=')) {
      // .samplerref s = { addr_mode_0 = wrap, filter_mode = linear, ... };
      expect('{', "opening a sampler initializer");
      if (!peek().is('}')) {
        do {
          std::string field = expect_name("a sampler field (addr_mode_0, filter_mode, ...)");
          expect('=', "after a sampler field name");
          if (peek().kind != Token::Kind::Ident && peek().kind != Token::Kind::Int) expected("a sampler field value");
          d.opaque_fields.emplace_back(std::move(field), std::string(next().text));
        } while (accept(','));
      }
      expect('}', "closing the sampler initializer");
    } else if (accept('=')) {
      if (space == Space::Reg || space == Space::Param || space == Space::Shared || space == Space::Local)
        fail(peek(), "variables in this state space cannot have initializers");
      initializer(&d);
    }
    out->push_back(std::move(d));
  } while (accept(','));
  expect(';', "after the declaration");
  (void)in_body;
}

// ---- function bodies -------------------------------------------------------

void Parser::body(Function* f, const std::set<std::string>& module_names) {
  expect('{', "opening the function body");
  prototypes_.clear();
  std::vector<RawItem> items;
  int depth = 1;
  while (true) {
    const Token& t = peek();
    if (t.kind == Token::Kind::End) expected("'}' closing the body of '" + f->name + "'");
    if (t.is('}')) {
      next();
      if (--depth == 0) break;
      items.push_back(RawItem{RawItem::Kind::Close, {}});
      continue;
    }
    if (t.is('{')) {
      next();
      ++depth;
      items.push_back(RawItem{RawItem::Kind::Open, {}});
      continue;
    }
    if (t.kind == Token::Kind::Dot) {
      if (t.text == ".loc" || t.text == ".file") {
        Token d = next();
        skip_line(d);
        continue;
      }
      if (t.text == ".pragma") {
        next();
        if (peek().kind != Token::Kind::String) expected("a string after .pragma");
        next();
        expect(';', "after .pragma");
        continue;
      }
      auto s = space_of(t.text);
      if (!s) expected("an instruction, a label or a declaration (.reg, .local, .shared, .param)");
      next();
      std::vector<VarDecl> decls;
      var_decls(*s, VarDecl{}, &decls, true);
      for (VarDecl& d : decls) {
        RawItem it;
        it.stmt.kind = Statement::Kind::Decl;
        it.stmt.decl = std::move(d);
        items.push_back(std::move(it));
      }
      continue;
    }
    if (t.kind == Token::Kind::Ident && peek(1).is(':')) {
      std::string name(t.text);
      if (name[0] == '%') fail(t, "a register name cannot be a label");
      next();
      next();
      if (peek().is_dot(".callprototype")) {
        callprototype();
        prototypes_.insert(name);
        continue;
      }
      if (peek().is_dot(".branchtargets") || peek().is_dot(".calltargets"))
        fail(peek(), "unsupported directive " + std::string(peek().text));
      RawItem it;
      it.stmt.kind = Statement::Kind::Label;
      it.stmt.label = std::move(name);
      items.push_back(std::move(it));
      continue;
    }
    if (t.is('@') || t.kind == Token::Kind::Ident) {
      RawItem it;
      it.stmt.kind = Statement::Kind::Instr;
      it.stmt.instr = instruction();
      items.push_back(std::move(it));
      continue;
    }
    expected("an instruction, a label or a declaration");
  }
  flatten_body(std::move(items), module_names, prototypes_, f);
}

// name : .callprototype [(ret)] _ (params) [.noreturn] ;  -- syntax only.
void Parser::callprototype() {
  next();  // .callprototype
  auto proto_params = [&] {
    expect('(', "in .callprototype");
    if (accept(')')) return;
    do {
      VarDecl d = param();
      (void)d;
    } while (accept(','));
    expect(')', "closing the .callprototype parameter list");
  };
  if (peek().is('(')) proto_params();
  if (!(peek().kind == Token::Kind::Ident && peek().text == "_")) expected("'_' in .callprototype");
  next();
  if (peek().is('(')) proto_params();
  while (peek().kind == Token::Kind::Dot) next();  // .noreturn, .abi_preserve ...
  expect(';', "after .callprototype");
}

Instruction Parser::instruction() {
  Instruction in;
  in.line = peek().line;
  if (accept('@')) {
    if (accept('!')) in.guard_negated = true;
    if (peek().kind != Token::Kind::Ident || peek().text == "_") expected("a predicate register after '@'");
    in.guard = std::string(next().text);
  }
  const Token& op = peek();
  if (op.kind != Token::Kind::Ident || op.text[0] == '%' || op.text[0] == '$' || op.text == "_")
    expected("an instruction opcode");
  in.opcode = std::string(next().text);
  while (peek().kind == Token::Kind::Dot) in.modifiers.push_back(std::string(next().text.substr(1)));
  if (in.opcode == "call") {
    call_operands(&in);
  } else if (!peek().is(';')) {
    do {
      in.operands.push_back(operand());
    } while (accept(','));
  }
  expect(';', ("after the operands of '" + in.opcode + "'").c_str());
  return in;
}

std::vector<Operand> Parser::paren_list() {
  std::vector<Operand> v;
  expect('(', "opening a call argument list");
  if (accept(')')) return v;
  do {
    v.push_back(operand());
  } while (accept(','));
  expect(')', "closing a call argument list");
  return v;
}

void Parser::call_operands(Instruction* in) {
  Operand rets;
  rets.kind = Operand::Kind::Vector;
  if (peek().is('(')) {
    rets.elems = paren_list();
    expect(',', "after the call's return arguments");
  }
  in->operands.push_back(std::move(rets));
  if (peek().kind != Token::Kind::Ident) expected("the called function");
  Operand callee = operand();
  if (callee.kind != Operand::Kind::Symbol && callee.kind != Operand::Kind::Register)
    fail(peek(), "expected a function name or register as the call target");
  in->operands.push_back(std::move(callee));
  Operand args;
  args.kind = Operand::Kind::Vector;
  if (accept(',')) {
    if (peek().is('(')) {
      args.elems = paren_list();
    } else {
      in->operands.push_back(std::move(args));
      Operand proto;
      proto.kind = Operand::Kind::Label;
      proto.name = expect_name("a call prototype or argument list");
      in->operands.push_back(std::move(proto));
      return;
    }
  }
  in->operands.push_back(std::move(args));
  if (accept(',')) {
    Operand proto;
    proto.kind = Operand::Kind::Label;
    proto.name = expect_name("a call prototype name");
    in->operands.push_back(std::move(proto));
  }
}

Operand Parser::number(bool negative) {
  Operand o;
  const Token& t = peek();
  if (t.kind == Token::Kind::Int) {
    uint64_t v = 0;
    if (!int_value(t.text, &v)) fail(t, "integer literal out of range: " + shown(t));
    o.kind = Operand::Kind::IntImm;
    o.ivalue = static_cast<int64_t>(negative ? (0 - v) : v);
  } else if (t.kind == Token::Kind::Float) {
    o.kind = Operand::Kind::FloatImm;
    if (!float_bits(t.text, &o.fbits, &o.is_double)) fail(t, "malformed float literal " + shown(t));
    if (negative) o.fbits ^= o.is_double ? (1ull << 63) : (1ull << 31);
  } else {
    expected("a number");
  }
  next();
  return o;
}

Operand Parser::address() {
  Operand o;
  o.kind = Operand::Kind::Address;
  expect('[', "opening an address");
  // [handle, {coords}] / [tex, sampler, {coords}] of the texture and surface instructions.
  if (peek().kind == Token::Kind::Ident && peek(1).is(',')) {
    o.kind = Operand::Kind::TexAddress;
    do {
      if (peek().is('{')) {
        o.elems.push_back(operand());
        break;
      }
      if (peek().kind != Token::Kind::Ident || peek().text == "_") expected("a texture, sampler or surface handle");
      o.elems.push_back(operand());
    } while (accept(','));
    if (o.elems.size() < 2 || o.elems.back().kind != Operand::Kind::Vector || o.elems.size() > 3)
      expected("[handle, {coordinates}] or [texture, sampler, {coordinates}]");
    expect(']', "closing the texture address");
    return o;
  }
  if (peek().kind == Token::Kind::Ident) {
    o.name = std::string(next().text);
    o.base_is_symbol = o.name[0] != '%';
    if (accept('+')) {
      bool neg = accept('-');
      Operand n = number(neg);
      if (n.kind != Operand::Kind::IntImm) fail(peek(), "address offset must be an integer");
      o.ivalue = n.ivalue;
    } else if (accept('-')) {
      Operand n = number(true);
      if (n.kind != Operand::Kind::IntImm) fail(peek(), "address offset must be an integer");
      o.ivalue = n.ivalue;
    }
  } else {
    bool neg = accept('-');
    Operand n = number(neg);
    if (n.kind != Operand::Kind::IntImm) fail(peek(), "an absolute address must be an integer");
    o.ivalue = n.ivalue;
  }
  expect(']', "closing the address");
  return o;
}

Operand Parser::operand() {
  const Token& t = peek();
  if (t.is('[')) return address();
  if (t.is('{')) {
    next();
    Operand v;
    v.kind = Operand::Kind::Vector;
    do {
      if (peek().is('{') || peek().is('[')) expected("a register, '_' or an immediate as a vector element");
      v.elems.push_back(operand());
    } while (accept(','));
    expect('}', "closing the vector operand");
    return v;
  }
  if (t.is('-')) {
    next();
    return number(true);
  }
  if (t.kind == Token::Kind::Int || t.kind == Token::Kind::Float) return number(false);
  bool negate = false;
  if (t.is('!')) {
    next();
    negate = true;
    if (peek().kind != Token::Kind::Ident || peek().text == "_") expected("a predicate register after '!'");
  }
  if (peek().kind != Token::Kind::Ident) expected("an operand");
  Operand o;
  std::string name(next().text);
  if (name == "_") {
    o.kind = Operand::Kind::Sink;
    o.name = name;
    return o;
  }
  if (name[0] == '%') {
    if (is_vector_sreg(name) && peek().kind == Token::Kind::Dot &&
        (peek().text == ".x" || peek().text == ".y" || peek().text == ".z")) {
      name += next().text;
      o.kind = Operand::Kind::Special;
    } else if (is_scalar_sreg(name)) {
      o.kind = Operand::Kind::Special;
    } else {
      o.kind = Operand::Kind::Register;
    }
    o.name = std::move(name);
    o.negate = negate;
    if (o.kind == Operand::Kind::Register && accept('|')) {
      if (peek().kind != Token::Kind::Ident) expected("a register after '|'");
      o.pipe = std::string(next().text);
    }
    return o;
  }
  // A bare name: a variable, function or label, or a register declared without
  // a '%' (flatten.cc turns names declared by .reg into Register operands).
  o.kind = Operand::Kind::Symbol;
  o.name = std::move(name);
  o.negate = negate;
  if (accept('|')) {
    if (peek().kind != Token::Kind::Ident) expected("a register after '|'");
    o.pipe = std::string(next().text);
  }
  return o;
}

}  // namespace detail

bool parse(std::string_view text, Module* out, std::string* error) {
  std::vector<detail::Token> tokens;
  std::string lex_error;
  if (!detail::tokenize(text, &tokens, &lex_error)) {
    if (error) *error = lex_error;
    return false;
  }
  detail::Parser p(std::move(tokens));
  try {
    p.module(out);
  } catch (const detail::ParseError& e) {
    if (error) *error = e.message;
    return false;
  }
  return true;
}

}  // namespace gpool::emu::ptx
