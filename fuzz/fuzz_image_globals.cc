// libFuzzer target: the server's module-globals sizer (server/src/image_globals.h), which reads
// an uploaded image (PTX text, an ELF cubin, a fatbin with zstd/LZ4-compressed entries) before the
// driver sees it, to charge __device__/__constant__ memory to the tenant's quota. The worker
// calls it only on images the bounds check accepted (image_check.h); it is fed here both behind
// that check and on every input, since its own reads must stay inside the buffer either way.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "image_check.h"
#include "image_globals.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gpool::server;
  const std::span<const std::byte> image(reinterpret_cast<const std::byte*>(data), size);
  std::string why;
  (void)image_bounds_ok(image, why);
  (void)image_global_bytes(image);
  (void)ptx_global_bytes({reinterpret_cast<const char*>(data), size});
  return 0;
}
