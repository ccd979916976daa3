// A small JSON reader and writer, enough for etcd's gateway answers and the server records.
//
// parse() builds a tree of Json values (objects keep their keys in order; numbers are kept as
// double and as their text, so 64-bit integers survive: etcd sends int64 as strings anyway).
// Nesting deeper than 64 levels, trailing garbage and malformed input are errors.
// quote() writes a JSON string literal (", \\ and control characters escaped).
// Thread safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace gpool::registry {

class Json {
 public:
  enum class Type { null, boolean, number, string, array, object };

  Type type() const { return type_; }
  bool is_object() const { return type_ == Type::object; }
  bool is_array() const { return type_ == Type::array; }

  // The member `key` of an object, or nullptr (also when this is not an object).
  const Json* get(std::string_view key) const;
  // Array elements (empty unless an array).
  const std::vector<Json>& items() const { return items_; }

  // The string value; "" for non-strings.
  const std::string& str() const { return text_; }
  // A number, or a string holding a decimal integer (etcd's int64 encoding); `fallback` else.
  int64_t as_int(int64_t fallback = 0) const;
  uint64_t as_uint(uint64_t fallback = 0) const;
  double as_double(double fallback = 0) const;
  bool as_bool(bool fallback = false) const { return type_ == Type::boolean ? bool_ : fallback; }

  // Parses `text`; false with `error` (offset and what was expected) when malformed.
  static bool parse(std::string_view text, Json& out, std::string& error);

 private:
  friend class JsonParser;
  Type type_ = Type::null;
  bool bool_ = false;
  double number_ = 0;
  std::string text_;  // string value, or a number's text
  std::vector<Json> items_;
  std::vector<std::pair<std::string, Json>> members_;
};

// `s` as a JSON string literal, quotes included.
std::string quote(std::string_view s);

// Standard base64 (RFC 4648, with padding), as etcd's gateway encodes keys and values.
std::string base64_encode(std::string_view in);
// False for characters outside the alphabet or a bad length.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace gpool::registry
