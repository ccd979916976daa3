// HostFnHub's count of armed markers (server/src/worker_hostfn.h): the hold tags the worker's
// copies use to tell whether a staging slot may wait for the client (docs/architecture.md
// "Copies into a held stream"), and wait_quiet(), which HostFnSettle answers with. The backend's
// thread is played by a std::thread calling the marker, the client by release().
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "worker_hostfn.h"

namespace gpool::server {
namespace {

struct Notes {
  std::mutex mu;
  std::vector<uint64_t> firings;
  uint64_t wait_for_one() {
    for (int i = 0; i < 2000; ++i) {
      {
        std::lock_guard<std::mutex> lock(mu);
        if (!firings.empty()) {
          const uint64_t f = firings.back();
          firings.pop_back();
          return f;
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return 0;
  }
};

HostFnHub make_hub(Notes& notes) {
  return HostFnHub([&notes](uint64_t, uint64_t firing, bool, CUresult, std::span<const std::byte>) {
    std::lock_guard<std::mutex> lock(notes.mu);
    notes.firings.push_back(firing);
    return true;
  });
}

TEST(HostFnHub, ArmedMarkerHoldsItsTagUntilReleased) {
  Notes notes;
  HostFnHub hub = make_hub(notes);
  EXPECT_EQ(hub.tag(), 0u) << "nothing armed";
  HostFnHub::Reg* r = hub.add(7, false);
  ASSERT_NE(r, nullptr);
  hub.arm(r);
  const uint64_t tag = hub.tag();
  ASSERT_NE(tag, 0u);
  EXPECT_TRUE(hub.held(tag));
  std::thread backend([r] { HostFnHub::marker(r); });
  const uint64_t firing = notes.wait_for_one();
  ASSERT_NE(firing, 0u) << "the marker never notified";
  EXPECT_TRUE(hub.held(tag)) << "fired but not released: still held";
  std::atomic<bool> quiet{false};
  std::thread settle([&] {
    hub.wait_quiet();
    quiet = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(quiet) << "wait_quiet returned while a marker was held";
  EXPECT_TRUE(hub.release(firing));
  backend.join();
  settle.join();
  EXPECT_TRUE(quiet);
  EXPECT_FALSE(hub.held(tag)) << "released: work tagged before is no longer held";
  EXPECT_EQ(hub.tag(), 0u);
  // A new arming gets a new tag; the old one stays unheld.
  HostFnHub::Reg* r2 = hub.add(8, false);
  ASSERT_NE(r2, nullptr);
  hub.arm(r2);
  const uint64_t tag2 = hub.tag();
  EXPECT_NE(tag2, tag);
  EXPECT_TRUE(hub.held(tag2));
  EXPECT_FALSE(hub.held(tag));
  hub.drop(r2);  // its enqueue failed
  EXPECT_FALSE(hub.held(tag2));
  EXPECT_FALSE(hub.held(0)) << "tag 0 is never held";
}

TEST(HostFnHub, GraphTailAndClose) {
  Notes notes;
  HostFnHub hub = make_hub(notes);
  hub.arm_tail();
  const uint64_t tag = hub.tag();
  EXPECT_TRUE(hub.held(tag));
  HostFnHub::tail(&hub);  // the backend ran the tail after the graph
  EXPECT_FALSE(hub.held(tag));
  hub.wait_quiet();  // returns at once
  hub.arm_tail();
  hub.arm_tail();
  const uint64_t tag2 = hub.tag();
  hub.disarm_tail();  // one enqueue failed
  EXPECT_TRUE(hub.held(tag2)) << "one tail still armed";
  hub.close();  // the client vanished: nothing waits for it any more
  EXPECT_FALSE(hub.held(tag2));
  hub.wait_quiet();  // returns though a tail is still armed
}

}  // namespace
}  // namespace gpool::server
