// Loads the test libcuda.so.1 (driver-abi + backend/test_backend.cc) once per process and hands
// out its exported entry points. Tests use only exported symbols, as cudart does.
#pragma once

#include <cuda.h>
#include <dlfcn.h>

#include <string>

namespace gpool::abi::test {

// The dlopen handle of the test driver; aborts the test run if it cannot be loaded.
void* driver();

// dlsym(driver(), name) cast to F; nullptr when the symbol is not exported.
template <typename F>
F entry(const char* name) {
  return reinterpret_cast<F>(dlsym(driver(), name));
}

// The driver's cuGetExportTable answer for a UUID given as 32 hex digits (memory order).
CUresult export_table(const std::string& hex_uuid, const void** table);

}  // namespace gpool::abi::test
