// The shim's managed-memory table on its own (client-shim/src/managed.h): host copies mapped at
// a given address, host writes tracked by the SIGSEGV handler as dirty page runs, pushes that
// send exactly those runs and make the pages clean again, pulls that rewrite every byte and
// leave the pages read-only, and ranges that are taken refused.
#include "managed.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <utility>
#include <vector>

namespace gpool::shim {
namespace {

constexpr size_t kPage = 4096;

// An address range nothing in this process uses (mapped, then unmapped again).
uintptr_t free_range(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(MAP_FAILED, p);
  munmap(p, bytes);
  return reinterpret_cast<uintptr_t>(p);
}

struct Sent {
  uintptr_t dst;
  std::vector<unsigned char> bytes;
};

std::vector<Sent> push(uint32_t session) {
  std::vector<Sent> sent;
  EXPECT_EQ(CUDA_SUCCESS, managed::push_dirty(session, [&](uintptr_t dst, const void* src, size_t n) {
    const auto* b = static_cast<const unsigned char*>(src);
    sent.push_back({dst, std::vector<unsigned char>(b, b + n)});
    return CUDA_SUCCESS;
  }));
  return sent;
}

TEST(ManagedTable, HostWritesBecomeDirtyRunsThatArePushedOnce) {
  ASSERT_TRUE(managed::install_handler());
  const size_t bytes = 10 * kPage - 100;  // the last page partly used
  const uintptr_t base = free_range(10 * kPage);
  ASSERT_EQ(CUDA_SUCCESS, managed::add(7, base, bytes));
  uintptr_t b = 0;
  size_t n = 0;
  uint32_t session = 0;
  ASSERT_TRUE(managed::find(base + 5000, &b, &n, &session));
  EXPECT_EQ(base, b);
  EXPECT_EQ(bytes, n);
  EXPECT_EQ(7u, session);
  EXPECT_TRUE(managed::any(7));
  EXPECT_FALSE(managed::find(base + bytes, nullptr, nullptr));

  auto* h = reinterpret_cast<volatile unsigned char*>(base);
  EXPECT_EQ(0, h[123]);  // reads need no fault handling: zeros, nothing dirty
  EXPECT_TRUE(push(7).empty());

  h[kPage + 1] = 11;       // page 1
  h[2 * kPage + 2] = 22;   // page 2: one run with page 1
  h[9 * kPage + 5] = 99;   // the last page: its run stops at `bytes`
  std::vector<Sent> sent = push(7);
  ASSERT_EQ(2u, sent.size());
  EXPECT_EQ(base + kPage, sent[0].dst);
  ASSERT_EQ(2 * kPage, sent[0].bytes.size());
  EXPECT_EQ(11, sent[0].bytes[1]);
  EXPECT_EQ(22, sent[0].bytes[kPage + 2]);
  EXPECT_EQ(base + 9 * kPage, sent[1].dst);
  ASSERT_EQ(bytes - 9 * kPage, sent[1].bytes.size());
  EXPECT_EQ(99, sent[1].bytes[5]);
  EXPECT_TRUE(push(7).empty()) << "pushed pages are clean again";
  EXPECT_TRUE(push(8).empty()) << "another session's push sends nothing of it";

  h[kPage + 1] = 12;  // clean pages fault again after a push
  sent = push(7);
  ASSERT_EQ(1u, sent.size());
  EXPECT_EQ(base + kPage, sent[0].dst);
  EXPECT_EQ(12, sent[0].bytes[1]);
  EXPECT_TRUE(managed::remove(base));
  EXPECT_FALSE(managed::any(7));
}

TEST(ManagedTable, PullRewritesEveryByteAndLeavesPagesClean) {
  ASSERT_TRUE(managed::install_handler());
  const size_t bytes = 3 * kPage;
  const uintptr_t base = free_range(bytes);
  ASSERT_EQ(CUDA_SUCCESS, managed::add(9, base, bytes));
  auto* h = reinterpret_cast<volatile unsigned char*>(base);
  h[0] = 1;  // dirty before the pull: the pull's bytes win and the page is clean
  std::vector<std::pair<uintptr_t, size_t>> fetched;
  ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(9, [&](uintptr_t src, void*, size_t n) {
    fetched.emplace_back(src, n);
    std::memset(reinterpret_cast<void*>(src), 0x5c, n);
    return CUDA_SUCCESS;
  }));
  ASSERT_EQ(1u, fetched.size());
  EXPECT_EQ(base, fetched[0].first);
  EXPECT_EQ(bytes, fetched[0].second);
  EXPECT_EQ(0x5c, h[0]);
  EXPECT_EQ(0x5c, h[bytes - 1]);
  EXPECT_TRUE(push(9).empty());
  h[2 * kPage] = 3;  // read-only again: the write is tracked
  EXPECT_EQ(1u, push(9).size());
  // A failing fetch is reported, and the pages are read-only (tracked) afterwards.
  EXPECT_EQ(CUDA_ERROR_DEVICE_UNAVAILABLE,
            managed::pull_all(9, [](uintptr_t, void*, size_t) { return CUDA_ERROR_DEVICE_UNAVAILABLE; }));
  h[0] = 4;
  EXPECT_EQ(1u, push(9).size());
  EXPECT_TRUE(managed::remove(base));
  EXPECT_FALSE(managed::remove(base)) << "only once";
}

// After a launch (lock_out) the host must not touch managed memory until the next pull: a read
// faults loudly, naming the reason; a pull (or unlock) makes the pages readable again.
TEST(ManagedTable, LockedPagesFaultUntilThePull) {
  ASSERT_TRUE(managed::install_handler());
  const size_t bytes = 2 * kPage;
  const uintptr_t base = free_range(bytes);
  ASSERT_EQ(CUDA_SUCCESS, managed::add(11, base, bytes));
  auto* h = reinterpret_cast<volatile unsigned char*>(base);
  h[0] = 7;
  EXPECT_EQ(1u, push(11).size());
  managed::lock_out(11, 0);
  EXPECT_DEATH({ (void)h[kPage + 1]; }, "the host accessed managed memory while a kernel may be using it");
  EXPECT_DEATH({ h[0] = 1; }, "while a kernel may be using it");
  EXPECT_TRUE(push(11).empty()) << "nothing was written while locked";
  ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(11, [&](uintptr_t src, void*, size_t n) {
    std::memset(reinterpret_cast<void*>(src), 0x21, n);
    return CUDA_SUCCESS;
  }));
  EXPECT_EQ(0x21, h[kPage + 1]) << "readable after the pull";
  managed::lock_out(11, 0);
  managed::unlock(11);  // a sticky error: nothing to pull, the host's copy readable again
  EXPECT_EQ(0x21, h[0]);
  h[1] = 2;  // and tracked as before
  EXPECT_EQ(1u, push(11).size());
  EXPECT_TRUE(managed::remove(base));
}

