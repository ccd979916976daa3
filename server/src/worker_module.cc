// Worker: module and library images (by content hash), functions and kernels with their
// parameter layouts, kernel launches (metered by the compute-share scheduler when it is on),
// function attributes and occupancy.
#include <algorithm>
#include <cstring>

#include "gpool/common/log.h"
#include "gpool/common/sha256.h"
#include "scheduler.h"
#include "image_check.h"
#include "image_globals.h"
#include "public_images.h"
#include "worker.h"

namespace gpool::server {
namespace {

using remote::HandleKind;

}  // namespace

CUresult Worker::op_load(Ctx& c, bool library) {
  ModuleLoadArgs a;
  LibraryLoadArgs la;
  if (library ? !decode_args(c, la) : !decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  if (library) {
    a = ModuleLoadArgs{la.hash_lo, la.hash_hi, la.bytes, la.jit_count, la.has_jit_count, la.jit, la.image_bytes,
                       la.has_image};
  }
  const HandleKind kind = library ? protocol::wire::HandleKind_Library : protocol::wire::HandleKind_Module;
  const uint64_t id = c.handle_id(0);
  if (c.handle_kind(0) != kind || !modules_.image_id_free(id)) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  ImageHash hash{};
  const uint64_t lo = a.hash_lo, hi = a.hash_hi, bytes = a.bytes;
  std::memcpy(hash.data(), &lo, 8);
  std::memcpy(hash.data() + 8, &hi, 8);
  // This session's images, then this tenant's disk folder: never another tenant's (image_cache.h);
  // then the server's public index, which no tenant's action changes (public_images.h).
  const std::vector<std::byte>* image = images_.find(hash);
  if (image == nullptr && !a.has_image) {
    if (CUresult st = load_public(hash, bytes, image); st != CUDA_SUCCESS) return st;
  }
  if (image != nullptr && image->size() - 1 != bytes) {
    // The hash names an image the server holds, the size is not its size: no client computes
    // that (the hash covers the bytes), so the call is forged or corrupt.
    log::logger("worker").warn("session {}: refused a load naming image {} with {} bytes: that image has {} bytes; "
                               "CUDA_ERROR_INVALID_IMAGE", params_.session_id,
                               gpool::hash::to_hex({hash.data(), hash.size()}), bytes, image->size() - 1);
    return CUDA_ERROR_INVALID_IMAGE;
  }
  if (image == nullptr) {
    if (!a.has_image) {
      c.results = {1};  // need the image: the client sends it again with the bytes
      return CUDA_SUCCESS;
    }
    // The decoder checked the segment is `bytes` long (at most the transport's 4 GiB).
    // The upload's host memory is the tenant's (image_memory), charged before it is received;
    // over it, the bytes are read and dropped a piece at a time, never held.
    if (!charge_images(bytes + 1)) {
      log::logger("worker").warn("session {}: refused an image upload of {} bytes: over tenant {}'s image_memory "
                                 "({} of {} bytes held); CUDA_ERROR_OUT_OF_MEMORY", params_.session_id, bytes,
                                 params_.tenant, params_.tenants->slot(params_.tenant_index).image_bytes.load(),
                                 params_.tenants->slot(params_.tenant_index).image_quota.load());
      if (!in_->skip_segment().ok()) c.fatal = true;
      return CUDA_ERROR_OUT_OF_MEMORY;
    }
    std::vector<std::byte> padded(bytes + 1);  // NUL-terminated: PTX text is passed as such
    if (!in_->recv_segment({padded.data(), bytes}).ok()) {
      uncharge_images(bytes + 1);
      c.fatal = true;
      return CUDA_ERROR_UNKNOWN;
    }
    // The driver takes no size: refuse headers that reach past what was sent (image_check.h).
    if (std::string why; !image_bounds_ok({padded.data(), bytes}, why)) {
      log::logger("worker").warn("session {}: refused an image of {} bytes: {}", params_.session_id, bytes, why);
      uncharge_images(bytes + 1);
      return CUDA_ERROR_INVALID_IMAGE;
    }
    if (!images_.insert(hash, std::move(padded))) {
      log::logger("worker").warn("session {}: refused an image of {} bytes: its bytes do not have the hash the call "
                                 "named; CUDA_ERROR_INVALID_IMAGE", params_.session_id, bytes);
      uncharge_images(bytes + 1);
      return CUDA_ERROR_INVALID_IMAGE;
    }
    count_upload(bytes);
    image = images_.find(hash);
  }
  // The module's globals are device memory the tenant holds: charged before the driver loads
  // them (image_globals.h), returned on unload or with the session.
  const GlobalBytes globals = image_global_bytes({image->data(), image->size() - 1});
  const int device = current_physical();
  if (globals.opaque) {
    log::logger("worker").debug("session {}: a compressed image entry did not decompress (corrupt, or over 256 MiB); its globals are not charged",
                                params_.session_id);
  }
  if (globals.bytes > 0 && !charge(device, globals.bytes)) {
    log::logger("worker").info("session {}: refused a module whose globals take {} bytes: over tenant {}'s "
                               "memory_quota; CUDA_ERROR_OUT_OF_MEMORY", params_.session_id, globals.bytes,
                               params_.tenant);
    images_.drop(hash);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  c.results = {0};
  // Optional JIT options after [hash_lo, hash_hi, bytes] (cuModuleLoadDataEx, cuLibraryLoadData):
  // the answer then carries the logs, wall time and threads (jit_wire.h).
  const bool with_jit = a.has_jit_count;
  JitCall jit;
  if (with_jit) {
    // The row's shape: [count, (option, value) x count], count at most 64; decode checks each option.
    if (CUresult st = jit.decode(a.jit_count, a.jit); st != CUDA_SUCCESS) {
      if (globals.bytes > 0) uncharge(device, globals.bytes);
      return st;
    }
  }
  const unsigned n = static_cast<unsigned>(jit.options.size());
  CUresult st;
  if (library) {
    CUlibrary lib = nullptr;
    st = drv_.cuLibraryLoadData(&lib, image->data(), n ? jit.options.data() : nullptr,
                                n ? jit.values.data() : nullptr, n, nullptr, nullptr, 0);
    if (st == CUDA_SUCCESS) modules_.add_library(id, lib, current_);
  } else {
    CUmodule mod = nullptr;
    st = with_jit ? drv_.cuModuleLoadDataEx(&mod, image->data(), n, n ? jit.options.data() : nullptr,
                                            n ? jit.values.data() : nullptr)
                  : drv_.cuModuleLoadData(&mod, image->data());
    if (st == CUDA_SUCCESS) modules_.add_module(id, mod, current_);
  }
  if (with_jit) jit.encode(c);
  if (st != CUDA_SUCCESS) {
    if (globals.bytes > 0) uncharge(device, globals.bytes);
    images_.drop(hash);  // only images that loaded are kept (image_cache.h)
    return st;
  }
  // A public image is the server's own copy: never written to the tenant's disk folder (also
  // when this session loads it a second time, from its memory).
  const bool public_image = params_.public_images != nullptr && params_.public_images->find(hash) != nullptr;
  if (!public_image) images_.keep(hash);
  modules_.own_charge(id, device, globals.bytes);  // returned on unload (module_table.h)
  return st;
}

CUresult Worker::load_public(const ImageHash& hash, uint64_t bytes, const std::vector<std::byte>*& image) {
  const PublicImageIndex* index = params_.public_images;
  const PublicImageEntry* e = index != nullptr ? index->find(hash) : nullptr;
  if (e == nullptr) return CUDA_SUCCESS;  // not public (or not indexed yet): the client sends it
  if (e->size != bytes) {
    // The hash is a public image's, the size is not: no client computes that (the hash covers
    // the bytes), so the call is forged or corrupt. Refused, and nothing is read.
    log::logger("worker").warn("session {}: refused a load naming public image {} with {} bytes: that image has {} "
                               "bytes; CUDA_ERROR_INVALID_IMAGE", params_.session_id,
                               gpool::hash::to_hex({hash.data(), hash.size()}), bytes, e->size);
    return CUDA_ERROR_INVALID_IMAGE;
  }
  if (!charge_images(bytes + 1)) {
    log::logger("worker").warn("session {}: refused public image {} of {} bytes: over tenant {}'s image_memory; "
                               "CUDA_ERROR_OUT_OF_MEMORY", params_.session_id, gpool::hash::to_hex({hash.data(), hash.size()}),
                               bytes, params_.tenant);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  std::vector<std::byte> padded;
  if (std::string why; !index->read(*e, padded, why)) {
    // The server's own copy is gone or changed: the client sends the bytes as for any image.
    log::logger("worker").warn("session {}: public image {}: {}; asking the client for the bytes", params_.session_id,
                               gpool::hash::to_hex({hash.data(), hash.size()}), why);
    uncharge_images(bytes + 1);
    return CUDA_SUCCESS;
  }
  if (!images_.insert(hash, std::move(padded))) {  // read() checked the hash: cannot happen
    uncharge_images(bytes + 1);
    return CUDA_SUCCESS;
  }
  if (params_.tenants != nullptr && params_.tenant_index >= 0) {
    params_.tenants->slot(params_.tenant_index).public_image_loads.fetch_add(1, std::memory_order_relaxed);
  }
  log::logger("worker").debug("session {}: image {} ({} bytes) from the public index ({})", params_.session_id,
                              gpool::hash::to_hex({hash.data(), hash.size()}), bytes, index->path(e->file));
  image = images_.find(hash);
  return CUDA_SUCCESS;
}

void Worker::count_upload(uint64_t bytes) {
  if (params_.tenants == nullptr || params_.tenant_index < 0) return;
  TenantSlot& t = params_.tenants->slot(params_.tenant_index);
  t.image_uploads.fetch_add(1, std::memory_order_relaxed);
  t.image_upload_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

bool Worker::charge_images(uint64_t bytes) {
  if (params_.tenants == nullptr || params_.tenant_index < 0) return true;
  if (!params_.tenants->try_charge_images(params_.tenant_index, bytes)) return false;
  slot_.image_bytes.fetch_add(bytes);
  return true;
}

void Worker::uncharge_images(uint64_t bytes) {
  if (params_.tenants == nullptr || params_.tenant_index < 0) return;
  uint64_t cur = slot_.image_bytes.load();
  while (!slot_.image_bytes.compare_exchange_weak(cur, cur > bytes ? cur - bytes : 0)) {
  }
  params_.tenants->uncharge_images(params_.tenant_index, bytes);
}

CUresult Worker::op_unload(Ctx& c, bool library) {
  ModuleUnloadArgs a;
  LibraryUnloadArgs la;
  if (library ? !decode_args(c, la) : !decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t id = c.handle_id(0);
  if (library) {
    const CUlibrary lib = modules_.library(id);
    if (c.handle_kind(0) != protocol::wire::HandleKind_Library || lib == nullptr) {
      return CUDA_ERROR_INVALID_HANDLE;
    }
    const CUresult st = drv_.cuLibraryUnload(lib);
    forget_library_modules(id);  // its module's id (worker_module_alias.cc)
    modules_.erase_library(id);  // and its globals' charge
    return st;
  }
  const CUmodule mod = modules_.module(id);
  if (c.handle_kind(0) != protocol::wire::HandleKind_Module || mod == nullptr ||
      library_modules_.count(id)) {  // a library's module goes with the library
    return CUDA_ERROR_INVALID_HANDLE;
  }
  const CUresult st = drv_.cuModuleUnload(mod);
  modules_.erase_module(id);  // and its globals' charge
  return st;
}

CUresult Worker::op_get_function(Ctx& c, bool library) {
  ModuleGetFunctionArgs a;
  LibraryGetKernelArgs la;
  if (library ? !decode_args(c, la) : !decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t owner = c.handle_id(0), id = c.handle_id(1);
  const std::string name(library ? la.name : a.name);  // the row's inline text
  if (!modules_.function_id_free(id) ||
      c.handle_kind(1) != (library ? protocol::wire::HandleKind_Kernel : protocol::wire::HandleKind_Function)) {
    return CUDA_ERROR_INVALID_HANDLE;
  }
  Function f;
  f.name = name;
  f.device = current_;
  if (library) {
    const CUlibrary lib = modules_.library(owner);
    if (c.handle_kind(0) != protocol::wire::HandleKind_Library || lib == nullptr) {
      return CUDA_ERROR_INVALID_HANDLE;
    }
    f.device = modules_.library_device(owner, current_);
    CUkernel k = nullptr;
    CUresult st = drv_.cuLibraryGetKernel(&k, lib, name.c_str());
    if (st == CUDA_SUCCESS) st = drv_.cuKernelGetFunction(&f.fn, k);
    if (st != CUDA_SUCCESS) return st;
    f.kernel = k;
  } else {
    const CUmodule mod = modules_.module(owner);
    if (c.handle_kind(0) != protocol::wire::HandleKind_Module || mod == nullptr) {
      return CUDA_ERROR_INVALID_HANDLE;
    }
    f.device = modules_.module_device(owner, current_);
    if (CUresult st = drv_.cuModuleGetFunction(&f.fn, mod, name.c_str()); st != CUDA_SUCCESS) {
      return st;
    }
  }
  for (uint32_t i = 0; i < 4096; ++i) {
    size_t off = 0, size = 0;
    if (drv_.cuFuncGetParamInfo(f.fn, i, &off, &size) != CUDA_SUCCESS) break;
    f.offsets.push_back(static_cast<uint32_t>(off));
    f.sizes.push_back(static_cast<uint32_t>(size));
    f.param_bytes = std::max<uint32_t>(f.param_bytes, static_cast<uint32_t>(off + size));
  }
  c.results.push_back(f.offsets.size());
  for (size_t i = 0; i < f.offsets.size(); ++i) {
    c.results.push_back(f.offsets[i]);
    c.results.push_back(f.sizes[i]);
  }
  c.results.push_back(f.param_bytes);
  // A function the backend cannot describe (the emulator's kernel it cannot lower: its layout
  // and attributes fail) is answered with no parameters and 0 threads per block; the shim sends
  // its launches synchronously so the backend refuses them as it does directly (client-shim
  // launch.cc, docs/architecture.md "A kernel the backend cannot run").
  int max_threads = 0, max_dyn = 0;
  drv_.cuFuncGetAttribute(&max_threads, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, f.fn);
  drv_.cuFuncGetAttribute(&max_dyn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, f.fn);
  c.results.push_back(static_cast<uint64_t>(max_threads));
  c.results.push_back(static_cast<uint64_t>(max_dyn));
  modules_.add_function(id, std::move(f));
  return CUDA_SUCCESS;
}

// `managed`: cuLibraryGetManaged (a library's __managed__ variable), else cuLibraryGetGlobal /
// cuModuleGetGlobal. Either way the range joins the session's globals (copies may use it).
CUresult Worker::op_get_global(Ctx& c, bool library, bool managed) {
  ModuleGetGlobalArgs a;
  LibraryGetGlobalArgs la;
  if (library ? !decode_args(c, la) : !decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const std::string name(library ? la.name : a.name);  // the row's inline text
  CUdeviceptr p = 0;
  size_t bytes = 0;
  CUresult st;
  if (library) {
    const CUlibrary lib = modules_.library(c.handle_id(0));
    if (c.handle_kind(0) != protocol::wire::HandleKind_Library || lib == nullptr) {
      return CUDA_ERROR_INVALID_HANDLE;
    }
    st = managed ? drv_.cuLibraryGetManaged(&p, &bytes, lib, name.c_str())
                 : drv_.cuLibraryGetGlobal(&p, &bytes, lib, name.c_str());
  } else {
    const CUmodule mod = modules_.module(c.handle_id(0));
    if (c.handle_kind(0) != protocol::wire::HandleKind_Module || mod == nullptr) {
      return CUDA_ERROR_INVALID_HANDLE;
    }
    st = drv_.cuModuleGetGlobal_v2(&p, &bytes, mod, name.c_str());
  }
  if (st != CUDA_SUCCESS) return st;
  allocs_.add_global(p, bytes, current_);
  c.results = {p, bytes};
  return CUDA_SUCCESS;
}

Worker::Function* Worker::function_of(const Ctx& c, size_t i) {
  const HandleKind k = c.handle_kind(i);
  if (k != protocol::wire::HandleKind_Function && k != protocol::wire::HandleKind_Kernel) return nullptr;
  return modules_.function(c.handle_id(i));
}

CUresult Worker::op_func_attribute(Ctx& c, bool set) {
  FuncSetAttributeArgs a;
  FuncGetAttributeArgs ga;
  if (set ? !decode_args(c, a) : !decode_args(c, ga)) return CUDA_ERROR_INVALID_VALUE;
  Function* f = function_of(c, 0);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const auto attr = static_cast<CUfunction_attribute>(set ? a.attribute : ga.attribute);
  if (set) return drv_.cuFuncSetAttribute(f->fn, attr, static_cast<int>(a.value));
  int v = 0;
  const CUresult st = drv_.cuFuncGetAttribute(&v, attr, f->fn);
  c.results = {static_cast<uint64_t>(static_cast<int64_t>(v))};
  return st;
}

CUresult Worker::op_launch(Ctx& c) {
  LaunchKernelArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  const uint64_t dims[7] = {a.gx, a.gy, a.gz, a.bx, a.by, a.bz, a.shared_bytes};
  return launch_common(c, dims, a.cooperative != 0, a.params, {});
}

CUresult Worker::launch_common(Ctx& c, const uint64_t (&dims)[7], bool cooperative,
                               std::span<const std::byte> params_in, std::span<const CUlaunchAttribute> attrs) {
  struct {
    uint64_t gx, gy, gz, bx, by, bz, shared_bytes;
  } a{dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6]};
  Function* f = function_of(c, 0);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  CUstream stream = nullptr;
  if (CUresult st = stream_of(c, 1, stream); st != CUDA_SUCCESS) return st;
  // The function's layout gives the buffer's size (the row bounds it at the driver's 32764 bytes).
  const size_t have = params_in.size();
  if (have != f->param_bytes) return CUDA_ERROR_INVALID_VALUE;
  // Copy into an aligned buffer: the inline bytes are only byte-aligned in the frame.
  std::vector<uint64_t> buf((have + 7) / 8 + 1);
  if (have != 0) std::memcpy(buf.data(), params_in.data(), have);
  std::vector<void*> params(f->offsets.size());
  for (size_t i = 0; i < params.size(); ++i) {
    params[i] = reinterpret_cast<char*>(buf.data()) + f->offsets[i];
  }
  auto u = [](uint64_t v) { return static_cast<unsigned>(v); };
  // A created stream carries its device: launch there (the function must be of that device,
  // as the driver requires); the NULL stream means the current device.
  const size_t device = device_of(stream);
  DeviceScope scope(*this, device);
  if (scope.status != CUDA_SUCCESS) return scope.status;
  auto launch = [&] {
    if (!attrs.empty()) {  // cuLaunchKernelEx (worker_graph_attr.cc checked the list)
      CUlaunchConfig cfg{};
      cfg.gridDimX = u(a.gx);
      cfg.gridDimY = u(a.gy);
      cfg.gridDimZ = u(a.gz);
      cfg.blockDimX = u(a.bx);
      cfg.blockDimY = u(a.by);
      cfg.blockDimZ = u(a.bz);
      cfg.sharedMemBytes = u(a.shared_bytes);
      cfg.hStream = stream;
      cfg.attrs = const_cast<CUlaunchAttribute*>(attrs.data());
      cfg.numAttrs = static_cast<unsigned>(attrs.size());
      return drv_.cuLaunchKernelEx(&cfg, f->fn, params.data(), nullptr);
    }
    if (cooperative) {
      return drv_.cuLaunchCooperativeKernel(f->fn, u(a.gx), u(a.gy), u(a.gz), u(a.bx), u(a.by), u(a.bz),
                                            u(a.shared_bytes), stream, params.data());
    }
    return drv_.cuLaunchKernel(f->fn, u(a.gx), u(a.gy), u(a.gz), u(a.bx), u(a.by), u(a.bz), u(a.shared_bytes),
                               stream, params.data(), nullptr);
  };
  const int physical = devices_.empty() ? 0 : devices_[device].physical;
  if (meter_.holding() && meter_.device() != static_cast<size_t>(physical)) settle_turn();
  if (!meter_.enabled()) return launch();
  // A launch into a stream capture is recorded, not run: nothing to meter, and the meter's
  // timing events must not be captured with it.
  CUstreamCaptureStatus capturing = CU_STREAM_CAPTURE_STATUS_NONE;
  if (drv_.cuStreamIsCapturing(stream, &capturing) != CUDA_SUCCESS || capturing != CU_STREAM_CAPTURE_STATUS_NONE) {
    return launch();
  }
  if (!meter_.begin(static_cast<size_t>(physical), stream)) return launch();
  // Metering (launch_meter.h): the launch is enqueued inside this worker's turn; the turn is
  // settled (waited for, charged, given back) when its batch is full, before any other call
  // and before the worker waits for the client. An error found then is this launch's or the
  // turn's last launch's sticky error.
  turn_seq_ = c.call->seq();
  CUresult st = launch();
  const CUresult done = meter_.end(stream, st);
  if (st == CUDA_SUCCESS) st = done;
  return st;
}

CUresult Worker::op_occupancy(Ctx& c) {
  OccupancyMaxActiveBlocksArgs a;
  if (!decode_args(c, a)) return CUDA_ERROR_INVALID_VALUE;
  Function* f = function_of(c, 0);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  int blocks = 0;
  const CUresult st = drv_.cuOccupancyMaxActiveBlocksPerMultiprocessorWithFlags(
      &blocks, f->fn, static_cast<int>(a.block_size), a.dynamic_smem, static_cast<unsigned>(a.flags));
  c.results = {static_cast<uint64_t>(blocks)};
  return st;
}

}  // namespace gpool::server
