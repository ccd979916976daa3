// Shim: kernel node attributes, cuGraphKernelNode{Get,Set,Copy}Attribute(s) (call 465,
// server/src/worker_graph_attr.cc). A value travels as the 8 words of its CUlaunchAttributeValue;
// node handles are the server's ids, checked there against the session's tables.
//
// Attributes naming an event (PROGRAMMATIC_EVENT, LAUNCH_COMPLETION_EVENT) would carry a client
// event handle the server cannot use as the driver's: refused here (CUDA_ERROR_NOT_SUPPORTED,
// logged), as the emulator refuses them.
//
// Thread safety: every entry point may be called from any thread.
#include <cstring>

#include "gpool/driver_abi/backend.h"
#include "state.h"

using namespace gpool::shim;

namespace {

constexpr size_t kWords = sizeof(CUlaunchAttributeValue) / 8;
static_assert(sizeof(CUlaunchAttributeValue) == 64, "a CUlaunchAttributeValue travels as 8 words");

uint64_t id_of(const void* h) { return reinterpret_cast<uint64_t>(h); }

uint64_t attr_of(CUkernelNodeAttrID attr) {
  int id = 0;
  std::memcpy(&id, &attr, sizeof id);  // the integer the caller stored (any value may arrive)
  return static_cast<uint64_t>(static_cast<uint32_t>(id));
}

}  // namespace

extern "C" CUresult gpool_impl_cuGraphKernelNodeGetAttribute(CUgraphNode node, CUkernelNodeAttrID attr,
                                                             CUkernelNodeAttrValue* value_out) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (value_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t args[] = {0, id_of(node), 0, attr_of(attr)};
  Reply r;
  if (CUresult st = Session::instance().sync(Op::GraphKernelNodeAttr, args, {}, {}, {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() != kWords) return CUDA_ERROR_UNKNOWN;
  std::memcpy(value_out, r.results.data(), sizeof *value_out);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeSetAttribute(CUgraphNode node, CUkernelNodeAttrID attr,
                                                             const CUkernelNodeAttrValue* value) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = attr_of(attr);
  if (id == CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_EVENT || id == CU_LAUNCH_ATTRIBUTE_LAUNCH_COMPLETION_EVENT) {
    return gpool::abi::unimplemented("cuGraphKernelNodeSetAttribute with an event attribute");
  }
  uint64_t args[4 + kWords] = {1, id_of(node), 0, id};
  std::memcpy(args + 4, value, sizeof *value);
  return Session::instance().sync(Op::GraphKernelNodeAttr, args);
}

extern "C" CUresult gpool_impl_cuGraphKernelNodeCopyAttributes(CUgraphNode dst, CUgraphNode src) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const uint64_t args[] = {2, id_of(dst), id_of(src), 0};
  return Session::instance().sync(Op::GraphKernelNodeAttr, args);
}
