// libFuzzer target: the server's TOML configuration loader (server/src/config.h: toml++ parsing
// and every strict check: unknown keys with suggestions, types, ranges, tenants, tokens).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gpool::server::Config cfg;
  std::string error;
  (void)gpool::server::load_config_text(std::string_view(reinterpret_cast<const char*>(data), size),
                                        "fuzz.toml", cfg, error);
  return 0;
}
