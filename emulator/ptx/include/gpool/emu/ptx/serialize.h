// A binary form of a parsed PTX module (ast.h), so a parse can be stored and read back (the
// emulator's on-disk kernel cache, docs/emulator.md "Lazy loading and the kernel cache").
//
// The form is private to one build of the emulator: the reader accepts only what this build's
// writer produces (kFormatVersion guards against edits of ast.h; the cache keys entries by the
// emulator's build id as well). deserialize() checks every length and enum value against the
// input, so truncated or corrupt bytes give false with a message, never a crash or a module
// that differs from the one written.
//
// Thread safety: pure functions.
#pragma once

#include "gpool/emu/ptx/ast.h"

#include <string>
#include <string_view>

namespace gpool::emu::ptx {

// Bump on any change to ast.h or to the encoding below.
constexpr uint32_t kFormatVersion = 2;

// Appends the binary form of `m` to *out.
void serialize(const Module& m, std::string* out);

// Reads what serialize() wrote (exactly: trailing bytes are an error). False with *error set
// when the bytes are not such a form.
bool deserialize(std::string_view bytes, Module* out, std::string* error);

}  // namespace gpool::emu::ptx
