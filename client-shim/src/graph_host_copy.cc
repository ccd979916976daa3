// Shim: graph copy nodes with a host side (graph_host_copy.h).
#include "graph_host_copy.h"

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "gpool/common/log.h"
#include "gpool/protocol/limits.h"
#include "hostfn.h"
#include "state.h"

using namespace gpool::shim;

namespace gpool::shim::hostcopy {
namespace {

std::atomic<int> g_captures{0};
constexpr size_t kPart = protocol::kMaxInlineBytes;  // one note's inline data

spdlog::logger& logger() { return log::logger("shim"); }

bool is_device(CUmemorytype t, CUdeviceptr p) {
  if (t == CU_MEMORYTYPE_DEVICE || t == CU_MEMORYTYPE_ARRAY) return true;
  return t == CU_MEMORYTYPE_UNIFIED && find_device_range(p, nullptr, nullptr);
}

bool is_host(CUmemorytype t, CUdeviceptr p) {
  return t == CU_MEMORYTYPE_HOST || (t == CU_MEMORYTYPE_UNIFIED && !find_device_range(p, nullptr, nullptr));
}

// The host side and the device side (the wire's 7 numbers) of a copy with one host side.
struct Described {
  std::shared_ptr<HostSide> host;
  uint64_t dev[7] = {};
  uint64_t width = 0, rows = 1, depth = 1;
};

Described describe(const CUDA_MEMCPY3D& p) {
  Described d;
  auto h = std::make_shared<HostSide>();
  h->to_device = is_host(p.srcMemoryType, p.srcDevice);
  const bool to_device = h->to_device;
  const CUmemorytype htype = to_device ? p.srcMemoryType : p.dstMemoryType;
  const void* hbase = to_device ? (htype == CU_MEMORYTYPE_UNIFIED ? reinterpret_cast<const void*>(p.srcDevice) : p.srcHost)
                                : (htype == CU_MEMORYTYPE_UNIFIED ? reinterpret_cast<const void*>(p.dstDevice) : p.dstHost);
  h->base = static_cast<std::byte*>(const_cast<void*>(hbase));
  h->x = to_device ? p.srcXInBytes : p.dstXInBytes;
  h->y = to_device ? p.srcY : p.dstY;
  h->z = to_device ? p.srcZ : p.dstZ;
  h->pitch = to_device ? p.srcPitch : p.dstPitch;
  h->height = to_device ? p.srcHeight : p.dstHeight;
  h->width = p.WidthInBytes;
  h->rows = p.Height == 0 ? 1 : p.Height;
  h->depth = p.Depth == 0 ? 1 : p.Depth;
  const CUmemorytype dtype = to_device ? p.dstMemoryType : p.srcMemoryType;
  const bool array = dtype == CU_MEMORYTYPE_ARRAY;
  d.dev[0] = array ? CU_MEMORYTYPE_ARRAY : CU_MEMORYTYPE_DEVICE;
  d.dev[1] = array ? reinterpret_cast<uint64_t>(to_device ? p.dstArray : p.srcArray) : (to_device ? p.dstDevice : p.srcDevice);
  d.dev[2] = to_device ? p.dstXInBytes : p.srcXInBytes;
  d.dev[3] = to_device ? p.dstY : p.srcY;
  d.dev[4] = to_device ? p.dstZ : p.srcZ;
  d.dev[5] = to_device ? p.dstPitch : p.srcPitch;
  d.dev[6] = to_device ? p.dstHeight : p.srcHeight;
  d.width = h->width;
  d.rows = h->rows;
  d.depth = h->depth;
  d.host = std::move(h);
  return d;
}

// The offset of row (y, z) of the box in the program's buffer.
size_t row_at(const HostSide& h, size_t y, size_t z) {
  const size_t slice = h.height != 0 ? h.height : h.rows;
  return ((h.z + z) * slice + h.y + y) * h.pitch + h.x;
}

// The box's rows lie back to back in the buffer.
bool dense(const HostSide& h) {
  return (h.rows == 1 && h.depth == 1) || (h.pitch == h.width && (h.depth == 1 || h.height == 0 || h.height == h.rows));
}

// Checks the host side's box the way the driver does (a pitch below the width overlaps rows).
bool box_ok(const HostSide& h) {
  if (h.base == nullptr || h.width == 0) return false;
  if ((h.rows > 1 || h.depth > 1) && h.pitch < h.width) return false;
  if (h.depth > 1 && h.height < h.rows) return false;
  return true;
}

}  // namespace

void capture_begun() { g_captures.fetch_add(1, std::memory_order_relaxed); }

void capture_ended() {
  int n = g_captures.load(std::memory_order_relaxed);
  while (n > 0 && !g_captures.compare_exchange_weak(n, n - 1, std::memory_order_relaxed)) {
  }
}

bool has_one_host_side(const CUDA_MEMCPY3D& p) {
  return (is_host(p.srcMemoryType, p.srcDevice) && is_device(p.dstMemoryType, p.dstDevice)) ||
         (is_device(p.srcMemoryType, p.srcDevice) && is_host(p.dstMemoryType, p.dstDevice));
}

CUresult try_capture(const CUDA_MEMCPY3D& p, CUstream stream, bool& recorded) {
  recorded = false;
  if (g_captures.load(std::memory_order_relaxed) == 0 || !has_one_host_side(p) || hostfn::on_host_fn_thread()) {
    return CUDA_SUCCESS;  // the ordinary copy (a capturing stream refuses it on the server)
  }
  Described d = describe(p);
  if (d.width == 0 || !box_ok(*d.host)) return CUDA_SUCCESS;  // the ordinary copy answers it
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session& s = Session::instance();
  s.start_host_fns();
  const bool to_device = d.host->to_device;
  const uint64_t id = hostfn::add_copy(std::move(d.host));
  const uint64_t args[] = {id, to_device ? 0u : 1u, d.dev[0], d.dev[1], d.dev[2], d.dev[3], d.dev[4], d.dev[5],
                           d.dev[6], d.width, d.rows, d.depth};
  const HandleRef h[] = {stream_ref(stream)};
  uint64_t captured = 0;
  const CUresult st = s.sync_value(Op::CaptureHostCopy3D, args, h, captured);
  if (st != CUDA_SUCCESS || captured == 0) {
    hostfn::forget_copy(id);
    return st;
  }
  recorded = true;
  return CUDA_SUCCESS;
}

CUresult try_capture(bool to_device, void* host, CUdeviceptr device, size_t bytes, CUstream stream, bool& recorded) {
  CUDA_MEMCPY3D p{};
  if (to_device) {
    p.srcMemoryType = CU_MEMORYTYPE_HOST;
    p.srcHost = host;
    p.dstMemoryType = CU_MEMORYTYPE_DEVICE;
    p.dstDevice = device;
  } else {
    p.srcMemoryType = CU_MEMORYTYPE_DEVICE;
    p.srcDevice = device;
    p.dstMemoryType = CU_MEMORYTYPE_HOST;
    p.dstHost = host;
  }
  p.WidthInBytes = bytes;
  p.Height = p.Depth = 1;
  return try_capture(p, stream, recorded);
}

// Checks a host copy node's parameters (not on a host-function thread, no LOD, a box the host
// side holds, a ready session), registers its host side under a new id (*id; the caller
// forgets it when the server refuses) and appends the wire form the node calls share: id,
// direction, the device side and the box.
CUresult register_copy(const CUDA_MEMCPY3D& p, std::vector<uint64_t>& args, uint64_t* id) {
  if (hostfn::on_host_fn_thread()) return CUDA_ERROR_NOT_PERMITTED;
  if (p.srcLOD != 0 || p.dstLOD != 0) return CUDA_ERROR_INVALID_VALUE;
  Described d = describe(p);
  if (!box_ok(*d.host)) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  Session::instance().start_host_fns();
  const bool to_device = d.host->to_device;
  *id = hostfn::add_copy(std::move(d.host));
  args.insert(args.end(), {*id, to_device ? 0u : 1u});
  args.insert(args.end(), std::begin(d.dev), std::end(d.dev));
  args.insert(args.end(), {d.width, d.rows, d.depth});
  return CUDA_SUCCESS;
}

CUresult add_node(CUgraphNode* out, CUgraph g, const CUgraphNode* deps, size_t ndeps, const CUDA_MEMCPY3D& p) {
  if (out == nullptr || (ndeps > 0 && deps == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint64_t> args = {reinterpret_cast<uint64_t>(g)};
  uint64_t id = 0;
  if (CUresult st = register_copy(p, args, &id); st != CUDA_SUCCESS) return st;
  args.push_back(ndeps);
  for (size_t i = 0; i < ndeps; ++i) args.push_back(reinterpret_cast<uint64_t>(deps[i]));
  uint64_t node = 0;
  const CUresult st = Session::instance().sync_value(Op::GraphAddHostCopyNode3D, args, {}, node);
  if (st != CUDA_SUCCESS) {
    hostfn::forget_copy(id);
    return st;
  }
  *out = reinterpret_cast<CUgraphNode>(node);
  return CUDA_SUCCESS;
}

CUresult set_params(bool on_exec, CUgraphExec exec, CUgraphNode node, const CUDA_MEMCPY3D& p) {
  std::vector<uint64_t> args = {on_exec ? 1u : 0u, reinterpret_cast<uint64_t>(exec), reinterpret_cast<uint64_t>(node)};
  // A new id: the graph (or exec) names the new buffer from now on; the old id stays for
  // clones and executable graphs made before.
  uint64_t id = 0;
  if (CUresult st = register_copy(p, args, &id); st != CUDA_SUCCESS) return st;
  const CUresult st = Session::instance().sync(Op::GraphHostCopyNodeSetParams, args);
  if (st != CUDA_SUCCESS) hostfn::forget_copy(id);
  return st;
}

bool fill_host_side(uint64_t id, CUDA_MEMCPY3D& p) {
  const std::shared_ptr<const HostSide> h = hostfn::copy_side(id);
  if (h == nullptr) return false;
  CUmemorytype& type = h->to_device ? p.srcMemoryType : p.dstMemoryType;
  type = CU_MEMORYTYPE_HOST;
  if (h->to_device) {
    p.srcHost = h->base;
    p.srcXInBytes = h->x;
    p.srcY = h->y;
    p.srcZ = h->z;
    p.srcPitch = h->pitch;
    p.srcHeight = h->height;
  } else {
    p.dstHost = h->base;
    p.dstXInBytes = h->x;
    p.dstY = h->y;
    p.dstZ = h->z;
    p.dstPitch = h->pitch;
    p.dstHeight = h->height;
  }
  return true;
}

void serve(Session& s, const HostSide& h, uint64_t firing, std::span<const std::byte> data) {
  const size_t bytes = h.bytes();
  if (h.to_device) {  // read now, when the node runs
    std::vector<std::byte> packed;
    std::span<const std::byte> all;
    if (!dense(h)) {
      packed.resize(bytes);
      for (size_t z = 0; z < h.depth; ++z) {
        for (size_t y = 0; y < h.rows; ++y) {
          std::memcpy(packed.data() + (z * h.rows + y) * h.width, h.base + row_at(h, y, z), h.width);
        }
      }
      all = packed;
    } else {
      all = {h.base + row_at(h, 0, 0), bytes};
    }
    size_t off = 0;
    for (; all.size() - off > kPart; off += kPart) {
      if (s.host_copy_part(firing, off, all.subspan(off, kPart)) != CUDA_SUCCESS) return;  // the session is gone
    }
    (void)s.host_fn_done(firing, all.subspan(off));
    return;
  }
  if (data.size() != bytes) {
    logger().error("the gpool server sent {} bytes for a {}-byte graph copy node; host buffer left unchanged",
                   data.size(), bytes);
  } else if (dense(h)) {
    std::memcpy(h.base + row_at(h, 0, 0), data.data(), bytes);
  } else {
    for (size_t z = 0; z < h.depth; ++z) {
      for (size_t y = 0; y < h.rows; ++y) {
        std::memcpy(h.base + row_at(h, y, z), data.data() + (z * h.rows + y) * h.width, h.width);
      }
    }
  }
  (void)s.host_fn_done(firing);
}

}  // namespace gpool::shim::hostcopy
