// Shim: the managed-memory table, the SIGSEGV handler that tracks host writes, and the push and
// pull of host copies (managed.h). The session's side (which calls trigger a push or a pull):
// managed_session.cc. The entry points (cuMemAllocManaged, prefetch, advice): memory.cc.
#include "managed.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <mutex>

#include "gpool/common/log.h"
#include "ids.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace gpool::shim::managed {
namespace {

constexpr uintptr_t kPage = 4096;  // the server aligns managed allocations to 4 KiB (calls.toml)
constexpr size_t kSlots = 4096;    // live managed allocations per process
constexpr size_t kMaxCopy = size_t{1} << 30;

// One allocation. `base` is published last (release) and cleared first, so a reader that sees
// a non-zero base sees the other fields of that allocation.
struct Slot {
  std::atomic<uintptr_t> base{0};
  std::atomic<size_t> map_bytes{0};  // bytes rounded up to pages: the host mapping
  std::atomic<size_t> bytes{0};      // requested: what is copied
  std::atomic<uint32_t> session{0};
  std::atomic<std::atomic<uint64_t>*> dirty{nullptr};  // one bit per page
  // PROT_NONE from a launch until the next pull (lock_out): a fault is the program's error.
  std::atomic<bool> locked{false};
  // The stream association (cuStreamAttachMemAsync; attach()): which launches lock it out.
  std::atomic<unsigned> attach{CU_MEM_ATTACH_GLOBAL};
  std::atomic<uint64_t> attach_stream{0};
};

Slot g_slots[kSlots];
std::atomic<size_t> g_high{0};  // slots [0, g_high) may be in use
std::atomic<uint32_t> g_count[kMaxSessions];
std::mutex g_mu;  // table changes and protection changes outside the handler
struct sigaction g_prev;
std::atomic<bool> g_installed{false};

spdlog::logger& logger() { return log::logger("shim"); }

size_t words_for(size_t map_bytes) { return (map_bytes / kPage + 63) / 64; }

void chain(int sig, siginfo_t* info, void* uctx) {
  if (g_prev.sa_flags & SA_SIGINFO) {
    if (g_prev.sa_sigaction != nullptr) {
      g_prev.sa_sigaction(sig, info, uctx);
      return;
    }
  } else if (g_prev.sa_handler != SIG_DFL && g_prev.sa_handler != SIG_IGN) {
    g_prev.sa_handler(sig);
    return;
  }
  // The default action: restored, it applies when the faulting instruction runs again.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGSEGV, &dfl, nullptr);
}

// Async-signal-safe: atomics, mprotect, sigaction (in chain).
void on_segv(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code == SEGV_ACCERR) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    const size_t n = g_high.load(std::memory_order_acquire);
    for (size_t i = 0; i < n; ++i) {
      const uintptr_t b = g_slots[i].base.load(std::memory_order_acquire);
      if (b == 0 || addr < b || addr - b >= g_slots[i].map_bytes.load(std::memory_order_acquire)) {
        continue;
      }
      if (g_slots[i].locked.load(std::memory_order_acquire)) {
        // The host touched managed memory while kernels may run on it: as on a device without
        // concurrent managed access, that is a fault of the program (managed.h).
        static const char msg[] =
            "gpool shim: the host accessed managed memory while a kernel may be using it "
            "(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS is 0: synchronise the stream or "
            "context after a launch before touching managed memory); SIGSEGV\n";
        (void)!write(2, msg, sizeof msg - 1);
        break;
      }
      std::atomic<uint64_t>* dirty = g_slots[i].dirty.load(std::memory_order_acquire);
      const size_t page = (addr - b) / kPage;
      dirty[page / 64].fetch_or(uint64_t{1} << (page % 64), std::memory_order_acq_rel);
      if (mprotect(reinterpret_cast<void*>(b + page * kPage), kPage, PROT_READ | PROT_WRITE) == 0) {
        errno = saved_errno;
        return;
      }
      break;
    }
  }
  errno = saved_errno;
  chain(sig, info, uctx);
}

// The kernel's view of the SIGSEGV action (another runtime may intercept sigaction()).
bool handler_in_place() {
  struct {
    void* handler;
    unsigned long flags;
    void* restorer;
    uint64_t mask;
  } k{};
  if (syscall(SYS_rt_sigaction, SIGSEGV, nullptr, &k, sizeof k.mask) != 0) return false;
  return k.handler == reinterpret_cast<void*>(&on_segv);
}

}  // namespace

