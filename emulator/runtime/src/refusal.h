// Code the emulator refuses although a real GPU of the emulated profile would run it
// (docs/emulator.md, "Refused code fails loudly"). Such a refusal must never end in a wrong
// result: CUDA libraries do not check every launch, and their private cudart reports a refused
// image as the error of the launch that needed it, so a library can return success with its
// output untouched. These refusals therefore make the context unusable, as a launch fault does:
// the call returns its error, the context keeps it as its sticky error (every later call on the
// context returns it until the context is destroyed or reset), and one log line names the image
// or kernel and the reason.
//
//   - A launch (direct, captured into a graph, or of a graph) of a kernel the emulator cannot
//     lower: a real driver would have JIT-compiled the PTX and run it. CUDA_ERROR_INVALID_PTX.
//     Queries of such a kernel (attributes, cuFuncLoad) stay plain, non-sticky errors.
//   - A library load (cuLibraryLoadData/FromFile: how cudart loads every image, lazily, at the
//     first launch of one of its kernels) refused for want of PTX although the image holds SASS a
//     real device of this capability would run. CUDA_ERROR_NO_BINARY_FOR_GPU.
// Not sticky: the same refusal through cuModuleLoad* (the caller asked for that module, gets the
// error and no handle; cuFFT falls back to another image this way on a 12.0 device), and every
// refusal a real driver gives too (no SASS or PTX for the device, PTX that does not parse, a
// corrupt image, a bad JIT option).
//
// Thread safety: both functions may be called from any thread.
#pragma once

#include "context.h"

#include <string>
#include <vector>

namespace gpool::emu::rt {

struct Function;

// A launch of `f`, whose lowering failed: logs the kernel and the reason, sets the sticky
// CUDA_ERROR_INVALID_PTX on `ctx` and returns it.
CUresult refuse_launch(Context* ctx, Function* f);

// A library load for device `dev` refused although the image holds SASS a real device of this
// capability would run: logs `image` (what it holds) and `kernels` (what its cubins define), sets
// the sticky CUDA_ERROR_NO_BINARY_FOR_GPU on the calling thread's current context (else the
// device's primary context) and returns it.
CUresult refuse_library_load(int dev, const std::string& image, const std::vector<std::string>& kernels);

}  // namespace gpool::emu::rt
