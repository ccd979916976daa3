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
  ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(9, [&](uintptr_t src, size_t n) {
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
            managed::pull_all(9, [](uintptr_t, size_t) { return CUDA_ERROR_DEVICE_UNAVAILABLE; }));
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
  ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(11, [&](uintptr_t src, size_t n) {
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
    ASSERT_EQ(CUDA_SUCCESS, managed::pull_all(12, [](uintptr_t, size_t) { return CUDA_SUCCESS; }));
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
