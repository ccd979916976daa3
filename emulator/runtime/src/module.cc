// Module loading (image -> PTX -> exec::Program, globals in device memory)
// and the cuModule* entry points.
#include "module.h"

#include "alloc_table.h"
#include "refusal.h"

#include "gpool/emu/loader/image.h"
#include "gpool/emu/ptx/link.h"
#include "gpool/emu/ptx/parse_cache.h"
#include "gpool/emu/ptx/parser.h"

#include <cstdlib>
#include <mutex>
#include <algorithm>
#include <cstring>
#include <string_view>
#include <ctime>
#include <set>

namespace gpool::emu::rt {
namespace {

// CPU time of the calling thread in ms (the load's phases, for the debug log).
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Places every module global in device memory, writes its initial bytes and
// relocations, and binds it in the program.
CUresult place_globals(Module* m) {
  const auto& globals = m->program->globals();
  for (const auto& g : globals) {
    if (g.is_extern) continue;
    uint64_t addr = 0;
    CUresult r = device_alloc(m->ctx, m->device, g.size == 0 ? 1 : g.size, AllocKind::Device, 0, nullptr, true, &addr);
    if (r != CUDA_SUCCESS) return r;
    m->global_allocs.push_back(addr);
    const size_t n = std::min<size_t>(g.init.size(), g.size);
    if (n > 0) std::memcpy(reinterpret_cast<void*>(addr), g.init.data(), n);
    m->globals[g.name] = GlobalSym{addr, g.size, g.is_managed};
  }
  for (const auto& g : globals) {
    auto self = m->globals.find(g.name);
    if (self == m->globals.end()) continue;
    for (const auto& rel : g.relocs) {
      auto target = m->globals.find(rel.symbol);
      uint64_t target_addr = 0;
      if (target != m->globals.end()) {
        target_addr = target->second.addr;
      } else if (!m->program->function_address(rel.symbol, &target_addr)) {  // a device function pointer
        log().warn("module global {}: initializer refers to {}, which is not a module variable or function; left as 0",
                   g.name, rel.symbol);
        continue;
      }
      const uint64_t value = target_addr + static_cast<uint64_t>(rel.addend);
      if (rel.offset + rel.width > self->second.size) continue;
      auto* dst = reinterpret_cast<unsigned char*>(self->second.addr + rel.offset);
      if (rel.width == 4) {
        const auto v32 = static_cast<uint32_t>(value);
        std::memcpy(dst, &v32, 4);
      } else {
        std::memcpy(dst, &value, 8);
      }
    }
    m->program->bind_global(g.name, self->second.addr);
  }
  return CUDA_SUCCESS;
}

// True when `m` defines one of the __cudaCDP2* device runtime functions (it is
// libcudadevrt's unit).
bool defines_device_runtime(const ptx::Module& m) {
  for (const auto& f : m.functions)
    if (!f.is_extern && !f.body.empty() && f.name.starts_with("__cudaCDP2")) return true;
  return false;
}

}  // namespace

namespace {

// Registers ptxas would be told to stay under by an entry's own options ("-maxrregcount=N",
// which gpool's cuLinkComplete output carries for CU_JIT_MAX_REGISTERS given to the link).
uint32_t entry_max_registers(const std::string& options) {
  static constexpr std::string_view kKey = "-maxrregcount=";
  const size_t p = options.find(kKey);
  if (p == std::string::npos) return 0;
  return static_cast<uint32_t>(std::strtoul(options.c_str() + p + kKey.size(), nullptr, 10));
}

// "sm_120 SASS, compute_121 PTX": the targets an image holds, for the log.
std::string held_targets(const loader::Image& img) {
  std::set<std::string> sass, ptx;
  for (const auto& c : img.cubins) sass.insert(loader::target_name("sm_", c.sm, c.variant));
  for (const auto& e : img.ptx) ptx.insert(loader::target_name("compute_", e.arch, e.variant));
  auto join = [](const std::set<std::string>& v) {
    std::string s;
    for (const auto& t : v) s += (s.empty() ? "" : " ") + t;
    return s;
  };
  std::string out = sass.empty() ? std::string("no SASS") : join(sass) + " SASS";
  return out + ", " + (ptx.empty() ? std::string("no PTX") : join(ptx) + " PTX");
}

// The kernels an image's cubins define, each once.
std::vector<std::string> cubin_kernels(const loader::Image& img) {
  std::set<std::string> names;
  for (const auto& c : img.cubins)
    for (const auto& k : c.kernels) names.insert(k.name);
  return {names.begin(), names.end()};
}

// Logs a load failure and copies it into the JIT error log.
void load_error(JitOptions* jit, const std::string& what) {
  log().error("module load failed: {}", what);
  if (jit != nullptr) jit->error += "gpool emulator: " + what + "\n";
}

}  // namespace

CUresult module_load(const void* image, size_t max_size, Context* ctx, int dev, Module** out, JitOptions* jit) {
  if (image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Device* d = device(dev);
  if (d == nullptr) return CUDA_ERROR_INVALID_DEVICE;
  const double t_start = thread_cpu_ms();
  loader::Image img;
  std::string err;
  if (!loader::parse_image(image, &img, &err, max_size)) {
    load_error(jit, "the image is not a fatbin, cubin or PTX text: " + err);
    return CUDA_ERROR_INVALID_IMAGE;
  }
  uint32_t sm = static_cast<uint32_t>(d->prof.cc_major * 10 + d->prof.cc_minor);
  if (jit != nullptr && jit->target_sm != 0) sm = std::min(sm, jit->target_sm);
  // One PTX per compilation unit: several (-rdc=true images, linked images) are linked here.
  const std::vector<const loader::PtxEntry*> units = loader::select_ptx_units(img, sm);
  if (units.empty()) {
    load_error(jit, loader::no_ptx_message(img, sm));
    // A real device of this capability would run the image's SASS: a library load (ctx nullptr, what
    // cudart does at a launch) refused for that reason makes the context unusable (refusal.h).
    if (ctx == nullptr && loader::holds_device_sass(img, sm)) return refuse_library_load(dev, held_targets(img), cubin_kernels(img));
    return CUDA_ERROR_NO_BINARY_FOR_GPU;
  }
  const double t_image = thread_cpu_ms();
  size_t ptx_bytes = 0;
  for (const auto* u : units) ptx_bytes += u->text.size();
  ptx::Module mod;
  uint32_t ptx_arch = 0, entry_cap = 0;
  std::vector<ptx::Module> parsed(units.size());
  std::vector<bool> devrt(units.size(), false);
  for (size_t i = 0; i < units.size(); ++i) {
    if (!ptx::ParseCache::instance().parse(units[i]->text, &parsed[i], &err)) {
      load_error(jit, "PTX (compute_" + std::to_string(units[i]->arch) + (units.size() > 1 ? ", unit " + std::to_string(i) : std::string()) +
                          ") does not parse: " + err);
      return CUDA_ERROR_INVALID_PTX;
    }
    // libcudadevrt's unit (-lcudadevrt, dynamic parallelism) defines the
    // __cudaCDP2* device runtime functions the executor provides as builtins:
    // it is left out. Its PTX targets compute_121, so it is only selected on
    // devices of compute capability 12.1 and later.
    if (units.size() > 1 && defines_device_runtime(parsed[i])) {
      log().debug("module load: leaving out compilation unit {} (libcudadevrt's device runtime)", i);
      devrt[i] = true;
      continue;
    }
    ptx_arch = std::max(ptx_arch, units[i]->arch);
    if (const uint32_t c = entry_max_registers(units[i]->options); c != 0) entry_cap = entry_cap ? std::min(entry_cap, c) : c;
  }
  for (size_t i = units.size(); i-- > 0;)
    if (devrt[i]) parsed.erase(parsed.begin() + static_cast<std::ptrdiff_t>(i));
  if (parsed.size() == 1) {
    mod = std::move(parsed[0]);
  } else if (!ptx::link(std::move(parsed), &mod, &err)) {
    load_error(jit, "linking " + std::to_string(units.size()) + " compilation units: " + err);
    return CUDA_ERROR_INVALID_PTX;
  }
  const double t_parse = thread_cpu_ms();
  // The target is read before the AST moves into the program.
  const std::string mod_target = mod.target;
  auto program = exec::Program::build_lazy(std::make_shared<const ptx::Module>(std::move(mod)), &err);
  const double t_lower = thread_cpu_ms();
  if (!program) {
    load_error(jit, "the emulator cannot run this PTX: " + err);
    return CUDA_ERROR_INVALID_PTX;
  }
  auto m = std::make_unique<Module>();
  m->ctx = ctx;
  m->device = dev;
  m->program = std::move(program);
  // PTX_VERSION is the virtual architecture the PTX targets (75 for .target
  // sm_75 / compute_75), not the ISA version: CUB picks its tuning policy and
  // checks it was compiled for it from this value (cudaErrorInvalidDeviceFunction otherwise).
  m->ptx_version = static_cast<int>(ptx_arch);
  if (mod_target.rfind("sm_", 0) == 0) {
    const int t = std::atoi(mod_target.c_str() + 3);
    if (t > 0) m->ptx_version = t;
  }
  m->binary_version = static_cast<int>(sm);
  if (CUresult r = place_globals(m.get()); r != CUDA_SUCCESS) {
    for (uint64_t a : m->global_allocs) device_free(a);
    return r;
  }
  uint32_t cap = jit != nullptr ? jit->register_cap(d->prof.regs_per_block) : 0;
  if (entry_cap != 0) cap = cap ? std::min(cap, std::max<uint32_t>(entry_cap, 16)) : std::max<uint32_t>(entry_cap, 16);
  const auto& kernels = m->program->kernels();
  for (size_t i = 0; i < kernels.size(); ++i) {
    const auto& k = kernels[i];
    auto f = std::make_unique<Function>();
    f->module = m.get();
    f->info = &k;
    f->index = i;
    f->sass_regs = loader::cubin_register_count(img, k.name, sm);
    f->reg_cap = cap;
    registry().add(f.get());
    m->functions.push_back(std::move(f));
  }
  // The JIT log's per-kernel lines need every kernel's layout: a verbose load lowers them all.
  if (jit != nullptr && jit->verbose) {
    for (auto& f : m->functions) {
      if (function_ready(f.get()) != CUDA_SUCCESS) continue;
      const auto& k = *f->info;
      jit->info += "gpool emulator: kernel " + k.name + ": " + std::to_string(f->num_regs) + " registers, " +
                   std::to_string(k.static_shared_bytes) + " bytes static shared, " + std::to_string(k.local_bytes) +
                   " bytes local\n";
    }
  }
  log().debug("module load: {} PTX bytes, {} kernels; CPU ms: image {:.2f}, parse {:.2f}, program {:.2f}, rest {:.2f}",
              ptx_bytes, m->functions.size(), t_image - t_start, t_parse - t_image, t_lower - t_parse,
              thread_cpu_ms() - t_lower);
  Module* raw = m.release();
  registry().add(raw);
  if (ctx != nullptr) {
    std::lock_guard lock(ctx->mu);
    ctx->modules.insert(raw);
  }
  *out = raw;
  return CUDA_SUCCESS;
}

void module_destroy(Module* m) {
  registry().remove(m);
  for (auto& f : m->functions) registry().remove(f.get());
  for (uint64_t a : m->global_allocs) device_free(a);
  delete m;
}

void context_release_modules(Context* ctx) {
  std::set<Module*> mods;
  {
    std::lock_guard lock(ctx->mu);
    mods.swap(ctx->modules);
  }
  for (Module* m : mods) module_destroy(m);
}

Function* find_function(const void* handle) { return lookup<Function>(handle); }

CUresult function_ready(Function* f) {
  if (f->ready.load(std::memory_order_acquire)) return CUDA_SUCCESS;
  std::string err;
  // One lowering at a time in the process (lowering is rare: once per kernel used); the fields
  // below are written here only, before `ready` publishes them.
  static std::mutex mu;
  std::lock_guard lock(mu);
  if (f->ready.load(std::memory_order_acquire)) return CUDA_SUCCESS;
  if (!f->module->program->prepare(f->index, &err)) {
    if (!f->refused) log().error("kernel {}: the emulator cannot run this PTX: {}", f->info->name, err);
    f->refused = true;  // logged once; every use fails the same way
    return CUDA_ERROR_INVALID_PTX;
  }
  const exec::KernelInfo& k = *f->info;
  uint32_t regs = f->sass_regs != 0 ? f->sass_regs : k.num_regs;
  if (f->reg_cap != 0) regs = std::min(regs, f->reg_cap);
  f->num_regs = static_cast<int>(regs);
  log().debug("kernel {}: {} registers per thread ({}{})", k.name, f->num_regs,
              f->sass_regs != 0 ? "from the cubin" : "estimated from PTX liveness", f->reg_cap ? ", JIT-capped" : "");
  f->ready.store(true, std::memory_order_release);
  return CUDA_SUCCESS;
}

Function* find_ready_function(const void* handle, CUresult* err) {
  Function* f = find_function(handle);
  if (f == nullptr) {
    *err = CUDA_ERROR_INVALID_HANDLE;
    return nullptr;
  }
  if (CUresult r = function_ready(f); r != CUDA_SUCCESS) {
    *err = r;
    return nullptr;
  }
  *err = CUDA_SUCCESS;
  return f;
}

}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

namespace {

CUresult load_into_current(CUmodule* out, const void* image, size_t max_size, JitOptions* jit = nullptr) {
  if (out == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  Module* m = nullptr;
  CUresult r = module_load(image, max_size, ctx, ctx->dev->ordinal, &m, jit);
  if (r == CUDA_SUCCESS) *out = reinterpret_cast<CUmodule>(m);
  return r;
}

}  // namespace

extern "C" CUresult gpool_impl_cuModuleLoad(CUmodule* module, const char* fname) {
  if (module == nullptr || fname == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::vector<uint8_t> bytes;
  std::string err;
  if (!gpool::emu::loader::load_file(fname, &bytes, &err)) {
    log().error("cuModuleLoad: {}", err);
    return CUDA_ERROR_FILE_NOT_FOUND;
  }
  bytes.push_back(0);  // PTX text must be NUL-terminated
  return load_into_current(module, bytes.data(), bytes.size());
}

extern "C" CUresult gpool_impl_cuModuleLoadData(CUmodule* module, const void* image) {
  return load_into_current(module, image, SIZE_MAX);
}

extern "C" CUresult gpool_impl_cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned int numOptions,
                                                  CUjit_option* options, void** optionValues) {
  JitOptions jit;
  if (CUresult r = jit_parse(numOptions, options, optionValues, &jit, "cuModuleLoadDataEx"); r != CUDA_SUCCESS) {
    return r;
  }
  const CUresult r = load_into_current(module, image, SIZE_MAX, &jit);
  jit_finish(jit, optionValues);
  return r;
}

extern "C" CUresult gpool_impl_cuModuleLoadFatBinary(CUmodule* module, const void* fatCubin) {
  return load_into_current(module, fatCubin, SIZE_MAX);
}

extern "C" CUresult gpool_impl_cuModuleUnload(CUmodule hmod) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Module* m = lookup<Module>(hmod);
  if (m == nullptr || m->ctx == nullptr) return CUDA_ERROR_INVALID_HANDLE;  // library modules go with the library
  Context* ctx = m->ctx;
  {
    std::lock_guard lock(ctx->mu);
    if (ctx->modules.erase(m) == 0) return CUDA_ERROR_INVALID_HANDLE;
  }
  context_wait_idle(ctx);  // kernels of this module may still be running
  module_destroy(m);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleGetFunction(CUfunction* hfunc, CUmodule hmod, const char* name) {
  if (hfunc == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Module* m = lookup<Module>(hmod);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  for (auto& f : m->functions) {
    if (f->info->name == name) {
      *hfunc = reinterpret_cast<CUfunction>(f.get());
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_NOT_FOUND;
}

extern "C" CUresult gpool_impl_cuModuleGetGlobal_v2(CUdeviceptr* dptr, size_t* bytes, CUmodule hmod, const char* name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Module* m = lookup<Module>(hmod);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto it = m->globals.find(std::string_view(name));
  if (it == m->globals.end()) return CUDA_ERROR_NOT_FOUND;
  if (dptr != nullptr) *dptr = it->second.addr;
  if (bytes != nullptr) *bytes = it->second.size;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleGetFunctionCount(unsigned int* count, CUmodule mod) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Module* m = lookup<Module>(mod);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *count = static_cast<unsigned>(m->functions.size());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuModuleEnumerateFunctions(CUfunction* functions, unsigned int numFunctions,
                                                          CUmodule mod) {
  if (functions == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Module* m = lookup<Module>(mod);
  if (m == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const size_t n = std::min<size_t>(numFunctions, m->functions.size());
  for (size_t i = 0; i < n; ++i) functions[i] = reinterpret_cast<CUfunction>(m->functions[i].get());
  return CUDA_SUCCESS;
}
