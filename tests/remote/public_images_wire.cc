// gpool-remote-public-images-wire: the server's answers to image loads by hash (issue 11,
// item 4; server/src/public_images.h), with the shim's own hashing out of the way. It links the
// shim's objects and sends ModuleLoad calls straight through two Sessions to one gpool-server
// (GPOOL_SERVER listed twice: two workers of one tenant).
//   public_images_wire PUBLIC_FILE PRIVATE_FILE
// PUBLIC_FILE is in the server's public_images, PRIVATE_FILE is not; the first fatbin container
// with PTX in each is the image. Checks:
// - the public image's hash alone loads it (no "send the bytes" answer), in either session;
// - the public image's hash with another size is refused with CUDA_ERROR_INVALID_IMAGE;
// - a hash the server does not know is answered "send the bytes"; bytes that do not have that
//   hash are refused with CUDA_ERROR_INVALID_IMAGE;
// - session A uploads the private image; session B asking by its hash alone is told to send it.
// Prints ok/FAIL lines and PASS. Run by run_remote.py (remote.public_images.wire).
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "gpool/remote/call_codec.h"
#include "ids.h"
#include "pool.h"
#include "session.h"

using namespace gpool::shim;

namespace {

int g_failures = 0;

const char* name(CUresult r) {
  const char* s = nullptr;
  return cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "?";
}

void check(bool good, const std::string& what) {
  std::printf("%s: %s\n", good ? "ok" : "FAIL", what.c_str());
  if (!good) ++g_failures;
}

// The first fatbin container in `path` (8-byte aligned magic 0xBA55ED50, header size 16) that
// holds PTX.
std::vector<std::byte> first_container(const char* path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<char> all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  for (size_t off = 0; off + 16 <= all.size(); off += 8) {
    uint32_t magic = 0;
    uint16_t header = 0;
    uint64_t size = 0;
    std::memcpy(&magic, all.data() + off, 4);
    std::memcpy(&header, all.data() + off + 6, 2);
    std::memcpy(&size, all.data() + off + 8, 8);
    if (magic != 0xBA55ED50u || header != 16 || size > all.size() - off - 16) continue;
    // Entries: kind (1 = PTX) at +0, header size at +4, payload size at +8 of each entry header.
    bool has_ptx = false;
    for (uint64_t e = off + 16; e + 16 <= off + 16 + size;) {
      uint16_t kind = 0;
      uint32_t entry_header = 0;
      uint64_t payload = 0;
      std::memcpy(&kind, all.data() + e, 2);
      std::memcpy(&entry_header, all.data() + e + 4, 4);
      std::memcpy(&payload, all.data() + e + 8, 8);
      has_ptx = has_ptx || kind == 1;
      if (entry_header == 0) break;
      e += entry_header + payload;
    }
    if (has_ptx) {  // the emulator runs PTX: a SASS-only container would not load
      const auto* p = reinterpret_cast<const std::byte*>(all.data() + off);
      return {p, p + 16 + size};
    }
  }
  return {};
}

struct Load {
  CUresult st = CUDA_ERROR_UNKNOWN;
  bool asked_for_bytes = false;
};

// ModuleLoad of `image` named by `hash` (lo, hi) and `size`; the bytes only when `send`.
Load load(Session& s, uint64_t lo, uint64_t hi, uint64_t size, const std::vector<std::byte>* send) {
  const HandleRef h[] = {HandleRef(make_id(IdKind::kModule, s.index()), gpool::remote::HandleKind_Module)};
  const std::vector<uint64_t> args = {lo, hi, size};
  Reply r;
  Load out;
  if (send != nullptr) {
    const gpool::transport::ConstBytes seg{send->data(), send->size()};
    out.st = s.sync(Op::ModuleLoad, args, h, {}, {&seg, 1}, &r);
  } else {
    out.st = s.sync(Op::ModuleLoad, args, h, {}, {}, &r);
  }
  out.asked_for_bytes = out.st == CUDA_SUCCESS && !r.results.empty() && r.results[0] == 1;
  return out;
}

void hash_of(const std::vector<std::byte>& image, uint64_t& lo, uint64_t& hi) {
  const auto digest = gpool::remote::sha256({image.data(), image.size()});
  std::memcpy(&lo, digest.data(), 8);
  std::memcpy(&hi, digest.data() + 8, 8);
}

}  // namespace

