#include "driver_fixture.h"

#include <cstdio>
#include <cstdlib>

namespace gpool::abi::test {

void* driver() {
  static void* handle = [] {
    void* h = dlopen(GPOOL_ABI_TEST_DRIVER, RTLD_NOW | RTLD_LOCAL);
    if (h == nullptr) {
      std::fprintf(stderr, "cannot load the test driver %s: %s\n", GPOOL_ABI_TEST_DRIVER,
                   dlerror());
      std::abort();
    }
    return h;
  }();
  return handle;
}

CUresult export_table(const std::string& hex_uuid, const void** table) {
  CUuuid id{};
  for (int i = 0; i < 16; ++i) {
    id.bytes[i] = static_cast<char>(std::stoi(hex_uuid.substr(2 * i, 2), nullptr, 16));
  }
  auto get = entry<CUresult (*)(const void**, const CUuuid*)>("cuGetExportTable");
  return get(table, &id);
}

}  // namespace gpool::abi::test
