// libFuzzer target: the emulator's PTX parser (emulator/ptx: lexer, parser, initializers), and the
// PTX linker on what parsed: the module linked with a copy of itself (every visible name defined
// twice, every local name clashing) and, split at the input's middle byte, two parsed halves.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gpool/emu/ptx/link.h"
#include "gpool/emu/ptx/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  gpool::emu::ptx::Module module;
  std::string error;
  if (gpool::emu::ptx::parse(text, &module, &error)) {
    std::vector<gpool::emu::ptx::Module> units{module, module};
    gpool::emu::ptx::Module linked;
    (void)gpool::emu::ptx::link(std::move(units), &linked, &error);
  }
  gpool::emu::ptx::Module a, b;
  if (gpool::emu::ptx::parse(text.substr(0, size / 2), &a, &error) &&
      gpool::emu::ptx::parse(text.substr(size / 2), &b, &error)) {
    std::vector<gpool::emu::ptx::Module> units;
    units.push_back(std::move(a));
    units.push_back(std::move(b));
    gpool::emu::ptx::Module linked;
    (void)gpool::emu::ptx::link(std::move(units), &linked, &error);
  }
  return 0;
}
