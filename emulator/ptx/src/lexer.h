// Internal to the PTX parser: splits PTX text into tokens.
//
// Token kinds:
//   Ident   names: registers (%r1), symbols, labels, opcodes, "_"
//   Dot     directives and modifiers, text with the dot (".global", ".shared::cta")
//   Int     integer literals (decimal/hex/octal/binary, optional U suffix)
//   Float   0fXXXXXXXX, 0dXXXXXXXXXXXXXXXX, or decimal floats ("1.5", "2e3")
//   String  "..." (text without the quotes, escapes not processed)
//   Punct   one character of , ; : ( ) [ ] { } < > = + - ! @ | and friends
//   End     end of input
// Comments (// and /* */) and whitespace are skipped.
//
// Thread safety: a Lexer is used by one thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gpool::emu::ptx::detail {

struct Token {
  enum class Kind : uint8_t { Ident, Dot, Int, Float, String, Punct, End };
  Kind kind = Kind::End;
  std::string_view text;
  int line = 1;
  int col = 1;

  bool is(char c) const { return kind == Kind::Punct && text.size() == 1 && text[0] == c; }
  bool is_dot(std::string_view d) const { return kind == Kind::Dot && text == d; }
};

// Tokenizes all of `text`. On a lexical error returns false and sets *error
// ("line L, column C: ..."). The tokens view into `text`, which must outlive them.
bool tokenize(std::string_view text, std::vector<Token>* out, std::string* error);

// Value of an Int token. Returns false on overflow (> 64 bits).
bool int_value(std::string_view text, uint64_t* value);
// Raw bits of a Float token: f32 bits for 0f, f64 bits otherwise (decimal floats are f64).
// *is_double tells which. Returns false if the literal is malformed.
bool float_bits(std::string_view text, uint64_t* bits, bool* is_double);

}  // namespace gpool::emu::ptx::detail
