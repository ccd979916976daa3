// libFuzzer target: the emulator's PTX parser (emulator/ptx: lexer, parser, initializers).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "gpool/emu/ptx/parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gpool::emu::ptx::Module module;
  std::string error;
  (void)gpool::emu::ptx::parse(std::string_view(reinterpret_cast<const char*>(data), size), &module, &error);
  return 0;
}