int main(int argc, char** argv) {
  const char* url = std::getenv("GPOOL_SERVER");
  if (url == nullptr || argc != 3) {
    std::printf("FAIL: usage: GPOOL_SERVER=URL %s PUBLIC_FILE PRIVATE_FILE\n", argv[0]);
    return 1;
  }
  const std::vector<std::byte> pub = first_container(argv[1]);
  const std::vector<std::byte> priv = first_container(argv[2]);
  if (pub.empty() || priv.empty()) {
    std::printf("FAIL: no fatbin container in %s\n", pub.empty() ? argv[1] : argv[2]);
    return 1;
  }
  const std::string twice = std::string(url) + "," + url;
  ::setenv("GPOOL_SERVER", twice.c_str(), 1);
  if (CUresult st = gpool_impl_cuInit(0); st != CUDA_SUCCESS) {
    std::printf("FAIL: cuInit -> %s\n", name(st));
    return 1;
  }
  if (Pool::global().session_count() != 2) {
    std::printf("FAIL: expected two sessions, got %zu\n", Pool::global().session_count());
    return 1;
  }
  Session& a = Pool::global().session(0);
  Session& b = Pool::global().session(1);
  uint64_t lo = 0, hi = 0;
  hash_of(pub, lo, hi);

  Load l = load(a, lo, hi, pub.size(), nullptr);
  check(l.st == CUDA_SUCCESS && !l.asked_for_bytes,
        std::string("A loads the public image by hash alone -> ") + name(l.st) + (l.asked_for_bytes ? " (asked for bytes)" : ""));
  l = load(b, lo, hi, pub.size(), nullptr);
  check(l.st == CUDA_SUCCESS && !l.asked_for_bytes,
        std::string("B loads the public image by hash alone -> ") + name(l.st) + (l.asked_for_bytes ? " (asked for bytes)" : ""));
  l = load(b, lo, hi, pub.size() + 8, nullptr);
  check(l.st == CUDA_ERROR_INVALID_IMAGE,
        std::string("the public image's hash with a wrong size is refused -> ") + name(l.st));

  // A hash nobody has: the server asks for the bytes, and refuses bytes that do not match it.
  uint64_t flo = lo ^ 0x5a5a5a5a5a5a5a5aull, fhi = hi;
  l = load(a, flo, fhi, pub.size(), nullptr);
  check(l.st == CUDA_SUCCESS && l.asked_for_bytes, std::string("an unknown hash is answered 'send the bytes' -> ") + name(l.st));
  l = load(a, flo, fhi, pub.size(), &pub);
  check(l.st == CUDA_ERROR_INVALID_IMAGE, std::string("bytes that do not have the named hash are refused -> ") + name(l.st));

  // A private image uploaded by A is not B's to load by hash.
  uint64_t plo = 0, phi = 0;
  hash_of(priv, plo, phi);
  l = load(a, plo, phi, priv.size(), nullptr);
  check(l.st == CUDA_SUCCESS && l.asked_for_bytes, std::string("A is asked for the private image's bytes -> ") + name(l.st));
  l = load(a, plo, phi, priv.size(), &priv);
  check(l.st == CUDA_SUCCESS && !l.asked_for_bytes, std::string("A uploads the private image -> ") + name(l.st));
  l = load(b, plo, phi, priv.size(), nullptr);
  check(l.st == CUDA_SUCCESS && l.asked_for_bytes,
        std::string("B naming A's private image by hash is asked for the bytes -> ") + name(l.st));
  std::printf(g_failures ? "FAIL\n" : "PASS\n");
  return g_failures ? 1 : 0;
}
