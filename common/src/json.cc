#include "gpool/common/json.h"

#include <cstdlib>

namespace gpool::json {
namespace {

class Reader {
 public:
  explicit Reader(std::string_view text) : t_(text) {}

  bool parse(Value& out) {
    if (!value(out, 0)) return false;
    ws();
    return i_ == t_.size();
  }

 private:
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\r' || t_[i_] == '\t')) ++i_;
  }
  bool lit(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  bool string(std::string& out) {
    if (i_ >= t_.size() || t_[i_] != '"') return false;
    ++i_;
    while (i_ < t_.size() && t_[i_] != '"') {
      char c = t_[i_++];
      if (c == '\\') {
        if (i_ >= t_.size()) return false;
        c = t_[i_++];
        if (c == 'n') c = '\n';
        else if (c == 't') c = '\t';
        else if (c == 'u') {
          if (i_ + 4 > t_.size()) return false;
          const long cp = std::strtol(std::string(t_.substr(i_, 4)).c_str(), nullptr, 16);
          i_ += 4;
          c = cp < 0x80 ? static_cast<char>(cp) : '?';
        }
      }
      out.push_back(c);
    }
    if (i_ >= t_.size()) return false;
    ++i_;
    return true;
  }
  bool value(Value& v, int depth) {
    if (depth > 32) return false;
    ws();
    if (i_ >= t_.size()) return false;
    const char c = t_[i_];
    if (c == '{') {
      v.kind = Value::kObject;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
      for (;;) {
        ws();
        std::string key;
        if (!string(key)) return false;
        ws();
        if (i_ >= t_.size() || t_[i_++] != ':') return false;
        if (!value(v.fields[key], depth + 1)) return false;
        ws();
        if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
        if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
        return false;
      }
    }
    if (c == '[') {
      v.kind = Value::kArray;
      ++i_;
      ws();
      if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
      for (;;) {
        v.items.emplace_back();
        if (!value(v.items.back(), depth + 1)) return false;
        ws();
        if (i_ < t_.size() && t_[i_] == ',') { ++i_; continue; }
        if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
        return false;
      }
    }
    if (c == '"') {
      v.kind = Value::kString;
      return string(v.s);
    }
    if (lit("true")) { v.kind = Value::kBool; v.b = true; return true; }
    if (lit("false")) { v.kind = Value::kBool; return true; }
    if (lit("null")) return true;
    const std::string rest(t_.substr(i_, 64));
    char* end = nullptr;
    v.n = std::strtod(rest.c_str(), &end);
    if (end == rest.c_str()) return false;
    v.kind = Value::kNumber;
    i_ += static_cast<size_t>(end - rest.c_str());
    return true;
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

const Value& Value::operator[](std::string_view key) const {
  static const Value none;
  auto it = fields.find(key);
  return it == fields.end() ? none : it->second;
}

bool parse(std::string_view text, Value& out) { return Reader(text).parse(out); }

}  // namespace gpool::json
