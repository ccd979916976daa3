// Shim: graph copy nodes with a host side (graph_host_copy.h).
#include "graph_host_copy.h"

#include <atomic>
#include <vector>

#include "hostfn.h"
#include "state.h"

using namespace gpool::shim;

namespace gpool::shim::hostcopy {
namespace {

std::atomic<int> g_captures{0};
constexpr size_t kMaxBytes = 64 * 1024;  // the server's limit (one note's inline data)

}  // namespace

void capture_begun() { g_captures.fetch_add(1, std::memory_order_relaxed); }

void capture_ended() {
  int n = g_captures.load(std::memory_order_relaxed);
  while (n > 0 && !g_captures.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

CUresult try_capture(bool to_device, void* host, CUdeviceptr device, size_t bytes, CUstream stream,
                     bool& recorded) {
  recorded = false;
  if (g_captures.load(std::memory_order_relaxed) == 0 || bytes == 0 || bytes > kMaxBytes || host == nullptr ||
      hostfn::on_host_fn_thread()) {
    return CUDA_SUCCESS;  // the ordinary copy (a capturing stream refuses it on the server)
  }
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session& s = Session::instance();
  s.start_host_fns();
  const uint64_t id = hostfn::add_copy(host, bytes, to_device);
  const uint64_t args[] = {id, to_device ? 0u : 1u, device, bytes};
  const HandleRef h[] = {stream_ref(stream)};
  uint64_t captured = 0;
  const CUresult st = s.sync_value(Op::CaptureHostCopy, args, h, captured);
  if (st != CUDA_SUCCESS || captured == 0) {
    hostfn::forget_copy(id);
    return st;
  }
  recorded = true;
  return CUDA_SUCCESS;
}

CUresult add_node(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, bool to_device,
                  void* host, CUdeviceptr device, size_t bytes) {
  if (out == nullptr || host == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session& s = Session::instance();
  s.start_host_fns();
  const uint64_t id = hostfn::add_copy(host, bytes, to_device);
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g), id, to_device ? 0u : 1u, device, bytes, ndeps};
  for (size_t i = 0; i < ndeps; ++i) args.push_back(reinterpret_cast<uint64_t>(deps[i]));
  uint64_t node = 0;
  const CUresult st = s.sync_value(Op::GraphAddHostCopyNode, args, {}, node);
  if (st != CUDA_SUCCESS) {
    hostfn::forget_copy(id);
    return st;
  }
  *out = reinterpret_cast<CUgraphNode>(node);
  return CUDA_SUCCESS;
}

}  // namespace gpool::shim::hostcopy
