// What loading every PTX image of a library eagerly would cost on the emulator: for each fatbin
// in a shared library's file, the CPU time of reading the image (loader::parse_image: entries
// decompressed, cubins read), parsing its PTX (ptx::parse), reading the parse back from its
// binary form (ptx::serialize/deserialize, what a kernel cache hit does instead of parsing) and
// lowering every kernel (exec::Program::build). A benchmark, not a test:
//   build/bench/kcache/gpool-bench-image-cost /usr/local/cuda/lib64/libcublasLt.so.13 [max images] [sm]
// Fatbins are found by their magic (0xBA55ED50, version 1, 16-byte header) anywhere in the file.
#include "gpool/emu/exec/program.h"
#include "gpool/emu/loader/image.h"
#include "gpool/emu/ptx/parser.h"
#include "gpool/emu/ptx/serialize.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

using namespace gpool::emu;

namespace {

double cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s LIBRARY.so [max images] [device sm, default 130]\n", argv[0]);
    return 2;
  }
  std::ifstream f(argv[1], std::ios::binary);
  const std::vector<char> buf((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const long limit = argc > 2 ? std::atol(argv[2]) : 1000000;
  const uint32_t sm = argc > 3 ? static_cast<uint32_t>(std::atoi(argv[3])) : 130;
  double t_img = 0, t_parse = 0, t_decode = 0, t_lower = 0;
  size_t ptx_bytes = 0, bin_bytes = 0, images = 0, kernels = 0, refused = 0;
  for (size_t off = 0; off + 16 <= buf.size() && static_cast<long>(images) < limit; off += 8) {
    uint32_t magic = 0;
    uint16_t version = 0, header = 0;
    uint64_t size = 0;
    std::memcpy(&magic, buf.data() + off, 4);
    if (magic != 0xBA55ED50u) continue;
    std::memcpy(&version, buf.data() + off + 4, 2);
    std::memcpy(&header, buf.data() + off + 6, 2);
    std::memcpy(&size, buf.data() + off + 8, 8);
    if (version != 1 || header != 16 || size > buf.size() - off - 16) continue;
    loader::Image img;
    std::string err;
    double t0 = cpu_s();
    const bool ok = loader::parse_image(buf.data() + off, &img, &err, 16 + size);
    t_img += cpu_s() - t0;
    off += (16 + size - 8) & ~size_t{7};
    if (!ok) continue;
    const loader::PtxEntry* e = loader::select_ptx(img, sm);
    if (e == nullptr) continue;
    ++images;
    ptx_bytes += e->text.size();
    ptx::Module mod;
    t0 = cpu_s();
    if (!ptx::parse(e->text, &mod, &err)) {
      std::fprintf(stderr, "image %zu: parse: %s\n", images, err.c_str());
      continue;
    }
    t_parse += cpu_s() - t0;
    std::string bin;
    ptx::serialize(mod, &bin);
    bin_bytes += bin.size();
    ptx::Module back;
    t0 = cpu_s();
    if (!ptx::deserialize(bin, &back, &err)) std::fprintf(stderr, "image %zu: decode: %s\n", images, err.c_str());
    t_decode += cpu_s() - t0;
    t0 = cpu_s();
    auto p = exec::Program::build(mod, &err);
    t_lower += cpu_s() - t0;
    if (!p) {
      ++refused;
      std::fprintf(stderr, "image %zu: not runnable: %s\n", images, err.substr(0, 160).c_str());
      continue;
    }
    kernels += p->kernels().size();
  }
  std::printf("%s: %zu PTX images for sm_%u, %.1f MB of PTX (%.1f MB parsed binary form), %zu kernels lowered, "
              "%zu images with a kernel the emulator refuses\n",
              argv[1], images, sm, ptx_bytes / 1e6, bin_bytes / 1e6, kernels, refused);
  std::printf("CPU s: image read %.2f, parse %.2f, decode of the parse %.2f, lowering every kernel %.2f; "
              "decode/parse %.2f\n",
              t_img, t_parse, t_decode, t_lower, t_parse > 0 ? t_decode / t_parse : 0.0);
  return 0;
}
