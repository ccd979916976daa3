// Test helper: a TOML file in a fresh temporary directory, removed with the object.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace gpool::server::testing {

class TempToml {
 public:
  explicit TempToml(const std::string& text) {
    char tmpl[] = "/tmp/gpool-server-test-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    path_ = dir_ + "/server.toml";
    write(text);
  }
  ~TempToml() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void write(const std::string& text) const { std::ofstream(path_, std::ios::trunc) << text; }
  const std::string& path() const { return path_; }

 private:
  std::string dir_, path_;
};

}  // namespace gpool::server::testing
