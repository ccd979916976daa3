#include "lexer.h"

#include <cstring>
#include <string>

namespace gpool::emu::ptx::detail {
namespace {

bool is_ident_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' || c == '%';
}
bool is_ident_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
int hex_val(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

// True when the token before `at` ends exactly at `at` and is an identifier or a
// dot-modifier: "tex" + ".2d", "tex.level" + ".2d".
bool start_follows(const std::vector<Token>& out, std::string_view text, size_t at) {
  const Token& prev = out.back();
  if (prev.kind != Token::Kind::Ident && prev.kind != Token::Kind::Dot) return false;
  if (prev.text.empty()) return false;
  const char* end = prev.text.data() + prev.text.size();
  return end == text.data() + at;
}

std::string where(int line, int col) {
  return "line " + std::to_string(line) + ", column " + std::to_string(col) + ": ";
}

}  // namespace

bool tokenize(std::string_view text, std::vector<Token>* out, std::string* error) {
  // Parsing stops at an embedded NUL (PTX images are NUL-terminated and padded).
  if (auto nul = text.find('\0'); nul != std::string_view::npos) text = text.substr(0, nul);
  out->clear();
  size_t i = 0;
  int line = 1;
  size_t line_start = 0;
  const size_t n = text.size();
  auto fail = [&](size_t at, const std::string& what) {
    if (error) *error = where(line, static_cast<int>(at - line_start) + 1) + what;
    return false;
  };
  while (true) {
    // Skip whitespace and comments.
    while (i < n) {
      char c = text[i];
      if (c == '\n') {
        ++line;
        line_start = ++i;
      } else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
        ++i;
      } else if (c == '/' && i + 1 < n && text[i + 1] == '/') {
        while (i < n && text[i] != '\n') ++i;
      } else if (c == '/' && i + 1 < n && text[i + 1] == '*') {
        size_t start = i;
        i += 2;
        while (i + 1 < n && !(text[i] == '*' && text[i + 1] == '/')) {
          if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
          }
          ++i;
        }
        if (i + 1 >= n) return fail(start, "unterminated /* comment");
        i += 2;
      } else {
        break;
      }
    }
    Token t;
    t.line = line;
    t.col = static_cast<int>(i - line_start) + 1;
    if (i >= n) {
      t.kind = Token::Kind::End;
      t.text = text.substr(n, 0);
      out->push_back(t);
      return true;
    }
    const size_t start = i;
    const char c = text[i];
    if (is_ident_start(c)) {
      ++i;
      while (i < n && is_ident_char(text[i])) ++i;
      if (c == '%' && i == start + 1) return fail(start, "expected a register name after '%'");
      t.kind = Token::Kind::Ident;
    } else if (c == '.' && i + 1 < n &&
               ((is_ident_start(text[i + 1]) && text[i + 1] != '%') ||
                // A modifier that starts with a digit (tex.2d, suld.b.3d): only directly after an
                // opcode or another modifier, so a stray ".5" is still an error.
                (is_digit(text[i + 1]) && !out->empty() && start_follows(*out, text, i)))) {
      ++i;
      while (i < n) {
        if (is_ident_char(text[i])) {
          ++i;
        } else if (text[i] == ':' && i + 2 < n && text[i + 1] == ':' && is_ident_char(text[i + 2])) {
          i += 2;  // .shared::cta, .L2::cache_hint
        } else {
          break;
        }
      }
      t.kind = Token::Kind::Dot;
    } else if (is_digit(c)) {
      t.kind = Token::Kind::Int;
      if (c == '0' && i + 1 < n && (text[i + 1] == 'f' || text[i + 1] == 'F' || text[i + 1] == 'd' ||
                                    text[i + 1] == 'D')) {
        const size_t want = (text[i + 1] == 'f' || text[i + 1] == 'F') ? 8 : 16;
        i += 2;
        size_t digits = 0;
        while (i < n && is_hex(text[i])) ++i, ++digits;
        if (digits != want)
          return fail(start, "hexadecimal float literal needs exactly " + std::to_string(want) +
                                 " hex digits");
        t.kind = Token::Kind::Float;
      } else if (c == '0' && i + 1 < n && (text[i + 1] == 'x' || text[i + 1] == 'X')) {
        i += 2;
        size_t s = i;
        while (i < n && is_hex(text[i])) ++i;
        if (i == s) return fail(start, "expected hex digits after 0x");
      } else if (c == '0' && i + 1 < n && (text[i + 1] == 'b' || text[i + 1] == 'B')) {
        i += 2;
        size_t s = i;
        while (i < n && (text[i] == '0' || text[i] == '1')) ++i;
        if (i == s) return fail(start, "expected binary digits after 0b");
      } else {
        while (i < n && is_digit(text[i])) ++i;
        bool is_float = false;
        if (i + 1 < n && text[i] == '.' && is_digit(text[i + 1])) {
          is_float = true;
          ++i;
          while (i < n && is_digit(text[i])) ++i;
        }
        if (i < n && (text[i] == 'e' || text[i] == 'E')) {
          size_t j = i + 1;
          if (j < n && (text[j] == '+' || text[j] == '-')) ++j;
          if (j < n && is_digit(text[j])) {
            is_float = true;
            i = j;
            while (i < n && is_digit(text[i])) ++i;
          }
        }
        if (is_float) t.kind = Token::Kind::Float;
      }
      if (t.kind == Token::Kind::Int && i < n && (text[i] == 'U' || text[i] == 'u')) ++i;
      if (i < n && (is_ident_char(text[i]) || text[i] == '.') &&
          !(t.kind == Token::Kind::Int && text[i] == '.'))
        return fail(start, "malformed number '" + std::string(text.substr(start, i + 1 - start)) + "'");
    } else if (c == '"') {
      ++i;
      while (i < n && text[i] != '"' && text[i] != '\n') {
        if (text[i] == '\\' && i + 1 < n) ++i;
        ++i;
      }
      if (i >= n || text[i] != '"') return fail(start, "unterminated string literal");
      t.kind = Token::Kind::String;
      t.text = text.substr(start + 1, i - start - 1);
      ++i;
      out->push_back(t);
      continue;
    } else if (std::strchr(",;:()[]{}<>=+-!@|*/~&^?", c) != nullptr) {
      ++i;
      t.kind = Token::Kind::Punct;
    } else {
      std::string shown = (c >= 32 && c < 127) ? std::string(1, c) : ("byte 0x" + [&] {
        static const char* hexd = "0123456789abcdef";
        unsigned char u = static_cast<unsigned char>(c);
        return std::string{hexd[u >> 4], hexd[u & 15]};
      }());
      return fail(start, "unexpected character '" + shown + "'");
    }
    t.text = text.substr(start, i - start);
    out->push_back(t);
  }
}

