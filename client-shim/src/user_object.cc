// Shim: user objects counted in the client (user_object.h).
#include "user_object.h"

#include <climits>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "gpool/common/log.h"
#include "state.h"

extern "C" CUresult gpool_impl_cuLaunchHostFunc(CUstream stream, CUhostFn fn, void* data);
extern "C" CUresult gpool_impl_cuStreamIsCapturing(CUstream s, CUstreamCaptureStatus* status);

namespace gpool::shim::user_objects {
namespace {

struct Obj {
  void* ptr = nullptr;
  CUhostFn destroy = nullptr;
  uint64_t refs = 0;
};

using Refs = std::map<Obj*, uint64_t>;

struct Exec {
  Refs refs;
  std::set<CUstream> launched;  // streams its launches went to, since the last hand-over
};

struct State {
  std::mutex mu;
  std::set<Obj*> live;
  std::map<uint64_t, Refs> graphs;
  std::map<uint64_t, Exec> execs;
  // destructor thread
  std::deque<Obj*> dead;
  std::condition_variable cv;
  bool reaper = false;
};

State& state() {
  static State* s = new State();  // leaked: usable during exit
  return *s;
}

void reap_loop() {
  State& s = state();
  for (;;) {
    Obj* o = nullptr;
    {
      std::unique_lock lock(s.mu);
      s.cv.wait(lock, [&] { return !s.dead.empty(); });
      o = s.dead.front();
      s.dead.pop_front();
    }
    o->destroy(o->ptr);
    delete o;
  }
}

// REQUIRES: s.mu held; o live with at least n references.
void drop_locked(State& s, Obj* o, uint64_t n) {
  o->refs -= n;
  if (o->refs != 0) return;
  s.live.erase(o);
  s.dead.push_back(o);
  if (!s.reaper) {
    s.reaper = true;
    std::thread(reap_loop).detach();
  }
  s.cv.notify_one();
}

void drop_all_locked(State& s, const Refs& refs) {
  for (const auto& [o, n] : refs) drop_locked(s, o, n);
}

void retain_all_locked(const Refs& refs) {
  for (const auto& [o, n] : refs) o->refs += n;
}

// References held for launched work until every stream in `streams` reaches its host function.
struct Pending {
  Refs refs;
  std::mutex mu;
  size_t left = 0;
};

void pending_done(void* p) {
  auto* pend = static_cast<Pending*>(p);
  {
    std::lock_guard lock(pend->mu);
    if (--pend->left != 0) return;
  }
  State& s = state();
  {
    std::lock_guard lock(s.mu);
    drop_all_locked(s, pend->refs);
  }
  delete pend;
}

// Gives up `refs` once the work already sent to `streams` is done. Called without s.mu.
void release_after(Refs refs, const std::set<CUstream>& streams) {
  State& s = state();
  if (refs.empty()) return;
  std::vector<CUstream> usable;
  for (CUstream st : streams) {
    CUstreamCaptureStatus cap = CU_STREAM_CAPTURE_STATUS_NONE;
    // A host function queued on a capturing stream would become a node of its graph instead.
    if (gpool_impl_cuStreamIsCapturing(st, &cap) != CUDA_SUCCESS || cap != CU_STREAM_CAPTURE_STATUS_NONE) {
      log::logger("shim").warn("user objects of a destroyed graph exec are kept until the process ends: "
                               "a stream it was launched on is capturing or gone");
      return;  // kept: never destroyed early
    }
    usable.push_back(st);
  }
  if (usable.empty()) {
    std::lock_guard lock(s.mu);
    drop_all_locked(s, refs);
    return;
  }
  auto* pend = new Pending();
  pend->refs = std::move(refs);
  pend->left = usable.size();
  for (CUstream st : usable) {
    if (gpool_impl_cuLaunchHostFunc(st, pending_done, pend) != CUDA_SUCCESS) {
      log::logger("shim").warn("user objects of a destroyed graph exec are kept: cannot queue their release");
      std::lock_guard lock(pend->mu);
      ++pend->left;  // never reaches zero: kept, never destroyed early
    }
  }
}

Obj* live_locked(State& s, CUuserObject h) {
  auto* o = reinterpret_cast<Obj*>(h);
  return s.live.count(o) != 0 ? o : nullptr;
}

constexpr unsigned kMaxCount = INT_MAX;
bool count_ok(unsigned n) { return n != 0 && n <= kMaxCount; }

}  // namespace

bool graph_has_refs(uint64_t g) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.graphs.find(g);
  return it != s.graphs.end() && !it->second.empty();
}

void graph_cloned(uint64_t original, uint64_t clone) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.graphs.find(original);
  if (it == s.graphs.end() || it->second.empty()) return;
  retain_all_locked(it->second);
  s.graphs[clone] = it->second;
}

