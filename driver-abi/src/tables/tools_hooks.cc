// TOOLS_RUNTIME_CALLBACK_HOOKS a094798c2e742e7493f20800200c0a66: 7 entries, slot 0 = 56 (cudart
// checks >= 56), and TOOLS_TLS 42d85a8123f6cb478298f6e78a3aecdc: 4 entries, slot 0 = 32
// (facts 2.2, 2.3).
//
// Hooks slots 2 and 6 hand out zero-filled uint32_t arrays indexed by callback id; a non-zero
// element would mean "a tool subscribed" and make cudart call TOOLS_TLS[2] with records, so the
// arrays stay zero (cudart never writes them). TOOLS_TLS[2] must return 0 and writes nothing.
#include <cstddef>
#include <cstdint>

#include "tables.h"

namespace gpool::abi::tables {
namespace {

constexpr size_t kRuntimeCallbackCount = 1024;  // cudart needs >= 523 (reads up to ~211)
constexpr size_t kDriverCallbackCount = 64;     // cudart needs >= 14

// Static, never freed, never written: cudart reads them for the life of the process.
const uint32_t kRuntimeCallbackFlags[kRuntimeCallbackCount] = {};
const uint32_t kDriverCallbackFlags[kDriverCallbackCount] = {};

void runtime_callback_flags(void** buf, size_t* count) {
  if (buf != nullptr) *buf = const_cast<uint32_t*>(kRuntimeCallbackFlags);
  if (count != nullptr) *count = kRuntimeCallbackCount;
}

void driver_callback_flags(void** buf, size_t* count) {
  if (buf != nullptr) *buf = const_cast<uint32_t*>(kDriverCallbackFlags);
  if (count != nullptr) *count = kDriverCallbackCount;
}

// TOOLS_TLS[2]: (void* record, uintptr_t id, ...). Only "return 0" is established.
int tools_tls_record(void*, uintptr_t) { return 0; }

template <typename F>
const void* fn(F* f) {
  return reinterpret_cast<const void*>(f);
}

const void* const kHooks[7] = {
    reinterpret_cast<const void*>(uintptr_t{7 * sizeof(void*)}),
    fn(stub_return_zero),
    fn(runtime_callback_flags),
    fn(stub_return_zero),
    fn(stub_return_zero),
    fn(stub_return_zero),
    fn(driver_callback_flags),
};

const void* const kToolsTls[4] = {
    reinterpret_cast<const void*>(uintptr_t{4 * sizeof(void*)}),
    fn(stub_return_zero),
    fn(tools_tls_record),
    fn(stub_return_zero),
};

}  // namespace

const void* tools_runtime_callback_hooks() { return kHooks; }
const void* tools_tls() { return kToolsTls; }

}  // namespace gpool::abi::tables
