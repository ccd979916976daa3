// Shim: host functions without blocking (hostfn.h).
#include "hostfn.h"

#include <atomic>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "graph_host_copy.h"
#include "state.h"

using namespace gpool::shim;

namespace gpool::shim::hostfn {
namespace {

spdlog::logger& logger() { return log::logger("shim"); }

// What the program gave: a host function (fn) or a stream callback (cb, with its stream).
struct Entry {
  CUhostFn fn = nullptr;
  CUstreamCallback cb = nullptr;
  CUstream stream = nullptr;
  void* data = nullptr;
  // A graph copy node's host side (add_copy; graph_host_copy.h).
  std::shared_ptr<const hostcopy::HostSide> copy;
};

struct Item {
  Session* session;
  uint64_t id, firing;
  bool last;
  CUresult status;
  std::vector<std::byte> data;
};

struct State {
  std::mutex mu;
  std::condition_variable cv;
  std::unordered_map<uint64_t, Entry> entries;  // GUARDED_BY(mu)
  uint64_t next_id = 0;                         // GUARDED_BY(mu)
  std::deque<Item> queue;                       // GUARDED_BY(mu)
  bool running = false;                         // GUARDED_BY(mu): the thread exists
  // Device-to-host copy node bytes that came before their firing's HostFnReady (part()).
  std::unordered_map<uint64_t, std::vector<std::byte>> parts;  // GUARDED_BY(mu): firing ->
};

State& state() {
  static State* s = new State;  // never destroyed: the thread may outlive static destructors
  return *s;
}

thread_local bool tl_in_host_fn = false;
std::atomic<bool> g_any{false};

uint64_t add(const Entry& e) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  const uint64_t id = ++st.next_id;
  st.entries.emplace(id, e);
  g_any.store(true, std::memory_order_relaxed);
  return id;
}

void forget(uint64_t id) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.entries.erase(id);
}

bool lookup(uint64_t id, Entry& out) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.entries.find(id);
  if (it == st.entries.end()) return false;
  out = it->second;
  return true;
}

// The host-function thread: one at a time, in the order the notes came.
void run_loop() {
  State& st = state();
  for (;;) {
    Item item{};
    Entry e;
    bool known = false;
    {
      std::unique_lock<std::mutex> lock(st.mu);
      st.cv.wait(lock, [&] { return !st.queue.empty(); });
      item = std::move(st.queue.front());
      st.queue.pop_front();
      auto it = st.entries.find(item.id);
      if (it != st.entries.end()) {
        e = it->second;
        known = true;
        if (item.last) st.entries.erase(it);
      }
    }
    if (known && e.copy != nullptr) {
      hostcopy::serve(*item.session, *e.copy, item.firing, item.data);  // answers HostFnDone
      continue;
    } else if (known) {
      tl_in_host_fn = true;
      if (e.fn != nullptr) e.fn(e.data);
      else if (e.cb != nullptr) e.cb(e.stream, item.status, e.data);
      tl_in_host_fn = false;
    } else {
      logger().error("the gpool server reached host function {}, which this process never registered; "
                     "releasing its stream", item.id);
    }
    (void)item.session->host_fn_done(item.firing);
  }
}

// Registers `e`, sends it on `stream` and flushes, so the server sees it now.
CUresult launch(CUstream stream, const Entry& e, bool callback) {
  if (on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session& s = Session::instance();
  s.start_host_fns();
  const uint64_t id = add(e);
  const uint64_t args[] = {id, callback ? 1u : 0u};
  const HandleRef h[] = {stream_ref(stream)};
  CUresult st = s.async(Op::LaunchHostFunc, args, h);
  if (st == CUDA_SUCCESS) st = s.flush();
  if (st != CUDA_SUCCESS) forget(id);
  return st;
}

CUresult node_params(const CUDA_HOST_NODE_PARAMS* p, uint64_t& id) {
  if (p == nullptr || p->fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session::instance().start_host_fns();
  id = add(Entry{p->fn, nullptr, nullptr, p->userData});
  return CUDA_SUCCESS;
}

}  // namespace

bool on_host_fn_thread() { return tl_in_host_fn; }

bool any_registered() { return g_any.load(std::memory_order_relaxed); }

uint64_t add_copy(std::shared_ptr<const hostcopy::HostSide> side) {
  Entry e;
  e.copy = std::move(side);
  return add(e);
}

void part(uint64_t firing, uint64_t offset, std::span<const std::byte> data) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  std::vector<std::byte>& got = st.parts[firing];
  if (offset != got.size()) {  // out of order: the copy gets the wrong size and is left undone (logged)
    logger().error("graph copy node part for firing {} at offset {}, expected {}", firing, offset, got.size());
    return;
  }
  got.insert(got.end(), data.begin(), data.end());
}

