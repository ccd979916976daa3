// Refused code that a real GPU would run: sticky errors instead of silent wrong results
// (refusal.h).
#include "refusal.h"

#include "module.h"

namespace gpool::emu::rt {
namespace {

// "a, b, c, d and 4 more": the first few names of a list, for a log line.
std::string some_names(const std::vector<std::string>& names) {
  constexpr size_t kShown = 4;
  std::string s;
  for (size_t i = 0; i < names.size() && i < kShown; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > kShown) s += " and " + std::to_string(names.size() - kShown) + " more";
  return s.empty() ? std::string("(none named in its cubins)") : s;
}

}  // namespace

CUresult refuse_launch(Context* ctx, Function* f) {
  std::string why;
  if (f->module->program->prepare(f->index, &why)) why = "lowering failed";  // the program keeps the reason
  log().error("kernel {}: launch refused, the emulator cannot run its PTX ({}); a real GPU would run it, so the "
              "context is now unusable (CUDA_ERROR_INVALID_PTX), as after a launch fault",
              f->info->name, why);
  set_sticky(ctx, CUDA_ERROR_INVALID_PTX);
  return CUDA_ERROR_INVALID_PTX;
}

CUresult refuse_library_load(int dev, const std::string& image, const std::vector<std::string>& kernels) {
  Context* ctx = current_context();
  if (ctx == nullptr || lookup<Context>(ctx) == nullptr) {
    Device* d = device(dev);
    ctx = d != nullptr ? d->primary : nullptr;
  }
  log().error("library load refused although a real GPU of this capability would run the image ({}; kernels {}): "
              "the context is now unusable (CUDA_ERROR_NO_BINARY_FOR_GPU), so that a CUDA library that ignores the "
              "failed launch cannot return a wrong result. The default device (compute capability 13.0, "
              "GPOOL_EMU_CC unset) runs the CUDA libraries from their PTX",
              image, some_names(kernels));
  if (ctx != nullptr) set_sticky(ctx, CUDA_ERROR_NO_BINARY_FOR_GPU);
  return CUDA_ERROR_NO_BINARY_FOR_GPU;
}

}  // namespace gpool::emu::rt
