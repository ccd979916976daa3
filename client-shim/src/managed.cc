// Shim: the managed-memory table (allocations, library variables, registered host ranges), the
// SIGSEGV handler that tracks host writes, and the push and pull of host copies (managed.h). The session's side (which calls trigger a push or a pull):
// managed_session.cc. The entry points (cuMemAllocManaged, prefetch, advice): memory.cc.
#include "managed.h"

#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <vector>

#include "gpool/common/log.h"
#include "ids.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

namespace gpool::shim::managed {
namespace {

constexpr uintptr_t kPage = 4096;  // the server aligns managed allocations to 4 KiB (calls.toml)
constexpr size_t kSlots = 4096;    // live managed entries per process
constexpr size_t kMaxCopy = size_t{1} << 30;

enum Kind : unsigned { kAlloc = 0, kVariable = 1, kRegistered = 2 };

uintptr_t page_down(uintptr_t a) { return a & ~(kPage - 1); }
uintptr_t page_up(uintptr_t a) { return (a + kPage - 1) & ~(kPage - 1); }

// One entry. `base` (the device address) is published last (release) and cleared first, so a
// reader that sees a non-zero base sees the other fields of that entry.
struct Slot {
  std::atomic<uintptr_t> base{0};
  std::atomic<uintptr_t> host{0};    // where the host copy's bytes are (== base but for kRegistered)
  std::atomic<uintptr_t> prot{0};    // the pages the shim protects: [prot, prot + map_bytes)
  std::atomic<size_t> map_bytes{0};  // whole pages; 0 for a registration inside one or two pages
  std::atomic<size_t> bytes{0};      // requested: what is copied
  std::atomic<uint32_t> session{0};
  std::atomic<unsigned> kind{kAlloc};
  std::atomic<std::atomic<uint64_t>*> dirty{nullptr};  // one bit per protected page
  // PROT_NONE from a launch until the next pull (lock_out): a fault is the program's error.
  std::atomic<bool> locked{false};
  // The stream association (cuStreamAttachMemAsync; attach()): which launches lock it out.
  std::atomic<unsigned> attach{CU_MEM_ATTACH_GLOBAL};
  std::atomic<uint64_t> attach_stream{0};
  // Under g_mu only (never read by the handler):
  uint64_t library = 0;             // kVariable: the client's library id
  std::vector<unsigned char> edge;  // kRegistered: shadow of the bytes outside the protected pages
  bool edge_stale = false;          // kRegistered: push the edge bytes whatever the shadow says
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

// Async-signal-safe: atomics, mprotect, sigaction (in chain). A page shared by several library
// variables is marked dirty in each of them (the write may be to any of their bytes).
void on_segv(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  if (info != nullptr && info->si_code == SEGV_ACCERR) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    const size_t n = g_high.load(std::memory_order_acquire);
    bool marked = false, locked = false;
    for (size_t i = 0; i < n; ++i) {
      if (g_slots[i].base.load(std::memory_order_acquire) == 0) continue;
      const uintptr_t p = g_slots[i].prot.load(std::memory_order_acquire);
      if (addr < p || addr - p >= g_slots[i].map_bytes.load(std::memory_order_acquire)) continue;
      if (g_slots[i].locked.load(std::memory_order_acquire)) {
        locked = true;
        break;
      }
      std::atomic<uint64_t>* dirty = g_slots[i].dirty.load(std::memory_order_acquire);
      const size_t page = (addr - p) / kPage;
      dirty[page / 64].fetch_or(uint64_t{1} << (page % 64), std::memory_order_acq_rel);
      marked = true;
    }
    if (locked) {
      // The host touched managed memory while kernels may run on it: as on a device without
      // concurrent managed access, that is a fault of the program (managed.h).
      static const char msg[] =
          "gpool shim: the host accessed managed memory while a kernel may be using it "
          "(CU_DEVICE_ATTRIBUTE_CONCURRENT_MANAGED_ACCESS is 0: synchronise the stream or "
          "context after a launch before touching managed memory); SIGSEGV\n";
      (void)!write(2, msg, sizeof msg - 1);
    } else if (marked &&
               mprotect(reinterpret_cast<void*>(page_down(addr)), kPage, PROT_READ | PROT_WRITE) == 0) {
      errno = saved_errno;
      return;
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

// Under g_mu: whether a live variable other than `skip` has a copy on the page at `page`.
bool variable_maps_page(uintptr_t page, const Slot* skip) {
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const Slot& s = g_slots[i];
    if (&s == skip || s.base.load(std::memory_order_acquire) == 0 || s.kind.load() != kVariable) continue;
    const uintptr_t p = s.prot.load();
    if (page >= p && page - p < s.map_bytes.load()) return true;
  }
  return false;
}

// Under g_mu: a free slot filled with everything but `base`, then published. Null when full.
Slot* publish(uint32_t session, Kind kind, uintptr_t base, uintptr_t host, uintptr_t prot,
              size_t map_bytes, size_t bytes) {
  for (size_t i = 0; i < kSlots; ++i) {
    Slot& s = g_slots[i];
    if (s.base.load(std::memory_order_relaxed) != 0) continue;
    auto* dirty = new std::atomic<uint64_t>[std::max<size_t>(words_for(map_bytes), 1)]();
    s.host.store(host, std::memory_order_relaxed);
    s.prot.store(prot, std::memory_order_relaxed);
    s.map_bytes.store(map_bytes, std::memory_order_relaxed);
    s.bytes.store(bytes, std::memory_order_relaxed);
    s.session.store(session, std::memory_order_relaxed);
    s.kind.store(kind, std::memory_order_relaxed);
    s.dirty.store(dirty, std::memory_order_relaxed);
    s.locked.store(false, std::memory_order_relaxed);
    s.attach.store(CU_MEM_ATTACH_GLOBAL, std::memory_order_relaxed);
    s.attach_stream.store(0, std::memory_order_relaxed);
    s.library = 0;
    s.edge.clear();
    s.edge_stale = false;
    s.base.store(base, std::memory_order_release);
    if (g_high.load(std::memory_order_relaxed) < i + 1) g_high.store(i + 1, std::memory_order_release);
    g_count[session].fetch_add(1, std::memory_order_acq_rel);
    return &s;
  }
  return nullptr;
}

// Under g_mu: takes the slot out of the table and gives back what the shim mapped or protected.
void unpublish(Slot& s) {
  const uintptr_t base = s.base.load(std::memory_order_acquire);
  s.base.store(0, std::memory_order_release);
  s.locked.store(false, std::memory_order_release);
  g_count[s.session.load()].fetch_sub(1, std::memory_order_acq_rel);
  const uintptr_t prot = s.prot.load();
  const size_t map_bytes = s.map_bytes.load();
  switch (s.kind.load()) {
    case kAlloc:
      munmap(reinterpret_cast<void*>(base), map_bytes);
      break;
    case kVariable:  // pages another variable still uses stay
      for (uintptr_t page = prot; page < prot + map_bytes; page += kPage) {
        if (!variable_maps_page(page, &s)) munmap(reinterpret_cast<void*>(page), kPage);
      }
      break;
    case kRegistered:  // the program's own pages: writable again
      if (map_bytes != 0) mprotect(reinterpret_cast<void*>(prot), map_bytes, PROT_READ | PROT_WRITE);
      s.edge.clear();
      break;
  }
  delete[] s.dirty.exchange(nullptr);
}

// The bytes of a registered range outside its protected pages: [host, head_end) and
// [tail_begin, host + bytes) (either may be empty).
void edges_of(const Slot& s, uintptr_t* head_end, uintptr_t* tail_begin) {
  const uintptr_t host = s.host.load(), end = host + s.bytes.load();
  const uintptr_t prot = s.prot.load();
  const size_t map_bytes = s.map_bytes.load();
  if (map_bytes == 0) {
    *head_end = end;
    *tail_begin = end;
  } else {
    *head_end = prot;
    *tail_begin = prot + map_bytes;
  }
}

// Under g_mu: a registered range's edge bytes that differ from the shadow (or all of them when
// stale) go out; the shadow takes the host's bytes.
CUresult push_edges(Slot& s, const std::function<CUresult(uintptr_t, const void*, size_t)>& send) {
  uintptr_t head_end = 0, tail_begin = 0;
  edges_of(s, &head_end, &tail_begin);
  const uintptr_t host = s.host.load(), end = host + s.bytes.load(), dev = s.base.load();
  const size_t head = head_end - host, tail = end - tail_begin;
  if (s.edge.size() != head + tail) {
    s.edge.assign(head + tail, 0);
    s.edge_stale = true;
  }
  const bool stale = s.edge_stale;
  s.edge_stale = false;
  auto piece = [&](uintptr_t from, size_t n, unsigned char* shadow) -> CUresult {
    if (n == 0) return CUDA_SUCCESS;
    const void* h = reinterpret_cast<const void*>(from);
    if (!stale && std::memcmp(shadow, h, n) == 0) return CUDA_SUCCESS;
    std::memcpy(shadow, h, n);
    return send(dev + (from - host), h, n);
  };
  if (CUresult st = piece(host, head, s.edge.data()); st != CUDA_SUCCESS) return st;
  return piece(tail_begin, tail, s.edge.data() + head);
}

// Under g_mu: the shadow of a registered range's edges takes the host's (just pulled) bytes.
void shadow_edges(Slot& s) {
  uintptr_t head_end = 0, tail_begin = 0;
  edges_of(s, &head_end, &tail_begin);
  const uintptr_t host = s.host.load(), end = host + s.bytes.load();
  const size_t head = head_end - host, tail = end - tail_begin;
  s.edge.resize(head + tail);
  if (head != 0) std::memcpy(s.edge.data(), reinterpret_cast<const void*>(host), head);
  if (tail != 0) std::memcpy(s.edge.data() + head, reinterpret_cast<const void*>(tail_begin), tail);
  s.edge_stale = false;
}

// Under g_mu: the dirty runs of one slot's protected pages go out, byte-exact: a run's bytes
// are clipped to [host, host + bytes), so a variable's push never carries its neighbours'.
CUresult push_slot(Slot& s, const std::function<CUresult(uintptr_t, const void*, size_t)>& send) {
  const uintptr_t host = s.host.load(), dev = s.base.load(), prot = s.prot.load();
  const size_t bytes = s.bytes.load(), pages = s.map_bytes.load() / kPage;
  std::atomic<uint64_t>* dirty = s.dirty.load();
  // A run of dirty pages [first, end): clean again first (the bit was taken), PROT_READ (a
  // write from now on faults and marks it again), then its bytes go out.
  auto flush = [&](size_t first, size_t end) -> CUresult {
    const uintptr_t from = prot + first * kPage;
    mprotect(reinterpret_cast<void*>(from), (end - first) * kPage, PROT_READ);
    const uintptr_t lo = std::max(from, host), hi = std::min(prot + end * kPage, host + bytes);
    for (uintptr_t a = lo; a < hi; a += kMaxCopy) {
      const size_t len = std::min<size_t>(kMaxCopy, hi - a);
      if (CUresult st = send(dev + (a - host), reinterpret_cast<const void*>(a), len); st != CUDA_SUCCESS) {
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
  if (s.kind.load() == kRegistered) return push_edges(s, send);
  return CUDA_SUCCESS;
}

// Under g_mu: one slot's pull (see pull_all()).
CUresult pull_slot(Slot& s, const std::function<CUresult(uintptr_t, void*, size_t)>& fetch) {
  const uintptr_t host = s.host.load(), dev = s.base.load(), prot = s.prot.load();
  const size_t bytes = s.bytes.load(), map_bytes = s.map_bytes.load();
  CUresult first = CUDA_SUCCESS;
  if (map_bytes != 0) mprotect(reinterpret_cast<void*>(prot), map_bytes, PROT_READ | PROT_WRITE);
  for (size_t off = 0; off < bytes && first == CUDA_SUCCESS; off += kMaxCopy) {
    first = fetch(dev + off, reinterpret_cast<void*>(host + off), std::min(kMaxCopy, bytes - off));
  }
  if (map_bytes != 0) mprotect(reinterpret_cast<void*>(prot), map_bytes, PROT_READ);
  s.locked.store(false, std::memory_order_release);
  std::atomic<uint64_t>* dirty = s.dirty.load();
  for (size_t w = 0; w < words_for(map_bytes); ++w) dirty[w].store(0, std::memory_order_release);
  if (s.kind.load() == kRegistered) shadow_edges(s);
  return first;
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

bool find(uintptr_t p, uintptr_t* base, size_t* bytes, uint32_t* session, bool* allocation) {
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const uintptr_t b = g_slots[i].base.load(std::memory_order_acquire);
    const size_t len = g_slots[i].bytes.load(std::memory_order_acquire);
    if (b == 0 || p < b || p - b >= len) continue;
    const unsigned kind = g_slots[i].kind.load(std::memory_order_acquire);
    if (kind == kRegistered) continue;
    if (base) *base = b;
    if (bytes) *bytes = len;
    if (session) *session = g_slots[i].session.load(std::memory_order_acquire);
    if (allocation) *allocation = kind == kAlloc;
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
  const size_t map_bytes = page_up(bytes);
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
  if (publish(session, kAlloc, base, base, base, map_bytes, bytes) != nullptr) return CUDA_SUCCESS;
  munmap(want, map_bytes);
  logger().error("managed memory: {} managed allocations are live, the most this shim tracks; "
                 "cuMemAllocManaged returns CUDA_ERROR_OUT_OF_MEMORY (free some first)", kSlots);
  return CUDA_ERROR_OUT_OF_MEMORY;
}

CUresult add_variable(uint32_t session, uintptr_t dev, size_t bytes, uint64_t library, bool* added) {
  *added = false;
  if (session >= kMaxSessions || dev == 0 || bytes == 0 || bytes > UINTPTR_MAX - dev - kPage) {
    logger().error("managed variable: the server returned the unusable address {:#x} for {} bytes",
                   dev, bytes);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const Slot& s = g_slots[i];
    if (s.base.load(std::memory_order_acquire) == dev && s.kind.load() == kVariable &&
        s.session.load() == session && s.bytes.load() == bytes) {
      return CUDA_SUCCESS;  // asked for again
    }
  }
  const uintptr_t lo = page_down(dev), hi = page_up(dev + bytes);
  std::vector<uintptr_t> mapped;  // pages mapped by this call, unmapped again on failure
  for (uintptr_t page = lo; page < hi; page += kPage) {
    if (variable_maps_page(page, nullptr)) continue;  // another variable's copy shares it
    void* want = reinterpret_cast<void*>(page);
    void* got = mmap(want, kPage, PROT_READ, MAP_FIXED_NOREPLACE | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (got != want) {
      const int err = errno;
      if (got != MAP_FAILED) munmap(got, kPage);
      for (uintptr_t m : mapped) munmap(reinterpret_cast<void*>(m), kPage);
      logger().error("managed variable: the page {:#x} of the server's variable [{:#x}, {:#x}) is "
                     "already used in this process ({}), so its host copy cannot live at the same "
                     "address; CUDA_ERROR_OUT_OF_MEMORY", page, dev, dev + bytes,
                     got == MAP_FAILED ? std::strerror(err) : "moved");
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    mapped.push_back(page);
  }
  // Pages shared with another variable may be locked or read-only: the new copy follows them.
  Slot* s = publish(session, kVariable, dev, dev, lo, hi - lo, bytes);
  if (s == nullptr) {
    for (uintptr_t m : mapped) munmap(reinterpret_cast<void*>(m), kPage);
    logger().error("managed variable: {} managed entries are live, the most this shim tracks", kSlots);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  s->library = library;
  *added = true;
  return CUDA_SUCCESS;
}

void remove_library(uint64_t library) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (s.base.load(std::memory_order_acquire) == 0 || s.kind.load() != kVariable || s.library != library) continue;
    unpublish(s);
  }
}

CUresult add_registered(uint32_t session, uintptr_t host, size_t bytes, uintptr_t dev) {
  if (session >= kMaxSessions || host == 0 || dev == 0 || bytes == 0 || bytes > UINTPTR_MAX - host - kPage) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uintptr_t lo = page_up(host), hi = page_down(host + bytes);
  const size_t map_bytes = hi > lo ? hi - lo : 0;
  std::lock_guard<std::mutex> lock(g_mu);
  Slot* s = publish(session, kRegistered, dev, host, map_bytes != 0 ? lo : 0, map_bytes, bytes);
  if (s == nullptr) {
    logger().error("registered host memory: {} managed entries are live, the most this shim tracks; "
                   "cuMemHostRegister returns CUDA_ERROR_OUT_OF_MEMORY", kSlots);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  // The device copy starts empty: every page is dirty (and stays writable until the push).
  std::atomic<uint64_t>* dirty = s->dirty.load();
  for (size_t page = 0; page < map_bytes / kPage; ++page) {
    dirty[page / 64].fetch_or(uint64_t{1} << (page % 64), std::memory_order_relaxed);
  }
  s->edge_stale = true;
  return CUDA_SUCCESS;
}

bool remove_registered(uintptr_t host, uintptr_t* dev) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (host == 0 || s.base.load(std::memory_order_acquire) == 0 || s.kind.load() != kRegistered ||
        s.host.load() != host) {
      continue;
    }
    if (dev) *dev = s.base.load();
    unpublish(s);
    return true;
  }
  return false;
}

bool find_registered(uintptr_t p, size_t n, uintptr_t* dev, uint32_t* session) {
  const size_t high = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < high; ++i) {
    const Slot& s = g_slots[i];
    const uintptr_t b = s.base.load(std::memory_order_acquire);
    if (b == 0 || s.kind.load(std::memory_order_acquire) != kRegistered) continue;
    const uintptr_t h = s.host.load(std::memory_order_acquire);
    const size_t len = s.bytes.load(std::memory_order_acquire);
    if (p < h || p - h >= len || n > len - (p - h)) continue;
    if (dev) *dev = b + (p - h);
    if (session) *session = s.session.load(std::memory_order_acquire);
    return true;
  }
  return false;
}

bool remove(uintptr_t base) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (base == 0 || s.base.load(std::memory_order_acquire) != base) continue;
    unpublish(s);
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
    if (s.base.load(std::memory_order_acquire) == 0 || s.session.load() != session) continue;
    if (CUresult st = push_slot(s, send); st != CUDA_SUCCESS) return st;
  }
  return CUDA_SUCCESS;
}

CUresult pull_all(uint32_t session, const std::function<CUresult(uintptr_t, void*, size_t)>& fetch) {
  std::lock_guard<std::mutex> lock(g_mu);
  CUresult first = CUDA_SUCCESS;
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (s.base.load(std::memory_order_acquire) == 0 || s.session.load() != session) continue;
    // After the first error nothing is fetched, but every entry is unlocked and clean.
    static const std::function<CUresult(uintptr_t, void*, size_t)> none =
        [](uintptr_t, void*, size_t) { return CUDA_SUCCESS; };
    const CUresult st = pull_slot(s, first == CUDA_SUCCESS ? fetch : none);
    if (first == CUDA_SUCCESS) first = st;
  }
  return first;
}

CUresult pull_one(uintptr_t dev, const std::function<CUresult(uintptr_t, void*, size_t)>& fetch) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (dev != 0 && s.base.load(std::memory_order_acquire) == dev) return pull_slot(s, fetch);
  }
  return CUDA_ERROR_INVALID_VALUE;
}

CUresult attach(uint32_t session, uintptr_t base, size_t length, unsigned flags, uint64_t stream) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    if (base == 0 || s.base.load(std::memory_order_acquire) != base || s.session.load() != session ||
        s.kind.load() != kAlloc) {
      continue;
    }
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
    if (s.map_bytes.load() != 0) mprotect(reinterpret_cast<void*>(s.prot.load()), s.map_bytes.load(), PROT_NONE);
  }
}

void unlock(uint32_t session) {
  std::lock_guard<std::mutex> lock(g_mu);
  const size_t n = g_high.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    Slot& s = g_slots[i];
    const uintptr_t base = s.base.load(std::memory_order_acquire);
    if (base == 0 || s.session.load() != session || !s.locked.load()) continue;
    if (s.map_bytes.load() != 0) mprotect(reinterpret_cast<void*>(s.prot.load()), s.map_bytes.load(), PROT_READ);
    s.locked.store(false, std::memory_order_release);
  }
}

}  // namespace gpool::shim::managed