void forget_copy(uint64_t id) { forget(id); }

std::shared_ptr<const hostcopy::HostSide> copy_side(uint64_t id) {
  Entry e;
  return lookup(id, e) ? e.copy : nullptr;
}

void ready(Session& s, uint64_t id, uint64_t firing, bool last, CUresult status, std::span<const std::byte> data) {
  State& st = state();
  std::lock_guard<std::mutex> lock(st.mu);
  std::vector<std::byte> bytes;
  if (auto it = st.parts.find(firing); it != st.parts.end()) {  // the parts before this note's
    bytes = std::move(it->second);
    st.parts.erase(it);
  }
  bytes.insert(bytes.end(), data.begin(), data.end());
  st.queue.push_back(Item{&s, id, firing, last, status, std::move(bytes)});
  if (!st.running) {
    st.running = true;
    std::thread(run_loop).detach();
  }
  st.cv.notify_one();
}

}  // namespace gpool::shim::hostfn

using gpool::shim::hostfn::Entry;

extern "C" CUresult gpool_impl_cuLaunchHostFunc(CUstream stream, CUhostFn fn, void* data) {
  if (fn == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return gpool::shim::hostfn::launch(stream, Entry{fn, nullptr, nullptr, data}, false);
}

extern "C" CUresult gpool_impl_cuStreamAddCallback(CUstream stream, CUstreamCallback cb, void* data,
                                                   unsigned int flags) {
  if (cb == nullptr || flags != 0) return CUDA_ERROR_INVALID_VALUE;
  return gpool::shim::hostfn::launch(stream, Entry{nullptr, cb, stream, data}, true);
}

extern "C" CUresult gpool_impl_cuGraphAddHostNode(CUgraphNode* out, CUgraph g, const CUgraphNode* deps,
                                                  size_t ndeps, const CUDA_HOST_NODE_PARAMS* p) {
  if (out == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  uint64_t id = 0;
  if (CUresult st = gpool::shim::hostfn::node_params(p, id); st != CUDA_SUCCESS) return st;
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g), id, ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(reinterpret_cast<uint64_t>(deps[i]));
  uint64_t node = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphAddHostNode, args, {}, node);
  if (st != CUDA_SUCCESS) {
    gpool::shim::hostfn::forget(id);
    return st;
  }
  *out = reinterpret_cast<CUgraphNode>(node);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphHostNodeGetParams(CUgraphNode node, CUDA_HOST_NODE_PARAMS* p) {
  if (p == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (gpool::shim::hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(node)};
  uint64_t id = 0;
  if (CUresult st = Session::instance().sync_value(Op::GraphHostNodeGetParams, args, {}, id); st != CUDA_SUCCESS) {
    return st;
  }
  Entry e;
  if (!gpool::shim::hostfn::lookup(id, e)) return CUDA_ERROR_INVALID_VALUE;
  p->fn = e.fn;
  p->userData = e.data;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphHostNodeSetParams(CUgraphNode node, const CUDA_HOST_NODE_PARAMS* p) {
  uint64_t id = 0;
  if (CUresult st = gpool::shim::hostfn::node_params(p, id); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(node), id};
  const CUresult st = Session::instance().sync(Op::GraphHostNodeSetParams, args);
  if (st != CUDA_SUCCESS) gpool::shim::hostfn::forget(id);
  return st;
}

extern "C" CUresult gpool_impl_cuGraphExecHostNodeSetParams(CUgraphExec exec, CUgraphNode node,
                                                           const CUDA_HOST_NODE_PARAMS* p) {
  uint64_t id = 0;
  if (CUresult st = gpool::shim::hostfn::node_params(p, id); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {reinterpret_cast<uint64_t>(exec), reinterpret_cast<uint64_t>(node), id};
  const CUresult st = Session::instance().sync(Op::GraphExecHostNodeSetParams, args);
  if (st != CUDA_SUCCESS) gpool::shim::hostfn::forget(id);
  return st;
}
