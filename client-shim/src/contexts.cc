#include "contexts.h"

#include <atomic>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace gpool::shim {
namespace {

struct Context {
  int device = 0;
  bool primary = false;
  unsigned flags = 0;
  unsigned long long id = 0;
};

struct Primary {
  Context ctx;
  int retains = 0;
};

std::atomic<unsigned long long> g_next_id{1};

struct Table {
  std::mutex mu;
  Primary primaries[kMaxDevices];
  std::unordered_set<const Context*> created;  // GUARDED_BY(mu)
  Table() {
    for (int d = 0; d < kMaxDevices; ++d) {
      primaries[d].ctx.device = d;
      primaries[d].ctx.primary = true;
      primaries[d].ctx.id = g_next_id.fetch_add(1);
    }
  }
};

Table& table() {
  static Table* t = new Table();  // never destroyed: used from atexit paths
  return *t;
}

// A thread's context stack. Trivially destructible on purpose: cudart calls the driver from
// exit handlers (cuLibraryUnload, ...), which run after thread-local destructors, so the stack
// must stay readable until the process is gone.
struct CtxStack {
  static constexpr int kCapacity = 64;
  CUcontext items[kCapacity];
  int depth;
  bool empty() const { return depth == 0; }
  CUcontext back() const { return items[depth - 1]; }
  CUcontext& back() { return items[depth - 1]; }
  bool push_back(CUcontext c) {
    if (depth == kCapacity) return false;
    items[depth++] = c;
    return true;
  }
  void pop_back() { --depth; }
  void clear() { depth = 0; }
  void erase(CUcontext c) {
    int out = 0;
    for (int i = 0; i < depth; ++i)
      if (items[i] != c) items[out++] = items[i];
    depth = out;
  }
};
thread_local CtxStack t_stack{};  // back() is current
thread_local int t_scoped_device = -1;

Context* as_primary(CUcontext c) {
  Table& t = table();
  const auto a = reinterpret_cast<uintptr_t>(c);
  const auto first = reinterpret_cast<uintptr_t>(&t.primaries[0]);
  if (a < first || a >= first + sizeof t.primaries || (a - first) % sizeof(Primary) != 0) {
    return nullptr;
  }
  return &t.primaries[(a - first) / sizeof(Primary)].ctx;
}

// The live record behind `c`, or nullptr. REQUIRES: t.mu held for created contexts.
Context* live_locked(Table& t, CUcontext c) {
  if (c == nullptr) return nullptr;
  if (Context* p = as_primary(c)) return p;
  auto* ctx = reinterpret_cast<Context*>(c);
  return t.created.count(ctx) != 0 ? ctx : nullptr;
}

}  // namespace

CUcontext primary_context(int dev) {
  if (dev < 0 || dev >= kMaxDevices) dev = 0;
  return reinterpret_cast<CUcontext>(&table().primaries[dev]);
}

CUcontext primary_context() {
  const int dev = current_device();
  return primary_context(dev < 0 ? 0 : dev);
}

int context_device(CUcontext ctx) {
  if (ctx == nullptr) return -1;
  if (const Context* p = as_primary(ctx)) return p->device;  // immutable: no lock
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  const Context* c = live_locked(t, ctx);
  return c ? c->device : -1;
}

bool is_primary(CUcontext ctx) { return ctx != nullptr && as_primary(ctx) != nullptr; }

unsigned context_flags(CUcontext ctx) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  const Context* c = live_locked(t, ctx);
  return c ? c->flags : 0;
}

bool set_context_flags(CUcontext ctx, unsigned flags) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  Context* c = live_locked(t, ctx);
  if (c == nullptr) return false;
  c->flags = flags;
  return true;
}

unsigned long long context_id(CUcontext ctx) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  const Context* c = live_locked(t, ctx);
  return c ? c->id : 0;
}

int primary_retain(int dev) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return ++t.primaries[dev].retains;
}

int primary_release(int dev) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  if (t.primaries[dev].retains <= 0) return -1;
  return --t.primaries[dev].retains;
}

int primary_retains(int dev) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  return t.primaries[dev].retains;
}

void primary_reset(int dev) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.primaries[dev].retains = 0;
  t.primaries[dev].ctx.flags = 0;
}

void primary_set_flags(int dev, unsigned flags) {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.primaries[dev].ctx.flags = flags;
}

CUcontext create_context(int dev, unsigned flags) {
  auto* c = new Context{dev, false, flags, g_next_id.fetch_add(1)};
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  t.created.insert(c);
  return reinterpret_cast<CUcontext>(c);
}

bool destroy_context(CUcontext ctx) {
  Table& t = table();
  {
    std::lock_guard<std::mutex> lock(t.mu);
    auto* c = reinterpret_cast<Context*>(ctx);
    if (ctx == nullptr || as_primary(ctx) != nullptr || t.created.erase(c) == 0) return false;
    delete c;
  }
  t_stack.erase(ctx);
  return true;
}

CUcontext current_context() { return t_stack.empty() ? nullptr : t_stack.back(); }

bool push_context(CUcontext ctx) { return t_stack.push_back(ctx); }

CUcontext pop_context() {
  if (t_stack.empty()) return nullptr;
  CUcontext c = t_stack.back();
  t_stack.pop_back();
  return c;
}

void set_current_context(CUcontext ctx) {
  if (ctx == nullptr) {
    if (!t_stack.empty()) t_stack.pop_back();
  } else if (t_stack.empty()) {
    t_stack.push_back(ctx);
  } else {
    t_stack.back() = ctx;
  }
}

int current_device() {
  if (t_scoped_device >= 0) return t_scoped_device;
  if (t_stack.empty()) return -1;
  return context_device(t_stack.back());
}

ScopedDevice::ScopedDevice(int dev) : saved_(t_scoped_device) { t_scoped_device = dev; }
ScopedDevice::~ScopedDevice() { t_scoped_device = saved_; }

void reset_contexts_for_testing() {
  Table& t = table();
  std::lock_guard<std::mutex> lock(t.mu);
  for (const Context* c : t.created) delete c;
  t.created.clear();
  for (Primary& p : t.primaries) {
    p.retains = 0;
    p.ctx.flags = 0;
  }
  t_stack.clear();
  t_scoped_device = -1;
}

}  // namespace gpool::shim
