// Kernel node attributes: cuGraphKernelNodeGetAttribute/SetAttribute/CopyAttributes, and the
// attributes a captured cuLaunchKernelEx leaves on its node (graph.h).
//
// A node stores every attribute it was given (one per id) and reports it back unchanged; an id
// never set reads as zero (its default). Values are checked as cuLaunchKernelEx checks them
// (gpool::abi::check_launch_attributes, against the node's grid), so a node accepts what a
// launch accepts. What the emulator applies at launch: COOPERATIVE (the grid-wide barrier and
// the residency check); a 1x1x1 cluster dimension, which changes nothing; the other hints have no
// effect on a launch's results and are kept only to be reported, copied and cloned.
#include <cstring>

#include "gpool/driver_abi/backend.h"
#include "gpool/driver_abi/launch_attributes.h"
#include "graph.h"

namespace gpool::emu::rt {
namespace {

int id_of(const CUlaunchAttribute& a) {
  int id = 0;
  std::memcpy(&id, &a.id, sizeof id);  // the integer the caller stored (see launch_attributes.cc)
  return id;
}

// Ids a kernel node may hold (cuda.h: "Valid for graph nodes" and the launch hints
// check_launch_attributes accepts).
bool known_id(int id) {
  switch (id) {
    case CU_LAUNCH_ATTRIBUTE_ACCESS_POLICY_WINDOW:
    case CU_LAUNCH_ATTRIBUTE_COOPERATIVE:
    case CU_LAUNCH_ATTRIBUTE_SYNCHRONIZATION_POLICY:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE:
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION:
    case CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT:
    case CU_LAUNCH_ATTRIBUTE_PRIORITY:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN_MAP:
    case CU_LAUNCH_ATTRIBUTE_MEM_SYNC_DOMAIN:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_CLUSTER_DIMENSION:
    case CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT:
    case CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE:
    case CU_LAUNCH_ATTRIBUTE_PREFERRED_SHARED_MEMORY_CARVEOUT:
    case CU_LAUNCH_ATTRIBUTE_NVLINK_UTIL_CENTRIC_SCHEDULING: return true;
    default: return false;
  }
}

// Checks attribute `a` for kernel node `n` as cuLaunchKernelEx would for a launch of n's grid.
CUresult check_one(const GraphNode& n, const CUlaunchAttribute& a) {
  const int id = id_of(a);
  if (id == CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE) {
    return gpool::abi::unimplemented("cuGraphKernelNodeSetAttribute with CU_LAUNCH_ATTRIBUTE_DEVICE_UPDATABLE_KERNEL_NODE");
  }
  CUlaunchConfig c{};
  c.gridDimX = n.kernel.dims.grid.x;
  c.gridDimY = n.kernel.dims.grid.y;
  c.gridDimZ = n.kernel.dims.grid.z;
  c.blockDimX = n.kernel.dims.block.x;
  c.blockDimY = n.kernel.dims.block.y;
  c.blockDimZ = n.kernel.dims.block.z;
  c.sharedMemBytes = n.kernel.dims.shared;
  c.attrs = const_cast<CUlaunchAttribute*>(&a);
  c.numAttrs = 1;
  bool cooperative = false;
  return gpool::abi::check_launch_attributes(c, &cooperative);
}

void store(GraphNode* n, const CUlaunchAttribute& a) {
  const int id = id_of(a);
  for (auto& have : n->attrs) {
    if (id_of(have) == id) {
      have.value = a.value;
      return;
    }
  }
  n->attrs.push_back(a);
}

bool cooperative_of(const GraphNode& n) {
  CUlaunchAttributeValue v{};
  return kernel_node_attr(n, CU_LAUNCH_ATTRIBUTE_COOPERATIVE, &v) && v.cooperative != 0;
}

}  // namespace

void kernel_node_take_attrs(GraphNode* n, const CUlaunchAttribute* attrs, unsigned num_attrs) {
  for (unsigned i = 0; i < num_attrs; ++i) {
    if (id_of(attrs[i]) != CU_LAUNCH_ATTRIBUTE_IGNORE) store(n, attrs[i]);
  }
  if (n->kernel.cooperative && !cooperative_of(*n)) {  // cuLaunchCooperativeKernel
    CUlaunchAttribute a{};
    a.id = CU_LAUNCH_ATTRIBUTE_COOPERATIVE;
    a.value.cooperative = 1;
    store(n, a);
  }
}

CUresult kernel_node_reapply_attrs(GraphNode* n) {
  for (const auto& a : n->attrs) {
    if (CUresult r = check_one(*n, a); r != CUDA_SUCCESS) return r;
  }
  return kernel_set_cooperative(&n->kernel, cooperative_of(*n));
}

bool kernel_node_attr(const GraphNode& n, int id, CUlaunchAttributeValue* out) {
  if (!known_id(id)) return false;
  *out = CUlaunchAttributeValue{};
  for (const auto& a : n.attrs) {
    if (id_of(a) == id) *out = a.value;
  }
  return true;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

GraphNode* kernel_node(CUgraphNode h) {
  GraphNode* n = lookup<GraphNode>(h);
  return n != nullptr && n->type == CU_GRAPH_NODE_TYPE_KERNEL ? n : nullptr;
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphKernelNodeGetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
                                                             CUkernelNodeAttrValue* value_out) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (value_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  int id = 0;
  std::memcpy(&id, &attr, sizeof id);
  std::lock_guard lock(graph_mu());
  GraphNode* n = kernel_node(hNode);
  if (n == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return kernel_node_attr(*n, id, value_out) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeSetAttribute(CUgraphNode hNode, CUkernelNodeAttrID attr,
                                                             const CUkernelNodeAttrValue* value) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUlaunchAttribute a{};
  std::memcpy(&a.id, &attr, sizeof a.id);
  a.value = *value;
  std::lock_guard lock(graph_mu());
  GraphNode* n = kernel_node(hNode);
  if (n == nullptr || !known_id(id_of(a))) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_one(*n, a); r != CUDA_SUCCESS) return r;
  if (id_of(a) == CU_LAUNCH_ATTRIBUTE_COOPERATIVE) {
    if (CUresult r = kernel_set_cooperative(&n->kernel, value->cooperative != 0); r != CUDA_SUCCESS) return r;
  }
  store(n, a);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeCopyAttributes(CUgraphNode dst, CUgraphNode src) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::lock_guard lock(graph_mu());
  GraphNode* d = kernel_node(dst);
  GraphNode* s = kernel_node(src);
  if (d == nullptr || s == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (d == s) return CUDA_SUCCESS;
  if (d->kernel.ctx != s->kernel.ctx) return CUDA_ERROR_INVALID_VALUE;  // "Both node must have the same context"
  GraphNode tmp;  // checked against dst's grid before anything changes
  tmp.kernel = d->kernel;
  tmp.attrs = s->attrs;
  if (CUresult r = kernel_node_reapply_attrs(&tmp); r != CUDA_SUCCESS) return r;
  d->attrs = s->attrs;
  d->kernel.cooperative = tmp.kernel.cooperative;
  return CUDA_SUCCESS;
}
