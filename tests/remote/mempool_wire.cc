// gpool-remote-mempool-wire: the server's own checks of memory-pool calls (calls.toml 170-178),
// with the shim's local checks out of the way. It links the shim's objects and sends calls
// straight through two Sessions to the same gpool-server (GPOOL_SERVER is listed twice, so the
// server runs two workers for one tenant): reserved, reused, forged and unsupported pool ids,
// bad devices, and session B naming session A's pool or pointer. Every refusal must come back
// as a CUDA error, and A's pool must keep working afterwards.
// Run by run_remote.py (remote.mempool.server_checks); prints ok/FAIL lines and PASS.
#include <cuda.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gpool/driver_abi/backend.h"
#include "ids.h"
#include "pool.h"
#include "session.h"

using namespace gpool::shim;

namespace {

int g_failures = 0;

const char* name(CUresult r) {
  const char* s = nullptr;
  return cuGetErrorName(r, &s) == CUDA_SUCCESS && s ? s : "?";
}

void expect(CUresult got, CUresult want, const char* what) {
  if (got != want) {
    std::printf("FAIL: %s -> %s, expected %s\n", what, name(got), name(want));
    ++g_failures;
  } else {
    std::printf("ok: %s -> %s\n", what, name(got));
  }
}

CUresult call(Session& s, Op op, std::vector<uint64_t> args, uint64_t* result = nullptr) {
  const HandleRef stream[] = {HandleRef(0, gpool::remote::HandleKind_Stream)};
  const bool with_stream = op == Op::MemAllocFromPool;
  Reply r;
  const CUresult st = s.sync(op, args, with_stream ? std::span<const HandleRef>(stream) : std::span<const HandleRef>(),
                             {}, {}, &r);
  if (st == CUDA_SUCCESS && result != nullptr) {
    if (r.results.empty()) return CUDA_ERROR_UNKNOWN;
    *result = r.results[0];
  }
  return st;
}

}  // namespace

