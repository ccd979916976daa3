#include "info.h"

#include <cstdlib>

#include <fmt/format.h>

#include "gpool/common/variables.h"
#include "paths.h"

namespace gpool::tools {
namespace {

// Markdown inline code shown as plain text on a terminal.
std::string plain(std::string_view md) {
  std::string out;
  for (char c : md) {
    if (c != '`') out.push_back(c);
  }
  return out;
}

std::string found(const std::string& path) { return path + (exists(path) ? "" : "  (missing)"); }

// A table cell: '|' would end the cell.
std::string cell(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else out.push_back(c);
  }
  return out;
}

}  // namespace

std::string info_text() {
  std::string out = version_line() + "\n";
  out += fmt::format("binary     {}\n", self_path());
  out += fmt::format("shim       {}\n", found(shim_dir() + "/libcuda.so.1"));
  out += fmt::format("server     {}\n", server_binary());
  out += fmt::format("emulator   {}\n", found(emulator_library()));
  out += "\nConfiguration variables (value here, or the default when unset; docs/operations.md):\n";
  std::string_view section;
  for (const vars::Variable& v : vars::all()) {
    if (v.section != section) {
      section = v.section;
      out += fmt::format("\n[{}]\n", section);
    }
    const char* value = std::getenv(std::string(v.name).c_str());
    if (value != nullptr) {
      out += fmt::format("  {}={}\n", v.name, value);
    } else {
      out += fmt::format("  {}  (unset; default {})\n", v.name, plain(v.fallback));
    }
    if (!v.toml_key.empty()) out += fmt::format("      TOML key: {}\n", v.toml_key);
    out += fmt::format("      {}\n", plain(v.help));
  }
  return out;
}

std::string variables_markdown() {
  std::string out;
  std::string_view section;
  for (const vars::Variable& v : vars::all()) {
    if (v.section != section) {
      section = v.section;
      out += fmt::format("{}### {}\n\n| variable | TOML key | default | meaning |\n| --- | --- | --- | --- |\n",
                         out.empty() ? "" : "\n", section);
    }
    out += fmt::format("| `{}` | {} | {} | {} |\n", v.name,
                       v.toml_key.empty() ? "" : fmt::format("`{}`", v.toml_key), cell(v.fallback),
                       cell(v.help));
  }
  return out;
}

}  // namespace gpool::tools
