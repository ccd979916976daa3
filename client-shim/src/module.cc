// Shim: modules, libraries, functions and kernels. Images are sent by content hash (the server
// asks for the bytes only when it does not hold them); function lookups are sync calls whose
// reply carries the parameter layout, cached here for launches.
#include <cstring>
#include <map>
#include <mutex>

#include "gpool/driver_abi/backend.h"
#include "gpool/common/log.h"
#include "gpool/emu/loader/image.h"
#include "jit_options.h"
#include "managed.h"
#include "state.h"

using namespace gpool::shim;

namespace {

namespace loader = gpool::emu::loader;

// A -rdc=true program's wrapper: its own fatbin holds the device-linked SASS only; the PTX of
// each translation unit is in the pre-linked fatbins it points to, which only this process can
// read. The image sent is one container: the wrapper's fatbin entries, then every pre-linked
// unit's PTX (loader::make_link_image), so that the server's backend can link them.
bool self_contained(const loader::Image& img, std::vector<uint8_t>* out) {
  if (img.format != loader::Image::Format::FatbinWrapper) return false;
  std::vector<loader::LinkUnit> units;
  for (const loader::PtxEntry& e : img.ptx) {
    if (e.unit != 0) units.push_back(loader::LinkUnit{e.arch, e.text, e.unit, e.variant});
  }
  if (units.empty()) return false;
  *out = loader::make_link_image(units, "", img.base, img.size);
  return true;
}

CUresult load(const void* image, size_t known_size, bool library, uint64_t id, const JitRequest* jit = nullptr,
              void** jit_values = nullptr) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  loader::Image img;
  std::string error;
  if (!loader::parse_image(image, &img, &error, known_size ? known_size : SIZE_MAX)) {
    gpool::log::logger("shim").error("cannot send device code image: {}", error);
    return CUDA_ERROR_INVALID_IMAGE;
  }
  const auto* base = static_cast<const std::byte*>(img.base ? img.base : image);
  size_t size = img.size;
  if (img.format == loader::Image::Format::PtxText && size == 0) size = std::strlen(static_cast<const char*>(image));
  std::vector<uint8_t> combined;
  if (self_contained(img, &combined)) {
    base = reinterpret_cast<const std::byte*>(combined.data());
    size = combined.size();
  }
  const auto digest = gpool::remote::sha256({base, size});
  uint64_t lo = 0, hi = 0;
  std::memcpy(&lo, digest.data(), 8);
  std::memcpy(&hi, digest.data() + 8, 8);
  std::vector<uint64_t> args = {lo, hi, size};
  if (jit != nullptr) args.insert(args.end(), jit->args.begin(), jit->args.end());
  const HandleRef h[] = {HandleRef(id, library ? gpool::remote::HandleKind_Library
                                               : gpool::remote::HandleKind_Module)};
  const Op op = library ? Op::LibraryLoad : Op::ModuleLoad;
  Reply r;
  CUresult st = Session::instance().sync(op, args, h, {}, {}, &r);
  if (st == CUDA_SUCCESS && !r.results.empty() && r.results[0] == 1) {
    const gpool::transport::ConstBytes seg{base, size};
    st = Session::instance().sync(op, args, h, {}, {&seg, 1}, &r);
  }
  if (jit != nullptr) apply_jit_answer(*jit, r, 1, jit_values);
  return st;
}

