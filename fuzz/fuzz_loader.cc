// libFuzzer target: the emulator's module image loader (emulator/loader: fatbin wrapper, fatbin
// entries with their compression, ELF cubins, PTX text), bounded by the input's size as the
// server bounds an uploaded image.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gpool/emu/loader/image.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gpool::emu::loader;
  Image img;
  std::string error;
  if (parse_image(data, &img, &error, size)) {
    (void)select_ptx(img, 80);
    (void)no_ptx_message(img, 80);
  }
  return 0;
}
