// JIT linking: cuLinkCreate / cuLinkAddData / cuLinkAddFile / cuLinkComplete /
// cuLinkDestroy (and the _v2 symbols) on the interpreter.
//
// Inputs are PTX text, fatbins (the PTX each compilation unit holds for the
// device, relocatable -rdc=true PTX included) and "cubins" whose bytes are in
// fact PTX or a fatbin (content decides, as cuModuleLoadData does). Each
// input's PTX is parsed when it is added (syntax errors surface there, as
// CUDA_ERROR_INVALID_PTX). cuLinkComplete links all of them (ptx::link), checks
// the executor accepts the result (an unresolved extern function is reported
// there), and returns gpool's linked image (loader::make_link_image): a fatbin
// with one PTX entry per unit that cuModuleLoadData / cuLibraryLoadData link
// again when loading. It stays valid until cuLinkDestroy, as the driver's does.
//
// Refused with a logged reason: SASS (an ELF cubin; the interpreter runs PTX
// only) -> CUDA_ERROR_NO_BINARY_FOR_GPU; CU_JIT_INPUT_OBJECT / _LIBRARY (host
// objects and archives) and CU_JIT_INPUT_NVVM (LTO IR) -> CUDA_ERROR_NOT_SUPPORTED.
//
// Thread safety: a CUlinkState is used by one thread at a time (as in CUDA).
#include "module.h"

#include "gpool/emu/loader/image.h"
#include "gpool/emu/ptx/link.h"
#include "gpool/emu/ptx/parser.h"

#include <memory>

