// Context-independent loading: cuLibrary* and the cuKernel* handle queries
// that do not concern attributes (those are in function.cc).
#include "module.h"

#include "gpool/emu/loader/image.h"

namespace gpool::emu::rt {
namespace {

// The device whose capability picks the PTX: the current context's, else 0.
int library_device() {
  Context* c = current_context();
  if (c != nullptr && lookup<Context>(c) != nullptr) return c->dev->ordinal;
  return 0;
}

CUresult library_load(CUlibrary* out, const void* image, size_t max_size, unsigned n_jit = 0,
                      CUjit_option* jit_options = nullptr, void** jit_values = nullptr) {
  if (out == nullptr || image == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  JitOptions jit;
  if (CUresult r = jit_parse(n_jit, jit_options, jit_values, &jit, "cuLibraryLoad"); r != CUDA_SUCCESS) return r;
  Module* m = nullptr;
  CUresult r = module_load(image, max_size, nullptr, library_device(), &m, &jit);
  jit_finish(jit, jit_values);
  if (r != CUDA_SUCCESS) return r;
  auto* lib = new Library();
  lib->module = m;
  m->library = lib;
  registry().add(lib);
  *out = reinterpret_cast<CUlibrary>(lib);
  return CUDA_SUCCESS;
}

Library* find_library(CUlibrary h) { return lookup<Library>(h); }

}  // namespace
}  // namespace gpool::emu::rt

using namespace gpool::emu::rt;

extern "C" CUresult gpool_impl_cuLibraryLoadData(CUlibrary* library, const void* code, CUjit_option* jitOptions,
                                                 void** jitOptionsValues, unsigned int numJitOptions,
                                                 CUlibraryOption* libraryOptions, void** libraryOptionValues,
                                                 unsigned int numLibraryOptions) {
  if ((numJitOptions > 0 && jitOptions == nullptr) || (numLibraryOptions > 0 && libraryOptions == nullptr)) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  return library_load(library, code, SIZE_MAX, numJitOptions, jitOptions, jitOptionsValues);
}

extern "C" CUresult gpool_impl_cuLibraryLoadFromFile(CUlibrary* library, const char* fileName,
                                                     CUjit_option* jitOptions, void** jitOptionsValues,
                                                     unsigned int numJitOptions, CUlibraryOption* libraryOptions,
                                                     void** libraryOptionValues, unsigned int numLibraryOptions) {
  if (library == nullptr || fileName == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  std::vector<uint8_t> bytes;
  std::string err;
  if (!gpool::emu::loader::load_file(fileName, &bytes, &err)) {
    log().error("cuLibraryLoadFromFile: {}", err);
    return CUDA_ERROR_FILE_NOT_FOUND;
  }
  bytes.push_back(0);
  // The image is parsed and copied into the program during the load; the file bytes may go.
  return library_load(library, bytes.data(), bytes.size(), numJitOptions, jitOptions, jitOptionsValues);
}

extern "C" CUresult gpool_impl_cuLibraryUnload(CUlibrary library) {
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Library* lib = find_library(library);
  if (lib == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  registry().remove(lib);
  // Kernels of the library may be running in any context: wait for all of them.
  for (auto& d : runtime().devices) {
    if (d->primary->primary_refs.load() > 0) context_wait_idle(d->primary);
  }
  Context* cur = current_context();
  if (cur != nullptr && lookup<Context>(cur) != nullptr) context_wait_idle(cur);
  module_destroy(lib->module);
  delete lib;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryGetKernel(CUkernel* pKernel, CUlibrary library, const char* name) {
  if (pKernel == nullptr || name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Library* lib = find_library(library);
  if (lib == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  for (auto& f : lib->module->functions) {
    if (f->info->name == name) {
      *pKernel = reinterpret_cast<CUkernel>(f.get());
      return CUDA_SUCCESS;
    }
  }
  return CUDA_ERROR_NOT_FOUND;
}

extern "C" CUresult gpool_impl_cuLibraryGetModule(CUmodule* pMod, CUlibrary library) {
  if (pMod == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Library* lib = find_library(library);
  if (lib == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *pMod = reinterpret_cast<CUmodule>(lib->module);
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryGetGlobal(CUdeviceptr* dptr, size_t* bytes, CUlibrary library,
                                                  const char* name) {
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Library* lib = find_library(library);
  if (lib == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto it = lib->module->globals.find(std::string_view(name));
  if (it == lib->module->globals.end()) return CUDA_ERROR_NOT_FOUND;
  if (dptr != nullptr) *dptr = it->second.addr;
  if (bytes != nullptr) *bytes = it->second.size;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryGetManaged(CUdeviceptr* dptr, size_t* bytes, CUlibrary library,
                                                   const char* name) {
  // __managed__ variables live in host RAM like every other global here. A global that is not
  // managed is not found, as the driver documents ("no managed memory with the name").
  if (name == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Library* lib = find_library(library);
  if (lib == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  auto it = lib->module->globals.find(std::string_view(name));
  if (it == lib->module->globals.end() || !it->second.managed) return CUDA_ERROR_NOT_FOUND;
  if (dptr != nullptr) *dptr = it->second.addr;
  if (bytes != nullptr) *bytes = it->second.size;
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryGetKernelCount(unsigned int* count, CUlibrary lib) {
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Library* l = find_library(lib);
  if (l == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *count = static_cast<unsigned>(l->module->functions.size());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuLibraryEnumerateKernels(CUkernel* kernels, unsigned int numKernels, CUlibrary lib) {
  if (kernels == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Library* l = find_library(lib);
  if (l == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  const size_t n = std::min<size_t>(numKernels, l->module->functions.size());
  for (size_t i = 0; i < n; ++i) kernels[i] = reinterpret_cast<CUkernel>(l->module->functions[i].get());
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuKernelGetFunction(CUfunction* pFunc, CUkernel kernel) {
  if (pFunc == nullptr) return CUDA_ERROR_INVALID_VALUE;
  Context* ctx = nullptr;
  if (CUresult r = use_context(nullptr, &ctx); r != CUDA_SUCCESS) return r;
  Function* f = find_function(kernel);
  if (f == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *pFunc = reinterpret_cast<CUfunction>(f);  // the kernel handle is its function in every context
  return CUDA_SUCCESS;
}

extern "C" CUresult gpool_impl_cuKernelGetLibrary(CUlibrary* pLib, CUkernel kernel) {
  if (pLib == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (CUresult r = check_init(); r != CUDA_SUCCESS) return r;
  Function* f = find_function(kernel);
  if (f == nullptr || f->module->library == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  *pLib = reinterpret_cast<CUlibrary>(f->module->library);
  return CUDA_SUCCESS;
}
