#include "gpool/registry/json.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

namespace gpool::registry {

class JsonParser {
 public:
  explicit JsonParser(std::string_view t) : t_(t) {}

  bool document(Json& out, std::string& error) {
    if (!value(out, 0)) {
      error = fmt::format("malformed JSON at offset {}: {}", pos_, why_);
      return false;
    }
    skip();
    if (pos_ != t_.size()) {
      error = fmt::format("malformed JSON at offset {}: text after the value", pos_);
      return false;
    }
    return true;
  }

 private:
  void skip() {
    while (pos_ < t_.size() && (t_[pos_] == ' ' || t_[pos_] == '\t' || t_[pos_] == '\n' || t_[pos_] == '\r')) ++pos_;
  }
  bool fail(const char* why) {
    why_ = why;
    return false;
  }
  bool literal(std::string_view word) {
    if (t_.substr(pos_, word.size()) != word) return fail("unknown literal");
    pos_ += word.size();
    return true;
  }

  bool value(Json& out, int depth) {
    if (depth > 64) return fail("nested too deeply");
    skip();
    if (pos_ >= t_.size()) return fail("unexpected end");
    const char c = t_[pos_];
    if (c == '{') return object(out, depth);
    if (c == '[') return array(out, depth);
    if (c == '"') {
      out.type_ = Json::Type::string;
      return string(out.text_);
    }
    if (c == 't') {
      out.type_ = Json::Type::boolean;
      out.bool_ = true;
      return literal("true");
    }
    if (c == 'f') {
      out.type_ = Json::Type::boolean;
      return literal("false");
    }
    if (c == 'n') return literal("null");
    return number(out);
  }

  bool number(Json& out) {
    const size_t start = pos_;
    if (pos_ < t_.size() && t_[pos_] == '-') ++pos_;
    const size_t digits = pos_;
    while (pos_ < t_.size() && (std::isdigit(static_cast<unsigned char>(t_[pos_])) || t_[pos_] == '.' ||
                                t_[pos_] == 'e' || t_[pos_] == 'E' || t_[pos_] == '+' || t_[pos_] == '-')) {
      ++pos_;
    }
    if (pos_ == digits || !std::isdigit(static_cast<unsigned char>(t_[digits]))) return fail("expected a value");
    out.type_ = Json::Type::number;
    out.text_ = std::string(t_.substr(start, pos_ - start));
    char* end = nullptr;
    out.number_ = std::strtod(out.text_.c_str(), &end);
    if (end != out.text_.c_str() + out.text_.size()) return fail("malformed number");
    return true;
  }

  static void put_utf8(std::string& s, uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xC0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xE0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      s += static_cast<char>(0xF0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      s += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  bool hex4(uint32_t& cp) {
    if (pos_ + 4 > t_.size()) return fail("truncated \\u escape");
    cp = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = t_[pos_++];
      cp <<= 4;
      if (h >= '0' && h <= '9') cp |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') cp |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') cp |= static_cast<uint32_t>(h - 'A' + 10);
      else return fail("bad \\u escape");
    }
    return true;
  }

  bool string(std::string& out) {
    ++pos_;  // opening quote
    out.clear();
    while (pos_ < t_.size()) {
      const char c = t_[pos_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= t_.size()) break;
      const char e = t_[pos_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp < 0xDC00 && t_.substr(pos_, 2) == "\\u") {
            pos_ += 2;
            uint32_t lo = 0;
            if (!hex4(lo)) return false;
            if (lo < 0xDC00 || lo > 0xDFFF) return fail("bad surrogate pair");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default:
          return fail("bad escape");
      }
    }
    return fail("unterminated string");
  }

  bool array(Json& out, int depth) {
    ++pos_;
    out.type_ = Json::Type::array;
    skip();
    if (pos_ < t_.size() && t_[pos_] == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      out.items_.emplace_back();
      if (!value(out.items_.back(), depth + 1)) return false;
      skip();
      if (pos_ < t_.size() && t_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < t_.size() && t_[pos_] == ']') {
        ++pos_;
        return true;
      }
      return fail("expected , or ]");
    }
  }

  bool object(Json& out, int depth) {
    ++pos_;
    out.type_ = Json::Type::object;
    skip();
    if (pos_ < t_.size() && t_[pos_] == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      skip();
      if (pos_ >= t_.size() || t_[pos_] != '"') return fail("expected a member name");
      std::string key;
      if (!string(key)) return false;
      skip();
      if (pos_ >= t_.size() || t_[pos_] != ':') return fail("expected :");
      ++pos_;
      out.members_.emplace_back(std::move(key), Json());
      if (!value(out.members_.back().second, depth + 1)) return false;
      skip();
      if (pos_ < t_.size() && t_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < t_.size() && t_[pos_] == '}') {
        ++pos_;
        return true;
      }
      return fail("expected , or }");
    }
  }

  std::string_view t_;
  size_t pos_ = 0;
  const char* why_ = "";
};

const Json* Json::get(std::string_view key) const {
  for (const auto& [k, v] : members_) {
    if (k == key) return &v;
  }
  return nullptr;
}

int64_t Json::as_int(int64_t fallback) const {
  if (type_ != Type::number && type_ != Type::string) return fallback;
  if (text_.empty()) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text_.c_str(), &end, 10);
  if (errno != 0 || end != text_.c_str() + text_.size()) {
    if (type_ == Type::number && std::isfinite(number_) && std::fabs(number_) < 9.2e18) {
      return static_cast<int64_t>(number_);
    }
    return fallback;
  }
  return v;
}

uint64_t Json::as_uint(uint64_t fallback) const {
  if (type_ != Type::number && type_ != Type::string) return fallback;
  if (text_.empty() || text_[0] == '-') return fallback;
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text_.c_str(), &end, 10);
  if (errno != 0 || end != text_.c_str() + text_.size()) return fallback;
  return v;
}

double Json::as_double(double fallback) const {
  if (type_ == Type::number) return number_;
  if (type_ == Type::string) {
    char* end = nullptr;
    const double v = std::strtod(text_.c_str(), &end);
    if (!text_.empty() && end == text_.c_str() + text_.size()) return v;
  }
  return fallback;
}

bool Json::parse(std::string_view text, Json& out, std::string& error) {
  Json fresh;
  JsonParser p(text);
  if (!p.document(fresh, error)) return false;
  out = std::move(fresh);
  return true;
}

std::string quote(std::string_view s) {
  std::string out = "\"";
  for (const char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

namespace {
constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const uint32_t v = (uint32_t(uint8_t(in[i])) << 16) | (uint32_t(uint8_t(in[i + 1])) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string& out) {
  out.clear();
  if (in.size() % 4 != 0) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '=') {
      // Padding only at the end: one or two characters.
      if (i + 2 < in.size() || (i + 1 < in.size() && in[i + 1] != '=')) return false;
      break;
    }
    uint32_t v = 0;
    if (c >= 'A' && c <= 'Z') v = uint32_t(c - 'A');
    else if (c >= 'a' && c <= 'z') v = uint32_t(c - 'a' + 26);
    else if (c >= '0' && c <= '9') v = uint32_t(c - '0' + 52);
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else return false;
    acc = (acc << 6) | v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return true;
}

}  // namespace gpool::registry