CUresult get_function(uint64_t owner, const char* name, bool kernel, uint64_t* out) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (name == nullptr || out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (uint64_t id = function_by_name(owner, name)) {
    *out = id;
    return CUDA_SUCCESS;
  }
  const uint64_t id = new_id(kernel ? IdKind::kKernel : IdKind::kFunction);
  const HandleRef h[] = {
      HandleRef(owner, kernel ? gpool::remote::HandleKind_Library : gpool::remote::HandleKind_Module),
      HandleRef(id, kernel ? gpool::remote::HandleKind_Kernel : gpool::remote::HandleKind_Function)};
  Reply r;
  const std::string_view n(name);
  if (CUresult st = Session::instance().sync(kernel ? Op::LibraryGetKernel : Op::ModuleGetFunction, {},
                                             h, gpool::remote::as_bytes(n), {}, &r);
      st != CUDA_SUCCESS) {
    return st;
  }
  FunctionInfo f;
  f.id = id;
  f.owner = owner;
  f.kernel = kernel;
  f.name = name;
  if (r.results.empty() || r.results.size() != 4 + 2 * r.results[0]) return CUDA_ERROR_UNKNOWN;
  for (uint64_t i = 0; i < r.results[0]; ++i) {
    f.offsets.push_back(static_cast<uint32_t>(r.results[1 + 2 * i]));
    f.sizes.push_back(static_cast<uint32_t>(r.results[2 + 2 * i]));
  }
  f.param_bytes = static_cast<uint32_t>(r.results[r.results.size() - 3]);
  f.max_threads = static_cast<uint32_t>(r.results[r.results.size() - 2]);
  f.max_dynamic_smem = static_cast<uint32_t>(r.results[r.results.size() - 1]);
  add_function(std::move(f));
  *out = id;
  return CUDA_SUCCESS;
}

CUresult get_global(uint64_t owner, bool library, const char* name, CUdeviceptr* dptr, size_t* bytes) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const HandleRef h[] = {HandleRef(owner, library ? gpool::remote::HandleKind_Library
                                                  : gpool::remote::HandleKind_Module)};
  Reply r;
  if (CUresult st = Session::instance().sync(library ? Op::LibraryGetGlobal : Op::ModuleGetGlobal, {}, h,
                                             gpool::remote::as_bytes(name), {}, &r);
      st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() < 2) return CUDA_ERROR_UNKNOWN;
  add_device_range(r.results[0], r.results[1], false);
  if (dptr) *dptr = r.results[0];
  if (bytes) *bytes = r.results[1];
  return CUDA_SUCCESS;
}

uint64_t hid(const void* h) { return reinterpret_cast<uint64_t>(h); }

CUresult func_attribute(int* value, int attr, uint64_t fn) {
  if (value == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  auto f = find_function(fn);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  const HandleRef h[] = {HandleRef(fn, f->kernel ? gpool::remote::HandleKind_Kernel
                                                 : gpool::remote::HandleKind_Function)};
  const uint64_t args[] = {static_cast<uint64_t>(attr)};
  uint64_t v = 0;
  if (CUresult st = Session::instance().sync_value(Op::FuncGetAttribute, args, h, v); st != CUDA_SUCCESS) return st;
  *value = static_cast<int>(static_cast<int64_t>(v));
  return CUDA_SUCCESS;
}

CUresult func_set_attribute(uint64_t fn, int attr, int value) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  auto f = find_function(fn);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  const HandleRef h[] = {HandleRef(fn, f->kernel ? gpool::remote::HandleKind_Kernel
                                                 : gpool::remote::HandleKind_Function)};
  const uint64_t args[] = {static_cast<uint64_t>(attr), static_cast<uint64_t>(static_cast<int64_t>(value))};
  const CUresult st = Session::instance().sync(Op::FuncSetAttribute, args, h);
  if (st == CUDA_SUCCESS && attr == CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES) {
    f->max_dynamic_smem = static_cast<uint32_t>(value);
    add_function(std::move(*f));
  }
  return st;
}

CUresult param_info(uint64_t fn, size_t index, size_t* offset, size_t* size) {
  auto f = find_function(fn);
  if (!f) return CUDA_ERROR_INVALID_HANDLE;
  if (index >= f->offsets.size()) return CUDA_ERROR_INVALID_VALUE;
  if (offset) *offset = f->offsets[index];
  if (size) *size = f->sizes[index];
  return CUDA_SUCCESS;
}

}  // namespace

extern "C" CUresult gpool_impl_cuModuleLoadData(CUmodule* out, const void* image) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = new_id(IdKind::kModule);
  if (CUresult st = load(image, 0, false, id); st != CUDA_SUCCESS) return st;
  *out = reinterpret_cast<CUmodule>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleLoadDataEx(CUmodule* out, const void* image, unsigned int n,
                                                  CUjit_option* options, void** values) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  JitRequest jit;
  if (CUresult st = encode_jit(n, options, values, &jit, "cuModuleLoadDataEx"); st != CUDA_SUCCESS) return st;
  const uint64_t id = new_id(IdKind::kModule);
  if (CUresult st = load(image, 0, false, id, n ? &jit : nullptr, values); st != CUDA_SUCCESS) return st;
  *out = reinterpret_cast<CUmodule>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleLoadFatBinary(CUmodule* out, const void* image) {
  return gpool_impl_cuModuleLoadData(out, image);
}