bool install_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSEGV, &sa, &g_prev) != 0) {
      logger().error("managed memory: cannot install the SIGSEGV handler that tracks host writes "
                     "(errno {}); cuMemAllocManaged fails", errno);
      return;
    }
    if (!handler_in_place()) {
      logger().error("managed memory: another runtime kept the shim's SIGSEGV handler from being "
                     "installed (under AddressSanitizer set ASAN_OPTIONS=allow_user_segv_handler=1); "
                     "cuMemAllocManaged fails");
      return;
    }
    g_installed.store(true, std::memory_order_release);
  });
  return g_installed.load(std::memory_order_acquire);
}

bool any(uint32_t session) {
  return session < kMaxSessions && g_count[session].load(std::memory_order_acquire) != 0;
}

bool find(uintptr_t p, uintptr_t* base, size_t* bytes, uint32_t* session) {
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const uintptr_t b = g_slots[i].base.load(std::memory_order_acquire);
    const size_t len = g_slots[i].bytes.load(std::memory_order_acquire);
    if (b == 0 || p < b || p - b >= len) continue;
    if (base) *base = b;
    if (bytes) *bytes = len;
    if (session) *session = g_slots[i].session.load(std::memory_order_acquire);
    return true;
  }
  return false;
}

CUresult add(uint32_t session, uintptr_t base, size_t bytes) {
  if (session >= kMaxSessions || base == 0 || base % kPage != 0 || bytes == 0 ||
      bytes > UINTPTR_MAX - base - kPage) {
    logger().error("managed memory: the server returned the unusable address {:#x} for {} bytes",
                   base, bytes);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  const size_t map_bytes = (bytes + kPage - 1) / kPage * kPage;
  void* want = reinterpret_cast<void*>(base);
  void* got = mmap(want, map_bytes, PROT_READ, MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (got != want) {
    const int err = errno;
    if (got != MAP_FAILED) munmap(got, map_bytes);  // a kernel that took the address as a hint
    logger().error("managed memory: the server's address range [{:#x}, {:#x}) is already used in "
                   "this process ({}), so its host copy cannot live at the same address; "
                   "cuMemAllocManaged returns CUDA_ERROR_OUT_OF_MEMORY (retrying may get another "
                   "address)", base, base + map_bytes, got == MAP_FAILED ? std::strerror(err) : "moved");
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  for (size_t i = 0; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    if (s.base.load(std::memory_order_relaxed) != 0) continue;
    auto* dirty = new std::atomic<uint64_t>[words_for(map_bytes)]();
    s.map_bytes.store(map_bytes, std::memory_order_relaxed);
    s.bytes.store(bytes, std::memory_order_relaxed);
    s.session.store(session, std::memory_order_relaxed);
    s.dirty.store(dirty, std::memory_order_relaxed);
    s.attach.store(CU_MEM_ATTACH_GLOBAL, std::memory_order_relaxed);
    s.attach_stream.store(0, std::memory_order_relaxed);
    s.base.store(base, std::memory_order_release);
    if (g_high.load(std::memory_order_relaxed) < i + 1) g_high.store(i + 1, std::memory_order_release);
    g_count[session].fetch_add(1, std::memory_order_acq_rel);
    return CUDA_SUCCESS;
  }
  munmap(want, map_bytes);
  logger().error("managed memory: {} managed allocations are live, the most this shim tracks; "
                 "cuMemAllocManaged returns CUDA_ERROR_OUT_OF_MEMORY (free some first)", kSlots);
  return CUDA_ERROR_OUT_OF_MEMORY;
}

bool remove(uintptr_t base) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (base == 0 || s.base.load(std::memory_order_acquire) != base) continue;
    s.base.store(0, std::memory_order_release);
    s.locked.store(false, std::memory_order_release);
    g_count[s.session.load()].fetch_sub(1, std::memory_order_acq_rel);
    munmap(reinterpret_cast<void*>(base), s.map_bytes.load());
    delete[] s.dirty.exchange(nullptr);
    return true;
  }
  return false;
}

CUresult push_dirty(uint32_t session,
                    const std::function<CUresult(uintptr_t, const void*, size_t)>& send) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base == 0 || s.session.load() != session) continue;
    const size_t bytes = s.bytes.load(), pages = s.map_bytes.load() / kPage;
    std::atomic<uint64_t>* dirty = s.dirty.load();
    // A run of dirty pages [first, end): clean again first (the bit was taken), PROT_READ (a
    // write from now on faults and marks it again), then its bytes go out.
    auto flush = [&](size_t first, size_t end) -> CUresult {
      const uintptr_t from = base + first * kPage;
      mprotect(reinterpret_cast<void*>(from), (end - first) * kPage, PROT_READ);
      const size_t stop = std::min(end * kPage, bytes);
      for (size_t off = first * kPage; off < stop; off += kMaxCopy) {
        const size_t len = std::min(kMaxCopy, stop - off);
        if (CUresult st = send(base + off, reinterpret_cast<const void*>(base + off), len); st != CUDA_SUCCESS) {
          return st;
        }
      }
      return CUDA_SUCCESS;
    };
    size_t run = SIZE_MAX;
    for (size_t w = 0; w < words_for(pages * kPage); ++w) {
      const uint64_t bits = dirty[w].exchange(0, std::memory_order_acq_rel);
      if (bits == 0 && run == SIZE_MAX) continue;
      for (size_t b = 0; b < 64 && w * 64 + b < pages; ++b) {
        const bool d = (bits >> b) & 1;
        if (d && run == SIZE_MAX) {
          run = w * 64 + b;
        } else if (!d && run != SIZE_MAX) {
          if (CUresult st = flush(run, w * 64 + b); st != CUDA_SUCCESS) return st;
          run = SIZE_MAX;
        }
      }
    }
    if (run != SIZE_MAX) {
      if (CUresult st = flush(run, pages); st != CUDA_SUCCESS) return st;
    }
  }
  return CUDA_SUCCESS;
}

