// The PTX abstract syntax tree: what the parser produces and the lowering
// pass (lower/) consumes.
//
// Ownership: a Module owns everything in it by value. Nothing here points
// into the source text; a Module may outlive the text it was parsed from.
//
// Shape decisions (see docs/emulator.md):
//  * Instructions keep their opcode and their dot-modifiers as written, in
//    order: "cvt.rn.f32.s32" -> opcode "cvt", modifiers {"rn","f32","s32"};
//    "ld.global.v4.f32" -> "ld", {"global","v4","f32"}. Giving each modifier
//    its meaning is the lowering pass's job; the parser only checks syntax.
//  * Nested { } blocks inside a function body are flattened. A name declared in
//    an inner block that would shadow or collide with another declaration in
//    the function is renamed to "<name>$<n>" (n = a per-function counter),
//    and every use inside that block is renamed with it.
//  * Parameterised register declarations (.reg .b32 %r<100>) are kept as one
//    declaration with count = 100, meaning the names %r0 .. %r99.
//
// Thread safety: plain data; no synchronisation.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpool::emu::ptx {

enum class Space : uint8_t { None, Reg, Sreg, Const, Global, Local, Param, Shared, Tex, Generic };

// Scalar types as written in PTX. Vector-ness (.v2/.v4) is separate.
enum class Type : uint8_t {
  None,
  B8, B16, B32, B64, B128,
  U8, U16, U32, U64,
  S8, S16, S32, S64,
  F16, F16x2, BF16, BF16x2, F32, F64,
  Pred,
  TF32, E4M3x2, E5M2x2,
};

// Returns nullopt when `name` (without the dot, e.g. "f32") is not a type.
std::optional<Type> type_from_name(std::string_view name);
const char* type_name(Type t);     // "f32"
uint32_t type_size(Type t);        // bytes; Pred -> 1, None -> 0

struct Operand {
  enum class Kind : uint8_t {
    Register,   // %r1, %f2, %p3, named registers; `name` holds it, `negate` for !%p
    Special,    // a special register: %tid.x, %ntid.y, %laneid, %clock64, ... (name as written)
    IntImm,     // integer literal (decimal, hex, octal, binary, with optional U suffix) -> ivalue
    FloatImm,   // 0fXXXXXXXX (f32 bits in fbits, is_double=false) or 0dXXXXXXXXXXXXXXXX
                // (f64 bits, is_double=true), or a decimal float literal (stored as f64 bits)
    Symbol,     // a variable or function name used as a value (mov.u64 %rd1, arr;)
    Address,    // [base+offset]: base is a register or symbol name (in `name`, with
                // `base_is_symbol`), or empty for an absolute [imm] address; offset in ivalue
    Vector,     // {%r1, %r2, _, %r4}: elements in `elems` ("_" is a Sink element)
    Label,      // branch target
    Sink,       // _ (discarded result)
    TexAddress, // [tex, {c0, c1}] or [tex, sampler, {c0, c1}] of tex/tld4/suld/sust: the
                // handles (a register or a .texref/.samplerref/.surfref name) and then the
                // coordinate Vector, in order, in `elems`
  };
  Kind kind = Kind::IntImm;
  std::string name;
  bool negate = false;          // !%p for predicate operands
  bool base_is_symbol = false;  // Address: base names a variable, not a register
  int64_t ivalue = 0;           // IntImm value or Address offset
  uint64_t fbits = 0;           // FloatImm raw bits
  bool is_double = false;       // FloatImm: fbits are f64 bits
  std::vector<Operand> elems;   // Vector elements
  // Register only: the second destination of a "d|p" pair (shfl.sync, setp with two
  // predicates): "%r8|%p1" is a Register "%r8" with pipe = "%p1". Empty otherwise.
  std::string pipe;
};

struct Instruction {
  std::string opcode;                  // "add", "ld", "bar", "setp", ...
  std::vector<std::string> modifiers;  // without dots, in order as written
  std::optional<std::string> guard;    // @%p or @!%p: register name
  bool guard_negated = false;
  std::vector<Operand> operands;
  // For `call`: operands are [ (return args as Vector, possibly empty) , callee Symbol,
  // (params as Vector) , optional prototype Label ]; see parser docs.
  int line = 0;  // 1-based source line, for error messages
};

// A relocation in a variable's initializer: the address of `symbol` + addend is
// stored (as a 4- or 8-byte value) at byte `offset` of the initializer.
// `generic` is set for generic(sym) initializers.
struct InitReloc {
  uint64_t offset = 0;
  std::string symbol;
  int64_t addend = 0;
  uint32_t width = 8;
  bool generic = false;
};

struct VarDecl {
  Space space = Space::None;
  Type type = Type::None;
  std::string name;
  uint32_t align = 0;          // 0 = natural alignment of the type
  uint32_t vector_width = 1;   // .v2 / .v4 -> 2 / 4
  std::vector<uint64_t> dims;  // array dimensions; a 0 dimension means unsized ([])
  uint32_t count = 0;          // parameterised registers: %r<count>; 0 = a single name
  bool is_extern = false;
  bool is_visible = false;
  bool is_weak = false;
  // .texref / .samplerref / .surfref (module-scope opaque handles of the texture-reference
  // API): the kind without the dot; `type` is B64. Sampler initializer fields
  // ("filter_mode" -> "linear") are kept in `opaque_fields`, in order.
  std::string opaque;
  std::vector<std::pair<std::string, std::string>> opaque_fields;
  bool is_managed = false;     // .attribute(.managed) (__managed__ variables)
  bool ptr_attr = false;       // .param .u64 .ptr ... (kernel pointer params)
  uint32_t ptr_align = 0;      // .ptr.global.align N
  std::vector<uint8_t> init;   // initializer bytes (empty = zero-initialised / none)
  std::vector<InitReloc> relocs;
  int line = 0;

  // Total size in bytes: type size * vector width * product of dims (0 if unsized).
  uint64_t byte_size() const;
};

// One element of a flattened function body.
struct Statement {
  enum class Kind : uint8_t { Label, Instr, Decl } kind = Kind::Instr;
  std::string label;  // Kind::Label
  Instruction instr;  // Kind::Instr
  VarDecl decl;       // Kind::Decl (.reg/.local/.shared/.param inside a body)
};

struct Function {
  std::string name;
  bool is_entry = false;      // .entry (a kernel) vs .func
  bool is_extern = false;     // declaration only (e.g. vprintf, __assertfail)
  bool is_visible = false;
  bool is_weak = false;
  bool is_noreturn = false;
  std::vector<VarDecl> params;   // .param declarations in order
  std::vector<VarDecl> returns;  // .func return parameters
  std::vector<Statement> body;   // empty when is_extern or a prototype
  // Performance-tuning directives, 0 when absent.
  uint32_t maxntid[3] = {0, 0, 0};
  uint32_t reqntid[3] = {0, 0, 0};
  uint32_t minnctapersm = 0;
  uint32_t maxnreg = 0;
  uint32_t maxclusterrank = 0;
  uint32_t reqnctapercluster[3] = {0, 0, 0};
  int line = 0;
};

struct Module {
  uint32_t version_major = 0, version_minor = 0;  // .version 9.0
  std::string target;                             // "sm_75" (first target word)
  std::vector<std::string> target_options;        // other target words ("texmode_independent", ...)
  uint32_t address_size = 64;
  std::vector<VarDecl> globals;      // module-scope .global/.const/.shared/.local variables
  std::vector<Function> functions;   // kernels, device functions and extern declarations
};

}  // namespace gpool::emu::ptx
