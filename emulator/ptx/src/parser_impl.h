// Internal to the PTX parser: the recursive-descent Parser class and the
// block-flattening pass (flatten.cc).
//
// Errors: the parser functions throw ParseError, caught only by parse()
// (parser.cc), which turns it into the false + message result of the public API.
//
// Thread safety: one Parser per parse() call.
#pragma once

#include "gpool/emu/ptx/ast.h"
#include "lexer.h"

#include <set>
#include <string>
#include <vector>

namespace gpool::emu::ptx::detail {

struct ParseError {
  std::string message;  // "line L, column C: ..."
};

// A function body before flattening: statements plus block markers.
struct RawItem {
  enum class Kind : uint8_t { Stmt, Open, Close } kind = Kind::Stmt;
  Statement stmt;
};

// Flattens nested blocks into fn->body, renaming inner-block names that would
// collide with another declaration in the function (or shadow a module
// variable in `module_names`) to "<name>$<n>". Also turns Symbol operands that
// name a label or a call prototype of the function into Label operands.
void flatten_body(std::vector<RawItem> items, const std::set<std::string>& module_names,
                  const std::set<std::string>& prototypes, Function* fn);

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}
  void module(Module* m);

 private:
  // Token access.
  const Token& peek(size_t k = 0) const;
  const Token& next();
  [[noreturn]] void fail(const Token& at, const std::string& what) const;
  [[noreturn]] void expected(const std::string& what) const;  // "expected X, found 'tok'"
  bool accept(char c);
  void expect(char c, const char* context);
  std::string expect_name(const char* what);
  uint64_t expect_uint(const char* what);
  void skip_line(const Token& directive);
  void skip_section();

  // Module level.
  void declaration(Module* m);
  void function(Module* m, bool is_entry, bool vis, bool ext, bool weak);
  void alias(Module* m);
  void perf_directives(Function* f);
  void param_list(std::vector<VarDecl>* out, const char* context);
  VarDecl param();

  // Variables.
  void var_decls(Space space, const VarDecl& linkage, std::vector<VarDecl>* out, bool in_body);
  void var_attrs(VarDecl* d, bool allow_ptr);
  void initializer(VarDecl* d);

  // Function bodies.
  void body(Function* f, const std::set<std::string>& module_names);
  void callprototype();
  Instruction instruction();
  void call_operands(Instruction* in);
  Operand operand();
  Operand address();
  Operand number(bool negative);
  std::vector<Operand> paren_list();

  std::vector<Token> t_;
  size_t pos_ = 0;
  std::set<std::string> prototypes_;  // per function
};

}  // namespace gpool::emu::ptx::detail
