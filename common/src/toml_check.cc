#include "gpool/common/toml_check.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace gpool::toml_check {

size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment distance, three rows.
  std::vector<size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggest(std::string_view key, std::initializer_list<std::string_view> candidates) {
  std::string best;
  size_t best_d = 3;
  for (std::string_view c : candidates) {
    const size_t d = edit_distance(key, c);
    if (d < best_d && 2 * d < std::max(key.size(), c.size())) {
      best_d = d;
      best = c;
    }
  }
  return best;
}

std::string at(const std::string& path, const toml::node& node) {
  const auto line = node.source().begin.line;
  return line > 0 ? fmt::format("config {} line {}: ", path, line) : fmt::format("config {}: ", path);
}

bool ascii_outside_strings(std::string_view text, const std::string& path, std::string& error) {
  size_t line = 1;
  size_t i = 0;
  auto starts = [&](std::string_view what) { return text.substr(i, what.size()) == what; };
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\n') {
      ++line;
      ++i;
    } else if (c == '#') {  // a comment: to the end of the line
      while (i < text.size() && text[i] != '\n') ++i;
    } else if (starts("\"\"\"") || starts("'''")) {  // multi-line string
      const std::string_view close = text.substr(i, 3);
      const bool basic = close[0] == '"';
      i += 3;
      while (i < text.size() && !starts(close)) {
        const bool skip = basic && text[i] == '\\' && i + 1 < text.size();
        if (text[i] == '\n' || (skip && text[i + 1] == '\n')) ++line;
        i += skip ? 2 : 1;
      }
      i = std::min(text.size(), i + 3);
    } else if (c == '"' || c == '\'') {  // one-line string
      ++i;
      while (i < text.size() && text[i] != c && text[i] != '\n') {
        i += (c == '"' && text[i] == '\\' && i + 1 < text.size() && text[i + 1] != '\n') ? 2 : 1;
      }
      if (i < text.size() && text[i] == c) ++i;
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      error = fmt::format("config {} line {}: a character outside ASCII outside a string or comment; "
                          "TOML keys and values must be ASCII there", path, line);
      return false;
    } else {
      ++i;
    }
  }
  return true;
}

bool known_keys(const toml::table& table, std::initializer_list<std::string_view> known,
                const std::string& path, const std::string& where, std::string& error) {
  for (const auto& [key, node] : table) {
    const std::string_view k = key.str();
    if (std::find(known.begin(), known.end(), k) != known.end()) continue;
    const std::string hint = suggest(k, known);
    std::string list;
    for (std::string_view c : known) list += (list.empty() ? "" : ", ") + std::string(c);
    error = hint.empty()
                ? fmt::format("{}{}unknown key '{}' (known keys: {})", at(path, node), where, k, list)
                : fmt::format("{}{}unknown key '{}'; did you mean '{}'?", at(path, node), where, k, hint);
    return false;
  }
  return true;
}

bool read_file(const std::string& path, std::string& text, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = fmt::format("config {}: cannot open it: {}", path, std::strerror(errno));
    return false;
  }
  std::ostringstream out;
  out << in.rdbuf();
  text = std::move(out).str();
  return true;
}

}  // namespace gpool::toml_check