// cuStreamAttachMemAsync's association decides what a launch locks: a host-attached allocation
// never, one attached to a stream only for launches on that stream, a global one always.
TEST(ManagedTable, AttachmentDecidesWhatALaunchLocks) {
  ASSERT_TRUE(managed::install_handler());
  const size_t bytes = kPage;
  const uintptr_t base = free_range(bytes);
  ASSERT_EQ(CUDA_SUCCESS, managed::add(12, base, bytes));
  auto* h = reinterpret_cast<volatile unsigned char*>(base);
  auto pull = [] {
    ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(12, [](uintptr_t, void*, size_t) { return CUDA_SUCCESS; }));
  };
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, managed::attach(12, base + 8, 0, CU_MEM_ATTACH_HOST, 0)) << "not the start";
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, managed::attach(12, base, bytes + 1, CU_MEM_ATTACH_HOST, 0)) << "length";
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, managed::attach(13, base, 0, CU_MEM_ATTACH_HOST, 0)) << "another session";
  ASSERT_EQ(CUDA_SUCCESS, managed::attach(12, base, 0, CU_MEM_ATTACH_HOST, 0));
  managed::lock_out(12, 5);
  h[0] = 1;  // the host's: no fault
  EXPECT_EQ(1u, push(12).size());
  ASSERT_EQ(CUDA_SUCCESS, managed::attach(12, base, bytes, CU_MEM_ATTACH_SINGLE, 5));
  managed::lock_out(12, 6);
  h[1] = 2;  // a launch on another stream leaves it alone
  EXPECT_EQ(1u, push(12).size());
  managed::lock_out(12, 5);
  EXPECT_DEATH({ h[2] = 3; }, "while a kernel may be using it");
  pull();
  ASSERT_EQ(CUDA_SUCCESS, managed::attach(12, base, 0, CU_MEM_ATTACH_GLOBAL, 6));
  managed::lock_out(12, 7);
  EXPECT_DEATH({ (void)h[0]; }, "while a kernel may be using it");
  pull();
  EXPECT_TRUE(managed::remove(base));
}