extern "C" CUresult gpool_impl_cuModuleLoad(CUmodule* out, const char* path) {
  if (out == nullptr || path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint8_t> bytes;
  std::string error;
  if (!loader::load_file(path, &bytes, &error)) {
    gpool::log::logger("shim").error("cuModuleLoad: {}", error);
    return CUDA_ERROR_FILE_NOT_FOUND;
  }
  bytes.push_back(0);  // PTX text files are not NUL-terminated on disk
  const uint64_t id = new_id(IdKind::kModule);
  if (CUresult st = load(bytes.data(), bytes.size(), false, id); st != CUDA_SUCCESS) return st;
  *out = reinterpret_cast<CUmodule>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleUnload(CUmodule mod) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {HandleRef(hid(mod), gpool::remote::HandleKind_Module)};
  const CUresult st = Session::instance().sync(Op::ModuleUnload, {}, h);
  if (st == CUDA_SUCCESS) drop_functions_of(hid(mod));
  return st;
}

extern "C" CUresult gpool_impl_cuModuleGetFunction(CUfunction* out, CUmodule mod, const char* name) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t id = 0;
  if (CUresult st = get_function(hid(mod), name, false, &id); st != CUDA_SUCCESS) return st;
  *out = reinterpret_cast<CUfunction>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule mod,
                                                    const char* name) {
  return get_global(hid(mod), false, name, dptr, bytes);
}

extern "C" CUresult gpool_impl_cuLibraryLoadData(CUlibrary* out, const void* code, CUjit_option* options,
                                                 void** values, unsigned int n, CUlibraryOption*, void**,
                                                 unsigned int) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  JitRequest jit;
  if (CUresult st = encode_jit(n, options, values, &jit, "cuLibraryLoadData"); st != CUDA_SUCCESS) return st;
  const uint64_t id = new_id(IdKind::kLibrary);
  if (CUresult st = load(code, 0, true, id, n ? &jit : nullptr, values); st != CUDA_SUCCESS) return st;
  *out = reinterpret_cast<CUlibrary>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryLoadFromFile(CUlibrary* out, const char* path, CUjit_option* options,
                                                     void** values, unsigned int n, CUlibraryOption*, void**,
                                                     unsigned int) {
  if (out == nullptr || path == nullptr) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint8_t> bytes;
  std::string error;
  if (!loader::load_file(path, &bytes, &error)) {
    gpool::log::logger("shim").error("cuLibraryLoadFromFile: {}", error);
    return CUDA_ERROR_FILE_NOT_FOUND;
  }
  bytes.push_back(0);
  JitRequest jit;
  if (CUresult st = encode_jit(n, options, values, &jit, "cuLibraryLoadFromFile"); st != CUDA_SUCCESS) return st;
  const uint64_t id = new_id(IdKind::kLibrary);
  if (CUresult st = load(bytes.data(), bytes.size(), true, id, n ? &jit : nullptr, values); st != CUDA_SUCCESS) {
    return st;
  }
  *out = reinterpret_cast<CUlibrary>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryUnload(CUlibrary lib) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  const HandleRef h[] = {HandleRef(hid(lib), gpool::remote::HandleKind_Library)};
  // Its __managed__ variables leave the mirror first: no push or pull may aim at them once the
  // server has unloaded them.
  gpool::shim::managed::remove_library(hid(lib));
  const CUresult st = Session::instance().sync(Op::LibraryUnload, {}, h);
  if (st == CUDA_SUCCESS) {
    drop_functions_of(hid(lib));
    drop_library_module(hid(lib));
  }
  return st;
}

extern "C" CUresult gpool_impl_cuLibraryGetKernel(CUkernel* out, CUlibrary lib, const char* name) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  uint64_t id = 0;
  if (CUresult st = get_function(hid(lib), name, true, &id); st != CUDA_SUCCESS) return st;
  *out = reinterpret_cast<CUkernel>(id);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryGetGlobal(CUdeviceptr* dptr, size_t* bytes, CUlibrary lib,
                                                  const char* name) {
  return get_global(hid(lib), true, name, dptr, bytes);
}

