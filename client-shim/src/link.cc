// Shim: JIT linking (cuLinkCreate / AddData / AddFile / Complete / Destroy and the _v2 symbols).
//
// A link state lives in this process: cuLinkCreate records the options, cuLinkAddData/AddFile
// copy each input. cuLinkComplete sends everything in one LinkRun call (protocol/calls/calls.toml,
// one segment per input); the server links on its backend and the shim fetches the linked image
// with LinkFetch. The image stays in the link state until cuLinkDestroy, as the driver's does,
// and the program loads it with cuModuleLoadData, which sends it like any other image. The logs,
// wall time and threads-per-block answer are written into cuLinkCreate's option values then.
// Per-input options of cuLinkAddData/AddFile are validated but not forwarded (the driver applies
// them to that input's compilation only; gpool does not ship them).
//
// Thread safety: a CUlinkState is used by one thread at a time (as in CUDA); the table of live
// states is guarded by a mutex.
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

struct LinkInput {
  CUjitInputType type;
  std::vector<std::byte> bytes;
};

struct LinkState {
  JitRequest jit;
  void** values = nullptr;
  std::vector<LinkInput> inputs;
  std::vector<std::byte> image;  // cuLinkComplete's output
};

constexpr size_t kMaxInputs = 64;  // as the server accepts (worker_link.cc)

std::mutex g_mu;
std::set<LinkState*>& live() {
  static auto* s = new std::set<LinkState*>();
  return *s;
}

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
  if (s->inputs.size() >= kMaxInputs) {
    gpool::log::logger("shim").error("{}: more than {} inputs in one link", api, kMaxInputs);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (type == CU_JIT_INPUT_PTX) size = strnlen(static_cast<const char*>(data), size);  // the text, no NUL
  const auto* p = static_cast<const std::byte*>(data);
  s->inputs.push_back(LinkInput{type, std::vector<std::byte>(p, p + size)});
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuLinkCreate_v2(unsigned int n, CUjit_option* options, void** values,
                                               CUlinkState* out) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  auto s = std::make_unique<LinkState>();
  if (CUresult st = encode_jit(n, options, values, &s->jit, "cuLinkCreate"); st != CUDA_SUCCESS) return st;
  s->values = values;
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
  if (s->inputs.empty()) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint64_t> args = s->jit.args;
  args.push_back(s->inputs.size());
  std::vector<gpool::transport::ConstBytes> segs;
  for (const LinkInput& in : s->inputs) {
    args.push_back(static_cast<uint64_t>(in.type));
    segs.push_back({in.bytes.data(), in.bytes.size()});
  }
  Reply r;
  CUresult st = Session::instance().sync(Op::LinkRun, args, {}, {}, segs, &r);
  apply_jit_answer(s->jit, r, 2, s->values);
  if (st != CUDA_SUCCESS) return st;
  if (r.results.size() < 2 || r.results[0] == 0) return CUDA_ERROR_UNKNOWN;
  s->image.assign(static_cast<size_t>(r.results[1]), std::byte{0});
  const uint64_t fetch[] = {r.results[0], r.results[1]};
  const gpool::transport::MutableBytes dest{s->image.data(), s->image.size()};
  if (st = Session::instance().sync(Op::LinkFetch, fetch, {}, {}, {}, nullptr, {&dest, 1}); st != CUDA_SUCCESS) {
    return st;
  }
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
  return CUDA_SUCCESS;
}