// Two __managed__ variables of a library on one page, with other globals around them: the page
// is mapped once, a host write pushes exactly the written variable's bytes (never the page, which
// would overwrite the neighbouring globals on the server), pulls fill exactly each variable's
// bytes, and the page stays mapped until the last of them goes.
TEST(ManagedTable, VariablesSharingAPageMoveOnlyTheirOwnBytes) {
  ASSERT_TRUE(managed::install_handler());
  const uintptr_t page = free_range(2 * kPage);
  const uintptr_t a = page + 40, b = page + kPage - 4;  // b runs into the second page
  bool added = false;
  ASSERT_EQ(CUDA_SUCCESS, managed::add_variable(13, a, 8, 77, &added));
  EXPECT_TRUE(added);
  ASSERT_EQ(CUDA_SUCCESS, managed::add_variable(13, b, 12, 77, &added));
  EXPECT_TRUE(added);
  ASSERT_EQ(CUDA_SUCCESS, managed::add_variable(13, a, 8, 77, &added));
  EXPECT_FALSE(added) << "the same variable asked for again";
  bool allocation = true;
  ASSERT_TRUE(managed::find(a + 4, nullptr, nullptr, nullptr, &allocation));
  EXPECT_FALSE(allocation);
  EXPECT_FALSE(managed::find(a + 8, nullptr, nullptr)) << "a neighbour's byte is not the variable";
  EXPECT_EQ(CUDA_ERROR_INVALID_VALUE, managed::attach(13, a, 0, CU_MEM_ATTACH_HOST, 0));

  // Each variable's pull fetches its own bytes, from its own device address.
  std::vector<std::pair<uintptr_t, size_t>> fetched;
  ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(13, [&](uintptr_t src, void* host, size_t n) {
    EXPECT_EQ(src, reinterpret_cast<uintptr_t>(host));
    fetched.emplace_back(src, n);
    std::memset(host, 0x11, n);
    return CUDA_SUCCESS;
  }));
  ASSERT_EQ(2u, fetched.size());
  auto* h = reinterpret_cast<volatile unsigned char*>(page);
  EXPECT_EQ(0, h[39]);
  EXPECT_EQ(0x11, h[40]);
  EXPECT_EQ(0, h[48]);

  h[41] = 5;  // a's byte: only a's 8 bytes go out, although b shares the page
  std::vector<Sent> sent = push(13);
  ASSERT_EQ(2u, sent.size()) << "both variables of the written page, each only its bytes";
  EXPECT_EQ(a, sent[0].dst);
  ASSERT_EQ(8u, sent[0].bytes.size());
  EXPECT_EQ(5, sent[0].bytes[1]);
  EXPECT_EQ(b, sent[1].dst);
  EXPECT_EQ(4u, sent[1].bytes.size()) << "b's bytes on the written page only";
  EXPECT_TRUE(push(13).empty());

  managed::lock_out(13, 0);
  EXPECT_DEATH({ (void)h[41]; }, "while a kernel may be using it");
  managed::unlock(13);

  EXPECT_TRUE(managed::remove(a));
  EXPECT_EQ(0, h[0]) << "b still maps the shared page";
  managed::remove_library(77);
  EXPECT_FALSE(managed::find(b, nullptr, nullptr));
  EXPECT_FALSE(managed::any(13));
  // Both pages are free again: mapping them succeeds.
  void* again = mmap(reinterpret_cast<void*>(page), 2 * kPage, PROT_READ, MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_EQ(reinterpret_cast<void*>(page), again);
  munmap(again, 2 * kPage);
}

