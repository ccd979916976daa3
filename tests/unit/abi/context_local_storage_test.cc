// CONTEXT_LOCAL_STORAGE (facts 2.4) through the test driver: put/get/delete keyed by
// (context, key), NULL = current context, destructors on context destruction and primary
// context reset, thread safety.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <tuple>
#include <vector>

#include "driver_fixture.h"

namespace gpool::abi::test {
namespace {

using Dtor = void (*)(CUcontext, void*, void*);
using Put = CUresult (*)(CUcontext, void*, void*, Dtor);
using Delete = CUresult (*)(CUcontext, void*);
using Get = CUresult (*)(void**, CUcontext, void*);

struct Cls {
  Put put;
  Delete del;
  Get get;
};

Cls cls() {
  const void* t = nullptr;
  EXPECT_EQ(export_table("c693336e1121df11a8c368f355d89593", &t), CUDA_SUCCESS);
  auto slots = static_cast<void* const*>(const_cast<void*>(t));
  return {reinterpret_cast<Put>(slots[0]), reinterpret_cast<Delete>(slots[1]),
          reinterpret_cast<Get>(slots[2])};
}

std::mutex g_mu;
std::vector<std::tuple<CUcontext, void*, void*>> g_destroyed;

void record_dtor(CUcontext ctx, void* key, void* value) {
  std::lock_guard lock(g_mu);
  g_destroyed.emplace_back(ctx, key, value);
}

size_t destroyed_count(void* key) {
  std::lock_guard lock(g_mu);
  size_t n = 0;
  for (auto& [c, k, v] : g_destroyed) n += (k == key);
  return n;
}

CUcontext primary(CUdevice dev) {
  CUcontext ctx = nullptr;
  EXPECT_EQ(entry<CUresult (*)(CUcontext*, CUdevice)>("cuDevicePrimaryCtxRetain")(&ctx, dev),
            CUDA_SUCCESS);
  return ctx;
}

CUresult set_current(CUcontext ctx) {
  return entry<CUresult (*)(CUcontext)>("cuCtxSetCurrent")(ctx);
}

TEST(ContextLocalStorage, PutGetReplaceDelete) {
  Cls c = cls();
  static int key;
  int v1 = 1, v2 = 2;
  CUcontext ctx = primary(0);
  void* value = reinterpret_cast<void*>(0x1);
  EXPECT_EQ(c.get(&value, ctx, &key), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(value, nullptr);
  EXPECT_EQ(c.put(ctx, &key, &v1, record_dtor), CUDA_SUCCESS);
  EXPECT_EQ(c.get(&value, ctx, &key), CUDA_SUCCESS);
  EXPECT_EQ(value, &v1);
  EXPECT_EQ(c.put(ctx, &key, &v2, record_dtor), CUDA_SUCCESS);  // replaces
  EXPECT_EQ(c.get(&value, ctx, &key), CUDA_SUCCESS);
  EXPECT_EQ(value, &v2);
  // Same key on another context is a different entry.
  EXPECT_EQ(c.get(&value, primary(1), &key), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(c.del(ctx, &key), CUDA_SUCCESS);
  EXPECT_EQ(c.get(&value, ctx, &key), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(destroyed_count(&key), 0u) << "delete must not run the destructor";
  EXPECT_EQ(c.get(nullptr, ctx, &key), CUDA_ERROR_INVALID_VALUE);
}

TEST(ContextLocalStorage, NullContextMeansTheCurrentOne) {
  Cls c = cls();
  static int key;
  int v = 5;
  ASSERT_EQ(set_current(nullptr), CUDA_SUCCESS);
  void* value = nullptr;
  EXPECT_NE(c.put(nullptr, &key, &v, record_dtor), CUDA_SUCCESS) << "no current context";
  EXPECT_EQ(c.get(&value, nullptr, &key), CUDA_ERROR_INVALID_HANDLE);

  CUcontext ctx = primary(1);
  ASSERT_EQ(set_current(ctx), CUDA_SUCCESS);
  EXPECT_EQ(c.put(nullptr, &key, &v, record_dtor), CUDA_SUCCESS);
  EXPECT_EQ(c.get(&value, ctx, &key), CUDA_SUCCESS);
  EXPECT_EQ(value, &v);
  value = nullptr;
  EXPECT_EQ(c.get(&value, nullptr, &key), CUDA_SUCCESS);
  EXPECT_EQ(value, &v);
  EXPECT_EQ(c.del(nullptr, &key), CUDA_SUCCESS);
  EXPECT_EQ(c.get(&value, ctx, &key), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(set_current(nullptr), CUDA_SUCCESS);
}

TEST(ContextLocalStorage, DestroyingAContextRunsItsDestructors) {
  Cls c = cls();
  static int key_a, key_b;
  int va = 1, vb = 2, vp = 3;
  CUcontext ctx = nullptr;
  ASSERT_EQ(entry<CUresult (*)(CUcontext*, unsigned, CUdevice)>("cuCtxCreate_v2")(&ctx, 0, 0),
            CUDA_SUCCESS);
  CUcontext other = primary(0);
  ASSERT_EQ(c.put(ctx, &key_a, &va, record_dtor), CUDA_SUCCESS);
  ASSERT_EQ(c.put(ctx, &key_b, &vb, nullptr), CUDA_SUCCESS);  // no destructor: just dropped
  ASSERT_EQ(c.put(other, &key_a, &vp, record_dtor), CUDA_SUCCESS);

  ASSERT_EQ(entry<CUresult (*)(CUcontext)>("cuCtxDestroy_v2")(ctx), CUDA_SUCCESS);
  {
    std::lock_guard lock(g_mu);
    size_t hits = 0;
    for (auto& [cx, k, v] : g_destroyed) {
      if (cx == ctx && k == &key_a && v == &va) ++hits;
    }
    EXPECT_EQ(hits, 1u);
  }
  void* value = nullptr;
  EXPECT_EQ(c.get(&value, ctx, &key_a), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(c.get(&value, ctx, &key_b), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(c.get(&value, other, &key_a), CUDA_SUCCESS) << "other contexts keep their entries";
  EXPECT_EQ(value, &vp);
  EXPECT_EQ(c.del(other, &key_a), CUDA_SUCCESS);
}

// cudart's destructor is free to call back into the driver (here: CLS itself).
Put g_reentrant_put = nullptr;
void reentrant_dtor(CUcontext ctx, void* key, void* value) {
  record_dtor(ctx, key, value);
  static int again;
  g_reentrant_put(ctx, &again, value, nullptr);
}

TEST(ContextLocalStorage, PrimaryContextResetRunsDestructorsWithoutHoldingLocks) {
  Cls c = cls();
  g_reentrant_put = c.put;
  static int key;
  int v = 9;
  CUcontext ctx = primary(1);
  ASSERT_EQ(c.put(ctx, &key, &v, reentrant_dtor), CUDA_SUCCESS);
  ASSERT_EQ(entry<CUresult (*)(CUdevice)>("cuDevicePrimaryCtxReset")(1), CUDA_SUCCESS);
  EXPECT_EQ(destroyed_count(&key), 1u);
  void* value = nullptr;
  EXPECT_EQ(c.get(&value, ctx, &key), CUDA_ERROR_INVALID_HANDLE);
  // A second reset finds nothing left to destroy.
  ASSERT_EQ(entry<CUresult (*)(CUdevice)>("cuDevicePrimaryCtxReset")(1), CUDA_SUCCESS);
  EXPECT_EQ(destroyed_count(&key), 1u) << "the re-put entry has no destructor";
}

TEST(ContextLocalStorage, ConcurrentUse) {
  Cls c = cls();
  CUcontext ctx = primary(0);
  static int keys[8][64];
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 200; ++round) {
        for (int k = 0; k < 64; ++k) {
          void* key = &keys[t][k];
          void* want = reinterpret_cast<void*>(uintptr_t(round * 64 + k + 1));
          if (c.put(ctx, key, want, nullptr) != CUDA_SUCCESS) ++failures;
          void* got = nullptr;
          if (c.get(&got, ctx, key) != CUDA_SUCCESS || got != want) ++failures;
        }
        for (int k = 0; k < 64; ++k) c.del(ctx, &keys[t][k]);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

}  // namespace
}  // namespace gpool::abi::test
