#include "paths.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "gpool/protocol/frame.h"

namespace gpool::tools {
namespace fs = std::filesystem;

namespace {

// `rel` beside this binary (lexically normalised), or "" when it does not exist.
std::string beside_self(const char* rel) {
  const std::string self = self_path();
  if (self.empty()) return "";
  const fs::path p = (fs::path(self).parent_path() / rel).lexically_normal();
  return exists(p.string()) ? p.string() : "";
}

}  // namespace

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::string version_line() {
  return fmt::format("gpool {} (protocol {})", GPOOL_VERSION, protocol::kProtocolVersion);
}

std::string self_path() {
  std::error_code ec;
  const fs::path p = fs::read_symlink("/proc/self/exe", ec);
  return ec ? "" : p.string();
}

std::string shim_dir() {
  if (const char* v = std::getenv("GPOOL_SHIM_DIR"); v != nullptr && *v != '\0') return v;
  if (std::string lib = beside_self("../lib/gpool/client/libcuda.so.1"); !lib.empty()) {
    return fs::path(lib).parent_path().string();
  }
  return GPOOL_BUILD_SHIM_DIR;
}

std::string server_binary() {
  if (const char* v = std::getenv("GPOOL_SERVER_BIN"); v != nullptr && *v != '\0') return v;
  if (std::string bin = beside_self("gpool-server"); !bin.empty()) return bin;
  if (exists(GPOOL_BUILD_SERVER_BIN)) return GPOOL_BUILD_SERVER_BIN;
  return "gpool-server";
}

std::string emulator_library() {
  if (const char* v = std::getenv("GPOOL_EMULATOR_LIB"); v != nullptr && *v != '\0') return v;
  if (std::string lib = beside_self("../lib/gpool/emulator/libcuda.so.1"); !lib.empty()) return lib;
  return GPOOL_BUILD_EMULATOR_DIR "/libcuda.so.1";
}

}  // namespace gpool::tools