// A registered range of the program's own memory, unaligned at both ends: the first push sends
// every byte to the mirror; later only dirty whole pages and changed edge bytes go; the partial
// end pages are never protected (the program's neighbouring data stays writable, also while
// locked out); unregistering gives the pages back writable.
TEST(ManagedTable, RegisteredRangesMirrorUnalignedUserMemory) {
  ASSERT_TRUE(managed::install_handler());
  void* mem = mmap(nullptr, 5 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, mem);
  auto* m = static_cast<volatile unsigned char*>(mem);
  const uintptr_t host = reinterpret_cast<uintptr_t>(mem) + 100;
  const size_t bytes = 3 * kPage;  // [100, 3 pages + 100): whole pages 1 and 2, partial 0 and 3
  const uintptr_t dev = 0x7000'0000'0000;  // the server's address: never touched here
  for (size_t i = 0; i < bytes; ++i) m[100 + i] = static_cast<unsigned char>(i);
  ASSERT_EQ(CUDA_SUCCESS, managed::add_registered(14, host, bytes, dev));
  uintptr_t d = 0;
  ASSERT_TRUE(managed::find_registered(host + 10, 20, &d));
  EXPECT_EQ(dev + 10, d);
  EXPECT_FALSE(managed::find_registered(host + bytes - 4, 8, &d)) << "runs past the end";
  EXPECT_FALSE(managed::find(dev, nullptr, nullptr)) << "not managed memory";

  size_t total = 0;
  for (const Sent& s : push(14)) {
    EXPECT_EQ(s.bytes[0], static_cast<unsigned char>(s.dst - dev));
    total += s.bytes.size();
  }
  EXPECT_EQ(bytes, total) << "the first push sends the whole range";
  EXPECT_TRUE(push(14).empty());

  m[50] = 9;            // outside the range, on its partial first page: nothing to send
  m[100 + 3] = 200;     // an edge byte
  m[kPage + 7] = 201;   // a whole page (faults, then dirty)
  std::vector<Sent> sent = push(14);
  ASSERT_EQ(2u, sent.size());
  EXPECT_EQ(dev + kPage - 100, sent[0].dst) << "the dirty page, from its first byte";
  EXPECT_EQ(kPage, sent[0].bytes.size());
  EXPECT_EQ(dev, sent[1].dst) << "the changed head edge";
  EXPECT_EQ(kPage - 100, sent[1].bytes.size());
  EXPECT_EQ(200, sent[1].bytes[3]);

  managed::lock_out(14, 0);
  m[60] = 1;  // the partial pages keep the program's other data writable
  m[100 + bytes] = 1;
  EXPECT_DEATH({ m[2 * kPage] = 1; }, "while a kernel may be using it");
  ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(14, [&](uintptr_t src, void* into, size_t n) {
    EXPECT_EQ(dev, src);
    EXPECT_EQ(reinterpret_cast<void*>(host), into);
    std::memset(into, 0x42, n);
    return CUDA_SUCCESS;
  }));
  EXPECT_EQ(1, m[60]) << "the pull writes the range only";
  EXPECT_EQ(0x42, m[100]);
  EXPECT_EQ(0x42, m[100 + bytes - 1]);
  EXPECT_EQ(1, m[100 + bytes]);
  EXPECT_TRUE(push(14).empty()) << "pulled edges match their shadow";

  uintptr_t freed = 0;
  EXPECT_TRUE(managed::remove_registered(host, &freed));
  EXPECT_EQ(dev, freed);
  EXPECT_FALSE(managed::any(14));
  m[2 * kPage] = 3;  // writable again, no handler involved
  EXPECT_FALSE(managed::remove_registered(host, nullptr));
  munmap(mem, 5 * kPage);
}

TEST(ManagedTable, TakenOrUnalignedRangesAreRefused) {
  ASSERT_TRUE(managed::install_handler());
  void* taken = mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(MAP_FAILED, taken);
  const auto t = reinterpret_cast<uintptr_t>(taken);
  EXPECT_EQ(CUDA_ERROR_OUT_OF_MEMORY, managed::add(1, t + kPage, kPage));
  EXPECT_FALSE(managed::find(t + kPage, nullptr, nullptr));
  static_cast<char*>(taken)[kPage] = 1;  // still the program's own, writable mapping
  munmap(taken, 2 * kPage);
  EXPECT_EQ(CUDA_ERROR_OUT_OF_MEMORY, managed::add(1, free_range(2 * kPage) + 8, 100));
  EXPECT_EQ(CUDA_ERROR_OUT_OF_MEMORY, managed::add(1, 0, 100));
}

}  // namespace
}  // namespace gpool::shim