CUresult pull_all(uint32_t session, const std::function<CUresult(uintptr_t, size_t)>& fetch) {
  std::lock_guard<std::mutex> lock(g_mu);
  CUresult first = CUDA_SUCCESS;
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base == 0 || s.session.load() != session) continue;
    const size_t bytes = s.bytes.load(), map_bytes = s.map_bytes.load();
    void* p = reinterpret_cast<void*>(base);
    mprotect(p, map_bytes, PROT_READ | PROT_WRITE);
    for (size_t off = 0; off < bytes && first == CUDA_SUCCESS; off += kMaxCopy) {
      first = fetch(base + off, std::min(kMaxCopy, bytes - off));
    }
    mprotect(p, map_bytes, PROT_READ);
    s.locked.store(false, std::memory_order_release);
    std::atomic<uint64_t>* dirty = s.dirty.load();
    for (size_t w = 0; w < words_for(map_bytes); ++w) dirty[w].store(0, std::memory_order_release);
  }
  return first;
}

CUresult attach(uint32_t session, uintptr_t base, size_t length, unsigned flags, uint64_t stream) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (base == 0 || s.base.load(std::memory_order_acquire) != base || s.session.load() != session) continue;
    if (length != 0 && length != s.bytes.load()) return CUDA_ERROR_INVALID_VALUE;
    s.attach.store(flags, std::memory_order_relaxed);
    s.attach_stream.store(stream, std::memory_order_relaxed);
    return CUDA_SUCCESS;
  }
  return CUDA_ERROR_INVALID_VALUE;
}

void lock_out(uint32_t session, uint64_t stream) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base == 0 || s.session.load() != session || s.locked.load()) continue;
    // Host-attached memory stays the host's; memory attached to one stream is locked only by
    // launches on that stream (a kernel on another stream may not use it).
    const unsigned how = s.attach.load(std::memory_order_relaxed);
    if (how == CU_MEM_ATTACH_HOST ||
        (how == CU_MEM_ATTACH_SINGLE && s.attach_stream.load(std::memory_order_relaxed) != stream)) {
      continue;
    }
    s.locked.store(true, std::memory_order_release);
    mprotect(reinterpret_cast<void*>(base), s.map_bytes.load(), PROT_NONE);
  }
}

void unlock(uint32_t session) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base == 0 || s.session.load() != session || !s.locked.load()) continue;
    mprotect(reinterpret_cast<void*>(base), s.map_bytes.load(), PROT_READ);
    s.locked.store(false, std::memory_order_release);
  }
}

}  // namespace gpool::shim::managed
