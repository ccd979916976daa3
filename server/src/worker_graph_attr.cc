// Worker: kernel node attributes (cuGraphKernelNode{Get,Set,Copy}Attribute(s), call 465) and
// launches that carry attributes (cuLaunchKernelEx, call 466, so a launch captured into a graph
// gives a node with the program's attributes).
//
// Policy: node ids are looked up in the session's tables (graph_node_of: a forged, stale or
// foreign id is CUDA_ERROR_INVALID_VALUE and never reaches the driver). An attribute is passed to
// the driver only when it is one the shim also accepts (the scheduling hints, COOPERATIVE, a 1x1x1
// cluster dimension) and its value names nothing outside the session: the events of
// PROGRAMMATIC_EVENT and LAUNCH_COMPLETION_EVENT are client handles (refused,
// CUDA_ERROR_NOT_SUPPORTED), and an access-policy window must lie in the session's memory
// (else CUDA_ERROR_INVALID_VALUE).
#include "worker.h"

#include <cstring>
#include <vector>

#include "gpool/common/log.h"

namespace gpool::server {
namespace {

spdlog::logger& logger_attr() { return log::logger("worker"); }

constexpr size_t kValueWords = sizeof(CUlaunchAttributeValue) / 8;
static_assert(sizeof(CUlaunchAttributeValue) == 64, "CUlaunchAttributeValue travels as 8 words");

// One attribute from the wire: INVALID_VALUE for an id or value the pool does not pass on;
// `range_ok(address, bytes)`: the session's memory.
template <class RangeOk>
CUresult checked_attr(const RangeOk& range_ok, uint64_t id, std::span<const uint64_t> words, CUlaunchAttribute* out) {
  if (words.size() != kValueWords || id > 0xffff) return CUDA_ERROR_INVALID_VALUE;
  CUlaunchAttribute a{};
  const int iid = static_cast<int>(id);
  std::memcpy(&a.id, &iid, sizeof iid);
  std::memcpy(&a.value, words.data(), sizeof a.value);
  switch (iid) {
    case CU_LAUNCH_ATTRIBUTE_IGNORE:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING: break;
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION: {
      const auto& d = a.value.clusterDim;
      if (d.x * d.y * d.z > 1) return CUDA_ERROR_NOT_SUPPORTED;  // as the shim: no real clusters
      break;  // zero: the driver's own INVALID_VALUE
    }
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW: {
      const auto& win = a.value.accessPolicyWindow;
      if (win.num_bytes != 0 && !range_ok(reinterpret_cast<CUdeviceptr>(win.base_ptr), win.num_bytes)) {
        return CUDA_ERROR_INVALID_VALUE;
      }
      break;
    }
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
    case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
    case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE: return CUDA_ERROR_NOT_SUPPORTED;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  *out = a;
  return CUDA_SUCCESS;
}

}  // namespace

CUresult Worker::op_graph_kernel_attr(Ctx& c) {
  GraphKernelNodeAttrArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  CUgraphNode n = graph_node_of(a.node);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;  // mode: the row's variants (0, 1, 2)
  if (a.mode == 2) {
    CUgraphNode src = graph_node_of(a.source);
    if (src == nullptr) return CUDA_ERROR_INVALID_VALUE;
    return drv_.cuGraphKernelNodeCopyAttributes(n, src);
  }
  if (a.attribute > 0xffff) return CUDA_ERROR_INVALID_VALUE;
  const int iid = static_cast<int>(a.attribute);
  CUkernelNodeAttrID id{};
  std::memcpy(&id, &iid, sizeof iid);
  if (a.mode == 0) {
    CUkernelNodeAttrValue v{};
    const CUresult st = drv_.cuGraphKernelNodeGetAttribute(n, id, &v);
    if (st != CUDA_SUCCESS) return st;
    uint64_t words[kValueWords] = {};
    std::memcpy(words, &v, sizeof v);
    c.results.assign(words, words + kValueWords);
    return CUDA_SUCCESS;
  }
  auto in_session = [this](CUdeviceptr p, uint64_t bytes) { return range_ok(p, bytes); };
  CUlaunchAttribute attr{};
  const uint64_t words[kValueWords] = {a.set.w0, a.set.w1, a.set.w2, a.set.w3,
                                       a.set.w4, a.set.w5, a.set.w6, a.set.w7};
  if (CUresult st = checked_attr(in_session, a.attribute, words, &attr); st != CUDA_SUCCESS) {
    if (st == CUDA_ERROR_NOT_SUPPORTED) logger_attr().info("kernel node attribute {} refused through the pool", iid);
    return st;
  }
  return drv_.cuGraphKernelNodeSetAttribute(n, id, &attr.value);
}

CUresult Worker::op_launch_attrs(Ctx& c) {
  LaunchKernelAttrsArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  auto in_session = [this](CUdeviceptr p, uint64_t bytes) { return range_ok(p, bytes); };
  std::vector<CUlaunchAttribute> attrs(a.n);
  bool cooperative = false;
  for (uint64_t i = 0; i < a.n; ++i) {
    const auto item = a.attrs.subspan(i * (kValueWords + 1), kValueWords + 1);
    if (CUresult st = checked_attr(in_session, item[0], item.subspan(1), &attrs[i]); st != CUDA_SUCCESS) return st;
    if (item[0] == CU_LAUNCH_ATTRIBUTE_COOPERATIVE) cooperative = attrs[i].value.cooperative != 0;
  }
  if (attrs.empty()) return CUDA_ERROR_INVALID_VALUE;  // the shim sends LaunchKernel then
  const uint64_t dims[7] = {a.gx, a.gy, a.gz, a.bx, a.by, a.bz, a.shared_bytes};
  return launch_common(c, dims, cooperative, a.params, attrs);
}

}  // namespace gpool::server
