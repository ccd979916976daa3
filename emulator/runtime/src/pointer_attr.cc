// cuPointerGetAttribute(s) / cuPointerSetAttribute from the allocation table.
#include "alloc_table.h"

#include "context.h"
#include "vmm.h"

#include <cstring>

namespace gpool::emu::rt {
namespace {

template <class T>
void put(void* data, T v) {
  std::memcpy(data, &v, sizeof v);
}

bool is_host(const Alloc& a) { return a.kind == AllocKind::HostPinned || a.kind == AllocKind::HostRegistered; }

// Writes one attribute of `ptr` (inside `a`, or outside the table when a is
// null). Returns INVALID_VALUE for attributes that do not apply.
CUresult attribute(CUpointer_attribute attr, const Alloc* a, uint64_t ptr, void* data) {
  if (a == nullptr) {
    // Memory unknown to CUDA: the plural query answers "unregistered" (zeros);
    // the singular one refuses (see cuPointerGetAttribute's documentation).
    return CUDA_ERROR_INVALID_VALUE;
  }
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT: {
      Context* c = a->ctx;
      if (c == nullptr) c = device(a->device)->primary;
      put(data, reinterpret_cast<CUcontext>(c));
      return CUDA_SUCCESS;
    }
    case CU_POINTER_ATTRIBUTE_MEMORY_TYPE:
      put(data, static_cast<unsigned>(is_host(*a) ? CU_MEMORYTYPE_HOST : CU_MEMORYTYPE_DEVICE));
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER: put(data, static_cast<CUdeviceptr>(ptr)); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
      if (a->kind == AllocKind::Device) return CUDA_ERROR_INVALID_VALUE;
      put(data, reinterpret_cast<void*>(ptr));
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_SYNC_MEMOPS: put(data, 1); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_BUFFER_ID: put(data, static_cast<unsigned long long>(a->buffer_id)); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_MANAGED: put(data, a->kind == AllocKind::Managed ? 1 : 0); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL: put(data, a->device); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_LEGACY_CUDA_IPC_CAPABLE: put(data, 0); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR: put(data, static_cast<CUdeviceptr>(a->base)); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE: put(data, static_cast<size_t>(a->size)); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPED: put(data, 1); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES: put(data, 0ull); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_GPU_DIRECT_RDMA_CAPABLE: put(data, 0); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_ACCESS_FLAGS:
      put(data, static_cast<int>((a->kind == AllocKind::HostRegistered && (a->flags & CU_MEMHOSTREGISTER_READ_ONLY))
                                     ? CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READ
                                     : CU_POINTER_ATTRIBUTE_ACCESS_FLAG_READWRITE));
      return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE: put(data, reinterpret_cast<CUmemoryPool>(a->pool)); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR: {
      uint64_t base = a->base, size = a->size;
      if (a->vmm) vmm_mapping_at(ptr, &base, &size);  // the cuMemMap mapping, not the whole accessible run
      if (attr == CU_POINTER_ATTRIBUTE_MAPPING_SIZE) {
        put(data, static_cast<size_t>(size));
      } else {
        put(data, reinterpret_cast<void*>(base));
      }
      return CUDA_SUCCESS;
    }
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: put(data, static_cast<unsigned long long>(a->buffer_id)); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_IS_HW_DECOMPRESS_CAPABLE: put(data, 0); return CUDA_SUCCESS;
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS: return gpool::abi::unimplemented("CU_POINTER_ATTRIBUTE_P2P_TOKENS");
    default: return CUDA_ERROR_INVALID_VALUE;
  }
}

// Size of the value of `attr` (for zero-filling unknown memory in the plural query).
size_t attribute_size(CUpointer_attribute attr) {
  switch (attr) {
    case CU_POINTER_ATTRIBUTE_CONTEXT:
    case CU_POINTER_ATTRIBUTE_DEVICE_POINTER:
    case CU_POINTER_ATTRIBUTE_HOST_POINTER:
    case CU_POINTER_ATTRIBUTE_BUFFER_ID:
    case CU_POINTER_ATTRIBUTE_RANGE_START_ADDR:
    case CU_POINTER_ATTRIBUTE_RANGE_SIZE:
    case CU_POINTER_ATTRIBUTE_ALLOWED_HANDLE_TYPES:
    case CU_POINTER_ATTRIBUTE_MEMPOOL_HANDLE:
    case CU_POINTER_ATTRIBUTE_MAPPING_SIZE:
    case CU_POINTER_ATTRIBUTE_MAPPING_BASE_ADDR:
    case CU_POINTER_ATTRIBUTE_MEMORY_BLOCK_ID: return 8;
    case CU_POINTER_ATTRIBUTE_P2P_TOKENS: return 0;
    default: return 4;
  }
}

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuPointerGetAttribute(void* data, CUpointer_attribute attribute, CUdeviceptr ptr) {
  if (data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  auto a = allocs().find(ptr);
  return gpool::emu::rt::attribute(attribute, a ? &*a : nullptr, ptr, data);
}

extern "C" CUresult gpool_impl_cuPointerGetAttributes(unsigned int numAttributes, CUpointer_attribute* attributes,
                                                      void** data, CUdeviceptr ptr) {
  if (numAttributes == 0 || attributes == nullptr || data == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  auto a = allocs().find(ptr);
  for (unsigned i = 0; i < numAttributes; ++i) {
    if (data[i] == nullptr) continue;
    if (!a) {
      // Unknown memory: zeros (CU_MEMORYTYPE 0 = unregistered, NULL context);
      // DEVICE_ORDINAL is -2 as in CUDA.
      const size_t n = attribute_size(attributes[i]);
      if (n) std::memset(data[i], 0, n);
      if (attributes[i] == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL) put(data[i], -2);
      continue;
    }
    CUresult r = gpool::emu::rt::attribute(attributes[i], &*a, ptr, data[i]);
    if (r == CUDA_ERROR_INVALID_VALUE) {
      const size_t n = attribute_size(attributes[i]);  // attribute not applicable: zero, as CUDA does
      if (n) std::memset(data[i], 0, n);
    } else if (r != CUDA_SUCCESS) {
      return r;
    }
  }
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuPointerSetAttribute(const void* value, CUpointer_attribute attribute, CUdeviceptr ptr) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  if (attribute != CU_POINTER_ATTRIBUTE_SYNC_MEMOPS) return CUDA_ERROR_INVALID_VALUE;
  if (!allocs().find(ptr)) return CUDA_ERROR_INVALID_VALUE;
  return CUDA_SUCCESS;  // every memory operation here is synchronous-safe already
}