int main() {
  const char* url = std::getenv("GPOOL_SERVER");
  if (url == nullptr) {
    std::printf("FAIL: GPOOL_SERVER is not set\n");
    return 1;
  }
  const std::string twice = std::string(url) + "," + url;
  ::setenv("GPOOL_SERVER", twice.c_str(), 1);
  if (CUresult st = gpool_impl_cuInit(0); st != CUDA_SUCCESS) {
    std::printf("FAIL: cuInit -> %s\n", name(st));
    return 1;
  }
  if (Pool::global().session_count() != 2) {
    std::printf("FAIL: expected two sessions, got %zu\n", Pool::global().session_count());
    return 1;
  }
  Session& a = Pool::global().session(0);
  Session& b = Pool::global().session(1);
  const uint64_t pool = make_id(IdKind::kMemPool, 0);
  const uint64_t forged = make_id(IdKind::kMemPool, 0);  // a well-formed id never created
  const uint64_t used_attr = CU_MEMPOOL_ATTR_USED_MEM_CURRENT;

  expect(call(a, Op::MemPoolCreate, {5, 0, 0, 0}), CUDA_ERROR_INVALID_VALUE, "create with a default pool's id");
  expect(call(a, Op::MemPoolCreate, {pool, 0, CU_MEM_HANDLE_TYPE_POSIX_FILE_DESCRIPTOR, 0}), CUDA_ERROR_NOT_SUPPORTED,
         "create with IPC handle types");
  expect(call(a, Op::MemPoolCreate, {pool, 99, 0, 0}), CUDA_ERROR_INVALID_DEVICE, "create on a device the session lacks");
  expect(call(a, Op::MemPoolCreate, {pool, 0, 0, 0}), CUDA_SUCCESS, "create");
  expect(call(a, Op::MemPoolCreate, {pool, 0, 0, 0}), CUDA_ERROR_INVALID_VALUE, "create with an id in use");
  uint64_t dptr = 0;
  expect(call(a, Op::MemAllocFromPool, {pool, 1 << 16}, &dptr), CUDA_SUCCESS, "allocate from the pool");
  expect(call(a, Op::MemAllocFromPool, {pool, 0}), CUDA_ERROR_INVALID_VALUE, "allocate 0 bytes");
  expect(call(a, Op::MemAllocFromPool, {forged, 4096}), CUDA_ERROR_INVALID_VALUE, "allocate from a forged pool id");
  expect(call(a, Op::MemAllocFromPool, {0, 4096}), CUDA_ERROR_INVALID_VALUE, "allocate from pool id 0");
  expect(call(a, Op::MemPoolGetAttribute, {forged, used_attr}), CUDA_ERROR_INVALID_VALUE, "attribute of a forged pool");
  expect(call(a, Op::MemPoolSetAttribute, {pool, 999, 0}), CUDA_ERROR_INVALID_VALUE, "an attribute that does not exist");
  expect(call(a, Op::MemPoolDestroy, {1}), CUDA_ERROR_INVALID_VALUE, "destroy of the default pool");
  expect(call(a, Op::MemPoolDestroy, {forged}), CUDA_ERROR_INVALID_VALUE, "destroy of a forged pool");
  expect(call(a, Op::DeviceSetMemPool, {0, forged}), CUDA_ERROR_INVALID_VALUE, "set a forged pool as current");
  expect(call(a, Op::DeviceSetMemPool, {7, pool}), CUDA_ERROR_INVALID_DEVICE, "set the pool on a bad device");
  expect(call(a, Op::MemPoolSetAccess, {pool}), CUDA_ERROR_INVALID_VALUE, "set access without a device");
  expect(call(a, Op::MemPoolSetAccess, {pool, 42, CU_MEM_ACCESS_FLAGS_PROT_READWRITE}), CUDA_ERROR_INVALID_DEVICE,
         "set access for a bad device");
  expect(call(a, Op::MemPoolGetAccess, {forged, 0}), CUDA_ERROR_INVALID_VALUE, "access of a forged pool");
  // RELEASE_THRESHOLD: remembered, not given to the driver.
  expect(call(a, Op::MemPoolSetAttribute, {pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, ~0ull}), CUDA_SUCCESS,
         "set RELEASE_THRESHOLD to the maximum");
  uint64_t threshold = 0;
  expect(call(a, Op::MemPoolGetAttribute, {pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD}, &threshold), CUDA_SUCCESS,
         "get RELEASE_THRESHOLD");
  if (threshold != ~0ull) {
    std::printf("FAIL: RELEASE_THRESHOLD reads %llu\n", static_cast<unsigned long long>(threshold));
    ++g_failures;
  }

  // Session B is another worker: A's pool and A's pointer do not exist there.
  expect(call(b, Op::MemAllocFromPool, {pool, 4096}), CUDA_ERROR_INVALID_VALUE, "B allocates from A's pool");
  expect(call(b, Op::MemPoolGetAttribute, {pool, used_attr}), CUDA_ERROR_INVALID_VALUE, "B reads A's pool");
  expect(call(b, Op::MemPoolTrimTo, {pool, 0}), CUDA_ERROR_INVALID_VALUE, "B trims A's pool");
  expect(call(b, Op::MemPoolDestroy, {pool}), CUDA_ERROR_INVALID_VALUE, "B destroys A's pool");
  expect(call(b, Op::MemFree, {dptr}), CUDA_ERROR_INVALID_VALUE, "B frees A's pool allocation");

  // A's pool is untouched by all of that.
  uint64_t used = 0;
  expect(call(a, Op::MemPoolGetAttribute, {pool, used_attr}, &used), CUDA_SUCCESS, "A reads its pool");
  if (used < (1u << 16)) {
    std::printf("FAIL: A's pool uses %llu bytes, expected at least 65536\n", static_cast<unsigned long long>(used));
    ++g_failures;
  }
  expect(call(a, Op::MemFree, {dptr}), CUDA_SUCCESS, "A frees its pool allocation");
  expect(call(a, Op::CtxSynchronize, {}), CUDA_SUCCESS, "A synchronizes");
  expect(call(a, Op::MemPoolDestroy, {pool}), CUDA_SUCCESS, "A destroys its pool");
  expect(call(a, Op::MemPoolDestroy, {pool}), CUDA_ERROR_INVALID_VALUE, "A destroys it again");
  std::printf(g_failures ? "FAIL\n" : "PASS\n");
  return g_failures ? 1 : 0;
}
