// libFuzzer target: the emulator's PTX parser (emulator/ptx: lexer, parser, initializers), and the
// PTX linker on what parsed: the module linked with a copy of itself (every visible name defined
// twice, every local name clashing) and, split at the input's middle byte, two parsed halves.
// Also the kernel cache's binary form of a parse (ptx/serialize.h): what parsed must survive a
// round trip unchanged, and the raw input read as that form must be refused or decoded, never
// crash (cache entries come from disk).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gpool/emu/ptx/link.h"
#include "gpool/emu/ptx/parser.h"
#include "gpool/emu/ptx/serialize.h"

#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  gpool::emu::ptx::Module module;
  std::string error;
  if (gpool::emu::ptx::parse(text, &module, &error)) {
    std::string bin, again;
    gpool::emu::ptx::serialize(module, &bin);
    gpool::emu::ptx::Module back;
    if (!gpool::emu::ptx::deserialize(bin, &back, &error)) std::abort();
    gpool::emu::ptx::serialize(back, &again);
    if (again != bin) std::abort();
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
  gpool::emu::ptx::Module decoded;
  (void)gpool::emu::ptx::deserialize(text, &decoded, &error);
  return 0;
}