namespace gpool::emu::rt {
namespace {

struct LinkState final : Object {
  static constexpr Kind kKind = Kind::LinkState;
  LinkState() : Object(Kind::LinkState) {}
  JitOptions jit;
  void** values = nullptr;  // cuLinkCreate's optionValues: outputs are written at cuLinkComplete
  uint32_t sm = 0;          // PTX arch bound: the device's, or CU_JIT_TARGET's
  int regs_per_block = 65536;
  std::vector<loader::LinkUnit> units;
  std::vector<uint8_t> image;  // cuLinkComplete's output
};

const char* input_name(CUjitInputType t) {
  switch (t) {
    case CU_JIT_INPUT_CUBIN: return "cubin";
    case CU_JIT_INPUT_PTX: return "PTX";
    case CU_JIT_INPUT_FATBINARY: return "fatbin";
    case CU_JIT_INPUT_OBJECT: return "host object";
    case CU_JIT_INPUT_LIBRARY: return "library archive";
    case CU_JIT_INPUT_NVVM: return "NVVM IR";
    default: return "unknown input";
  }
}

CUresult fail(LinkState* s, CUresult r, const std::string& what) {
  log().error("cuLink: {}", what);
  s->jit.error += "gpool emulator: " + what + "\n";
  return r;
}

CUresult add_data(LinkState* s, CUjitInputType type, const void* data, size_t size, const char* name,
                  unsigned n, CUjit_option* options, void** values) {
  const std::string label = std::string(input_name(type)) + " input '" + (name ? name : "") + "'";
  JitOptions local;  // per-input options: validated, their outputs written back
  if (CUresult r = jit_parse(n, options, values, &local, "cuLinkAddData"); r != CUDA_SUCCESS) return r;
  if (type == CU_JIT_INPUT_OBJECT || type == CU_JIT_INPUT_LIBRARY || type == CU_JIT_INPUT_NVVM) {
    jit_finish(local, values);
    return fail(s, CUDA_ERROR_NOT_SUPPORTED,
                label + ": " + input_name(type) +
                    " inputs are not supported by the emulator; add the PTX or fatbin (nvcc -ptx / -fatbin)");
  }
  if (type != CU_JIT_INPUT_CUBIN && type != CU_JIT_INPUT_PTX && type != CU_JIT_INPUT_FATBINARY) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  loader::Image img;
  std::string err;
  // PTX may come without its NUL within `size`: parse a terminated copy.
  std::string copy;
  const void* bytes = data;
  if (type == CU_JIT_INPUT_PTX) {
    copy.assign(static_cast<const char*>(data), strnlen(static_cast<const char*>(data), size));
    bytes = copy.c_str();
    size = copy.size() + 1;
  }
  if (!loader::parse_image(bytes, &img, &err, size)) {
    jit_finish(local, values);
    return fail(s, type == CU_JIT_INPUT_PTX ? CUDA_ERROR_INVALID_PTX : CUDA_ERROR_INVALID_IMAGE, label + ": " + err);
  }
  const std::vector<const loader::PtxEntry*> units = loader::select_ptx_units(img, s->sm);
  if (units.empty()) {
    jit_finish(local, values);
    return fail(s, CUDA_ERROR_NO_BINARY_FOR_GPU, label + ": " + loader::no_ptx_message(img, s->sm));
  }
  std::vector<loader::LinkUnit> added;
  for (const loader::PtxEntry* e : units) {
    ptx::Module m;
    if (!ptx::parse(e->text, &m, &err)) {
      jit_finish(local, values);
      return fail(s, CUDA_ERROR_INVALID_PTX, label + ": PTX does not parse: " + err);
    }
    uint32_t arch = e->arch;
    if (arch == 0 && m.target.rfind("sm_", 0) == 0) arch = static_cast<uint32_t>(std::atoi(m.target.c_str() + 3));
    if (arch > s->sm) {
      jit_finish(local, values);
      return fail(s, CUDA_ERROR_NO_BINARY_FOR_GPU,
                  label + ": PTX targets sm_" + std::to_string(arch) + ", newer than sm_" + std::to_string(s->sm));
    }
    loader::LinkUnit added_unit{arch, e->text};
    added_unit.variant = e->variant;
    added.push_back(std::move(added_unit));
  }
  if (s->jit.verbose) s->jit.info += "gpool emulator: added " + label + " (" + std::to_string(added.size()) + " unit(s))\n";
  s->units.insert(s->units.end(), added.begin(), added.end());
  jit_finish(local, values);
  return CUDA_SUCCESS;
}

LinkState* find_state(CUlinkState h) { return lookup<LinkState>(h); }

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;
namespace loader = gpool::emu::loader;
namespace ptx = gpool::emu::ptx;
namespace exec = gpool::emu::exec;

extern "C" CUresult gpool_impl_cuLinkCreate_v2(unsigned int numOptions, CUjit_option* options, void** optionValues,
                                               CUlinkState* stateOut) {
  if (stateOut == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  auto s = std::make_unique<LinkState>();
  if (CUresult r = jit_parse(numOptions, options, optionValues, &s->jit, "cuLinkCreate"); r != CUDA_SUCCESS) return r;
  s->values = optionValues;
  const DeviceProfile& p = ctx->dev->prof;
  s->sm = static_cast<uint32_t>(p.cc_major * 10 + p.cc_minor);
  if (s->jit.target_sm != 0) s->sm = std::min(s->sm, s->jit.target_sm);
  s->regs_per_block = p.regs_per_block;
  LinkState* raw = s.release();
  registry().add(raw);
  *stateOut = reinterpret_cast<CUlinkState>(raw);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLinkCreate(unsigned int numOptions, CUjit_option* options, void** optionValues,
                                            CUlinkState* stateOut) {
  return gpool_impl_cuLinkCreate_v2(numOptions, options, optionValues, stateOut);
}

extern "C" CUresult gpool_impl_cuLinkAddData_v2(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                                const char* name, unsigned int numOptions, CUjit_option* options,
                                                void** optionValues) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  LinkState* s = find_state(state);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (data == nullptr || size == 0) return CUDA_ERROR_INVALID_VALUE;
  return add_data(s, type, data, size, name, numOptions, options, optionValues);
}

extern "C" CUresult gpool_impl_cuLinkAddData(CUlinkState state, CUjitInputType type, void* data, size_t size,
                                             const char* name, unsigned int numOptions, CUjit_option* options,
                                             void** optionValues) {
  return gpool_impl_cuLinkAddData_v2(state, type, data, size, name, numOptions, options, optionValues);
}

extern "C" CUresult gpool_impl_cuLinkAddFile_v2(CUlinkState state, CUjitInputType type, const char* path,
                                                unsigned int numOptions, CUjit_option* options, void** optionValues) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  LinkState* s = find_state(state);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint8_t> bytes;
  std::string err;
  if (!loader::load_file(path, &bytes, &err)) return fail(s, CUDA_ERROR_FILE_NOT_FOUND, err);
  if (bytes.empty()) return fail(s, CUDA_ERROR_INVALID_IMAGE, std::string(path) + " is empty");
  return add_data(s, type, bytes.data(), bytes.size(), path, numOptions, options, optionValues);
}

extern "C" CUresult gpool_impl_cuLinkAddFile(CUlinkState state, CUjitInputType type, const char* path,
                                             unsigned int numOptions, CUjit_option* options, void** optionValues) {
  return gpool_impl_cuLinkAddFile_v2(state, type, path, numOptions, options, optionValues);
}

extern "C" CUresult gpool_impl_cuLinkComplete(CUlinkState state, void** cubinOut, size_t* sizeOut) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  LinkState* s = find_state(state);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (cubinOut == nullptr || sizeOut == nullptr) return CUDA_ERROR_INVALID_VALUE;
  CUresult r = CUDA_SUCCESS;
  if (s->units.empty()) {
    r = fail(s, CUDA_ERROR_INVALID_VALUE, "cuLinkComplete without inputs");
  } else {
    // Link once now so that undefined or doubly defined symbols are reported here, as nvlink does.
    std::vector<ptx::Module> mods(s->units.size());
    std::string err;
    for (size_t i = 0; i < s->units.size(); ++i) ptx::parse(s->units[i].text, &mods[i], &err);  // parsed at add
    ptx::Module linked;
    if (!ptx::link(std::move(mods), &linked, &err)) {
      r = fail(s, CUDA_ERROR_INVALID_PTX, "link failed: " + err);
    } else if (auto program = exec::Program::build(linked, &err); !program) {
      r = fail(s, CUDA_ERROR_INVALID_PTX, "link failed: " + err);
    } else {
      const uint32_t cap = s->jit.register_cap(s->regs_per_block);
      s->image = loader::make_link_image(s->units, cap ? "-maxrregcount=" + std::to_string(cap) : std::string());
      *cubinOut = s->image.data();
      *sizeOut = s->image.size();
      if (s->jit.verbose) {
        for (const auto& k : program->kernels())
          s->jit.info += "gpool emulator: linked kernel " + k.name + "\n";
      }
      s->jit.info += "gpool emulator: linked " + std::to_string(s->units.size()) + " PTX unit(s)" +
                     (cap ? ", at most " + std::to_string(cap) + " registers per thread" : std::string()) + "\n";
    }
  }
  jit_finish(s->jit, s->values);
  return r;
}

extern "C" CUresult gpool_impl_cuLinkDestroy(CUlinkState state) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  LinkState* s = find_state(state);
  if (s == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  registry().remove(s);
  delete s;
  return CUDA_SUCCESS;
}
