// Shim: JIT linking (cuLinkCreate / AddData / AddFile / Complete / Destroy and the _v2 symbols).
//
// Each call is one sync call to the server of the device current at cuLinkCreate (LinkCreate,
// LinkAddData, LinkComplete, LinkDestroy in protocol/calls/calls.toml), where a backend
// CUlinkState does the work, so an input's error is reported by the cuLinkAddData that added
// it, as with a local driver. cuLinkComplete then fetches the linked image (LinkFetch) into the
// link state, where it stays until cuLinkDestroy, as the driver's does; the program loads it
// with cuModuleLoadData, which sends it like any other image. The logs, wall time and
// threads-per-block answer are written into cuLinkCreate's option values after each call.
// Per-input options of cuLinkAddData/AddFile are validated but not forwarded (the driver applies
// them to that input's compilation only; gpool does not ship them).
//
// Thread safety: a CUlinkState is used by one thread at a time (as in CUDA); the table of live
// states is guarded by a mutex.
#include <atomic>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>

#include "gpool/common/log.h"
#include "gpool/driver_abi/backend.h"
#include "gpool/emu/loader/image.h"
#include "jit_options.h"
#include "state.h"

using namespace gpool::shim;

namespace {

struct LinkState {
  uint64_t id = 0;             // the server's name for it
  Session* session = nullptr;  // the server that holds it
  JitRequest jit;
  void** values = nullptr;
  std::vector<std::byte> image;  // cuLinkComplete's output
};

std::mutex g_mu;
std::set<LinkState*>& live() {
  static auto* s = new std::set<LinkState*>();
  return *s;
}
std::atomic<uint64_t> g_next_id{1};

LinkState* find(CUlinkState h) {
  std::lock_guard lock(g_mu);
  auto* s = reinterpret_cast<LinkState*>(h);
  return live().count(s) ? s : nullptr;
}

CUresult add(CUlinkState state, CUjitInputType type, const void* data, size_t size, unsigned n,
             CUjit_option* options, void** values, const char* api) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  LinkState* s = find(state);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (data == nullptr || size == 0 || static_cast<int>(type) < 0 || type >= CU_JIT_NUM_INPUT_TYPES) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  JitRequest per_input;
  if (CUresult st = encode_jit(n, options, values, &per_input, api); st != CUDA_SUCCESS) return st;
  if (type == CU_JIT_INPUT_PTX) size = strnlen(static_cast<const char*>(data), size);  // the text, no NUL
  const uint64_t args[] = {s->id, static_cast<uint64_t>(type)};
  const gpool::transport::ConstBytes seg{static_cast<const std::byte*>(data), size};
  Reply r;
  const CUresult st = s->session->sync(Op::LinkAddData, args, {}, {}, {&seg, 1}, &r);
  apply_jit_answer(s->jit, r, 0, s->values);
  return st;
}

}  // namespace

extern "C" CUresult gpool_impl_cuLinkCreate_v2(unsigned int n, CUjit_option* options, void** values,
                                               CUlinkState* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  auto s = std::make_unique<LinkState>();
  if (CUresult st = encode_jit(n, options, values, &s->jit, "cuLinkCreate"); st != CUDA_SUCCESS) return st;
  s->values = values;
  s->id = g_next_id.fetch_add(1);
  s->session = &Session::instance();
  std::vector<uint64_t> args = {s->id};
  args.insert(args.end(), s->jit.args.begin(), s->jit.args.end());
  Reply r;
  const CUresult st = s->session->sync(Op::LinkCreate, args, {}, {}, {}, &r);
  apply_jit_answer(s->jit, r, 0, s->values);
  if (st != CUDA_SUCCESS) return st;
  std::lock_guard lock(g_mu);
  live().insert(s.get());
  *out = reinterpret_cast<CUlinkState>(s.release());
  return CUDA_SUCCESS;
}
extern "C" CUresult gpool_impl_cuLinkCreate(unsigned int n, CUjit_option* options, void** values,
                                            CUlinkState* out) {
  return gpool_impl_cuLinkCreate_v2(n, options, values, out);
}

extern "C" CUresult gpool_impl_cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                                const char*, unsigned int n, CUjit_option* options,
                                                void** values) {
  return add(state, type, data, size, n, options, values, "cuLinkAddData");
}
extern "C" CUresult gpool_impl_cuLinkAddData(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                             const char* name, unsigned int n, CUjit_option* options,
                                             void** values) {
  return gpool_impl_cuLinkAddData_v2(state, type, data, size, name, n, options, values);
}

extern "C" CUresult gpool_impl_cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char* path,
                                                unsigned int n, CUjit_option* options, void** values) {
  if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (find(state) == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  std::vector<uint8_t> bytes;
  std::string error;
  if (!gpool::emu::loader::load_file(path, &bytes, &error)) {
    gpool::log::logger("shim").error("cuLinkAddFile: {}", error);
    return CUDA_ERROR_FILE_NOT_FOUND;
  }
  if (bytes.empty()) return CUDA_ERROR_INVALID_IMAGE;
  return add(state, type, bytes.data(), bytes.size(), n, options, values, "cuLinkAddFile");
}
extern "C" CUresult gpool_impl_cuLinkAddFile(CUlinkState state, CUjitInputType type, const char* path,
                                             unsigned int n, CUjit_option* options, void** values) {
  return gpool_impl_cuLinkAddFile_v2(state, type, path, n, options, values);
}

extern "C" CUresult gpool_impl_cuLinkComplete(CUlinkState state, void** cubin_out, size_t* size_out) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  LinkState* s = find(state);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (cubin_out == nullptr || size_out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t args[] = {s->id};
  Reply r;
  CUresult st = s->session->sync(Op::LinkComplete, args, {}, {}, {}, &r);
  apply_jit_answer(s->jit, r, 1, s->values);
  if (st != CUDA_SUCCESS) return st;
  if (r.results.empty() || r.results[0] == 0) return CUDA_ERROR_UNKNOWN;
  s->image.assign(static_cast<size_t>(r.results[0]), std::byte{0});
  const uint64_t fetch[] = {s->id, r.results[0]};
  const gpool::transport::MutableBytes dest{s->image.data(), s->image.size()};
  if (st = s->session->sync(Op::LinkFetch, fetch, {}, {}, {}, nullptr, {&dest, 1}); st != CUDA_SUCCESS) return st;
  *cubin_out = s->image.data();
  *size_out = s->image.size();
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLinkDestroy(CUlinkState state) {
  std::unique_ptr<LinkState> s;
  {
    std::lock_guard lock(g_mu);
    auto* p = reinterpret_cast<LinkState*>(state);
    if (live().erase(p) == 0) return CUDA_ERROR_INVALID_HANDLE;
    s.reset(p);
  }
  const uint64_t args[] = {s->id};
  return s->session->sync(Op::LinkDestroy, args);
}
