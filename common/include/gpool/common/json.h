// A minimal JSON reader (objects, arrays, strings, numbers, booleans, null), enough for the
// documents gpool writes itself: the server's status answer (`gpool status`, `gpool smi`, the
// NVML shim). Not a general parser: \u escapes above 0x7f become '?', numbers are doubles
// (exact for integers below 2^53, which byte counts are).
// Errors: parse() returns false for text that is not one JSON value (nesting deeper than 32
// included). Thread safety: pure functions and plain values.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace gpool::json {

struct Value {
  enum Kind { kNull, kBool, kNumber, kString, kArray, kObject } kind = kNull;
  bool b = false;
  double n = 0;
  std::string s;
  std::vector<Value> items;
  std::map<std::string, Value, std::less<>> fields;

  // The member `key`, or a null value when this is not an object or has no such member.
  const Value& operator[](std::string_view key) const;
  double num() const { return kind == kNumber ? n : 0; }
  // The number as an unsigned integer (0 when not a non-negative number).
  unsigned long long u64() const { return kind == kNumber && n > 0 ? static_cast<unsigned long long>(n) : 0; }
  std::string str() const { return kind == kString ? s : ""; }
};

// Parses `text` into `out`; false when it is not exactly one JSON value.
bool parse(std::string_view text, Value& out);

}  // namespace gpool::json