bool int_value(std::string_view s, uint64_t* value) {
  if (!s.empty() && (s.back() == 'U' || s.back() == 'u')) s.remove_suffix(1);
  uint64_t v = 0;
  unsigned base = 10;
  size_t i = 0;
  if (s.size() > 1 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    base = 16;
    i = 2;
  } else if (s.size() > 1 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B')) {
    base = 2;
    i = 2;
  } else if (s.size() > 1 && s[0] == '0') {
    base = 8;
    i = 1;
  }
  if (i >= s.size()) return false;
  for (; i < s.size(); ++i) {
    char c = s[i];
    if (!is_hex(c)) return false;
    unsigned d = static_cast<unsigned>(hex_val(c));
    if (d >= base) return false;
    if (v > (UINT64_MAX - d) / base) return false;
    v = v * base + d;
  }
  *value = v;
  return true;
}

bool float_bits(std::string_view s, uint64_t* bits, bool* is_double) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'f' || s[1] == 'F' || s[1] == 'd' || s[1] == 'D')) {
    uint64_t v = 0;
    for (size_t i = 2; i < s.size(); ++i) {
      if (!is_hex(s[i])) return false;
      v = (v << 4) | static_cast<uint64_t>(hex_val(s[i]));
    }
    *bits = v;
    *is_double = (s[1] == 'd' || s[1] == 'D');
    return true;
  }
  std::string tmp(s);
  char* end = nullptr;
  double d = std::strtod(tmp.c_str(), &end);
  if (end != tmp.c_str() + tmp.size()) return false;
  std::memcpy(bits, &d, sizeof d);
  *is_double = true;
  return true;
}

}  // namespace gpool::emu::ptx::detail