void graph_destroyed(uint64_t g) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.graphs.find(g);
  if (it == s.graphs.end()) return;
  drop_all_locked(s, it->second);
  s.graphs.erase(it);
}

void exec_made(uint64_t exec, uint64_t g) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.graphs.find(g);
  if (it == s.graphs.end() || it->second.empty()) return;
  retain_all_locked(it->second);
  s.execs[exec].refs = it->second;
}

void exec_updated(uint64_t exec, uint64_t g) {
  State& s = state();
  Refs old;
  std::set<CUstream> launched;
  {
    std::lock_guard lock(s.mu);
    auto git = s.graphs.find(g);
    auto eit = s.execs.find(exec);
    if ((git == s.graphs.end() || git->second.empty()) && eit == s.execs.end()) return;
    Exec& e = s.execs[exec];
    old = std::move(e.refs);
    launched = std::move(e.launched);
    e.refs.clear();
    e.launched.clear();
    if (git != s.graphs.end()) {
      retain_all_locked(git->second);
      e.refs = git->second;
    }
  }
  release_after(std::move(old), launched);
}

void exec_launched(uint64_t exec, CUstream stream) {
  State& s = state();
  std::lock_guard lock(s.mu);
  auto it = s.execs.find(exec);
  if (it != s.execs.end()) it->second.launched.insert(stream);
}

void exec_destroyed(uint64_t exec) {
  State& s = state();
  Exec e;
  {
    std::lock_guard lock(s.mu);
    auto it = s.execs.find(exec);
    if (it == s.execs.end()) return;
    e = std::move(it->second);
    s.execs.erase(it);
  }
  release_after(std::move(e.refs), e.launched);
}

}  // namespace gpool::shim::user_objects

using namespace gpool::shim::user_objects;

extern "C" CUresult gpool_impl_cuUserObjectCreate(CUuserObject* object_out, void* ptr, CUhostFn destroy,
                                                  unsigned int initialRefcount, unsigned int flags) {
  if (CUresult st = gpool::shim::check_ready(); st != CUDA_SUCCESS) return st;
  if (object_out == nullptr || destroy == nullptr || !count_ok(initialRefcount) ||
      flags != CU_USER_OBJECT_NO_DESTRUCTOR_SYNC) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  auto* o = new Obj{ptr, destroy, initialRefcount};
  State& s = state();
  std::lock_guard lock(s.mu);
  s.live.insert(o);
  *object_out = reinterpret_cast<CUuserObject>(o);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuUserObjectRetain(CUuserObject object, unsigned int count) {
  if (!count_ok(count)) return CUDA_ERROR_INVALID_VALUE;
  State& s = state();
  std::lock_guard lock(s.mu);
  Obj* o = live_locked(s, object);
  if (o == nullptr) return CUDA_ERROR_INVALID_VALUE;
  o->refs += count;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuUserObjectRelease(CUuserObject object, unsigned int count) {
  if (!count_ok(count)) return CUDA_ERROR_INVALID_VALUE;
  State& s = state();
  std::lock_guard lock(s.mu);
  Obj* o = live_locked(s, object);
  if (o == nullptr || o->refs < count) return CUDA_ERROR_INVALID_VALUE;
  drop_locked(s, o, count);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphRetainUserObject(CUgraph graph, CUuserObject object, unsigned int count,
                                                       unsigned int flags) {
  if (!count_ok(count) || (flags & ~unsigned{CU_GRAPH_USER_OBJECT_MOVE}) != 0 || graph == nullptr) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (CUresult st = gpool::shim::check_ready(); st != CUDA_SUCCESS) return st;
  State& s = state();
  std::lock_guard lock(s.mu);
  Obj* o = live_locked(s, object);
  if (o == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const bool move = (flags & CU_GRAPH_USER_OBJECT_MOVE) != 0;
  if (move && o->refs < count) return CUDA_ERROR_INVALID_VALUE;
  if (!move) o->refs += count;
  s.graphs[reinterpret_cast<uint64_t>(graph)][o] += count;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphReleaseUserObject(CUgraph graph, CUuserObject object, unsigned int count) {
  if (!count_ok(count)) return CUDA_ERROR_INVALID_VALUE;
  State& s = state();
  std::lock_guard lock(s.mu);
  auto git = s.graphs.find(reinterpret_cast<uint64_t>(graph));
  if (git == s.graphs.end()) return CUDA_ERROR_INVALID_VALUE;
  auto it = git->second.find(reinterpret_cast<Obj*>(object));
  if (it == git->second.end() || it->second < count) return CUDA_ERROR_INVALID_VALUE;
  Obj* o = it->first;
  if ((it->second -= count) == 0) git->second.erase(it);
  drop_locked(s, o, count);
  return CUDA_SUCCESS;
}