// A library's __managed__ variable: the server's global (LibraryGetManaged, op 440), mirrored in
// this process at the same address like managed memory (managed.h: pages shared with other
// globals are tolerated, and only the variable's bytes move). The host copy starts with the
// device's bytes (the variable's initial value).
extern "C" CUresult gpool_impl_cuLibraryGetManaged(CUdeviceptr* dptr, size_t* bytes, CUlibrary lib,
                                                   const char* name) {
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (!gpool::shim::managed::install_handler()) return CUDA_ERROR_NOT_SUPPORTED;
  Session& s = Session::instance();
  const HandleRef h[] = {HandleRef(hid(lib), gpool::remote::HandleKind_Library)};
  Reply r;
  if (CUresult st = s.sync(Op::LibraryGetManaged, {}, h, gpool::remote::as_bytes(name), {}, &r); st != CUDA_SUCCESS) {
    return st;
  }
  if (r.results.size() < 2) return CUDA_ERROR_UNKNOWN;
  const uint64_t p = r.results[0], n = r.results[1];
  bool added = false;
  if (CUresult st = gpool::shim::managed::add_variable(s.index(), p, n, hid(lib), &added); st != CUDA_SUCCESS) {
    return st;
  }
  if (added) {
    if (CUresult st = s.pull_managed(p); st != CUDA_SUCCESS) {
      gpool::shim::managed::remove(p);
      return st;
    }
    add_device_range(p, n, false);
  }
  if (dptr) *dptr = p;
  if (bytes) *bytes = n;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuKernelGetFunction(CUfunction* out, CUkernel k) {
  if (out == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult st = check_ready(); st != CUDA_SUCCESS) return st;
  if (!find_function(hid(k))) return CUDA_ERROR_INVALID_HANDLE;
  *out = reinterpret_cast<CUfunction>(k);  // a kernel id is usable wherever a function is
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuFuncGetParamInfo(CUfunction f, size_t i, size_t* off, size_t* size) {
  return param_info(hid(f), i, off, size);
}
extern "C" CUresult gpool_impl_cuKernelGetParamInfo(CUkernel k, size_t i, size_t* off, size_t* size) {
  return param_info(hid(k), i, off, size);
}
extern "C" CUresult gpool_impl_cuFuncGetAttribute(int* v, CUfunction_attribute a, CUfunction f) {
  return func_attribute(v, a, hid(f));
}
extern "C" CUresult gpool_impl_cuKernelGetAttribute(int* v, CUfunction_attribute a, CUkernel k, CUdevice dev) {
  if (Pool::global().device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  ScopedDevice scope(dev);  // asked of that device's server (the kernel must live there)
  return func_attribute(v, a, hid(k));
}
extern "C" CUresult gpool_impl_cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) {
  return func_set_attribute(hid(f), a, v);
}
extern "C" CUresult gpool_impl_cuKernelSetAttribute(CUfunction_attribute a, int v, CUkernel k, CUdevice dev) {
  if (Pool::global().device(dev) == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  ScopedDevice scope(dev);
  return func_set_attribute(hid(k), a, v);
}
extern "C" CUresult gpool_impl_cuFuncSetCacheConfig(CUfunction f, CUfunc_cache) {
  // A preference the driver may ignore; validated, not forwarded.
  return find_function(hid(f)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
extern "C" CUresult gpool_impl_cuKernelSetCacheConfig(CUkernel k, CUfunc_cache, CUdevice) {
  return find_function(hid(k)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}
extern "C" CUresult gpool_impl_cuFuncGetName(const char** name, CUfunction f) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  static std::mutex mu;
  static std::map<uint64_t, std::string>* names = new std::map<uint64_t, std::string>();
  auto info = find_function(hid(f));
  if (!info) return CUDA_ERROR_INVALID_HANDLE;
  std::lock_guard<std::mutex> lock(mu);
  *name = names->emplace(info->id, info->name).first->second.c_str();
  return CUDA_SUCCESS;
}
extern "C" CUresult gpool_impl_cuKernelGetName(const char** name, CUkernel k) {
  return gpool_impl_cuFuncGetName(name, reinterpret_cast<CUfunction>(k));
}
