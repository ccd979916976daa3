// gpool-differential: the differential suite's one test binary.
//
//   gpool-differential --backend=emulator|pool|real --driver=PATH [gtest flags]
//   (or GPOOL_DIFF_BACKEND / GPOOL_DIFF_DRIVER; GPOOL_DIFF_RECORD=FILE logs every observation)
//
// PATH is the libcuda.so.1 under test: the emulator's, the client shim's (with GPOOL_SERVER and
// GPOOL_TOKEN naming a running gpool-server) or NVIDIA's. run_backend.py starts the server for
// the pool backend and picks the library for each. A "real" run on a host without a usable
// driver or device skips every test, printing "no real GPU: <why>"; any other backend that
// cannot load its library fails.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "suite.h"

namespace {

std::string flag(int& argc, char** argv, const char* name) {
  const std::string prefix = std::string("--") + name + "=";
  std::string value;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind(prefix, 0) == 0) {
      value = a.substr(prefix.size());
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  const std::string backend_flag = flag(argc, argv, "backend");
  if (!backend_flag.empty()) ::setenv("GPOOL_DIFF_BACKEND", backend_flag.c_str(), 1);
  std::string driver = flag(argc, argv, "driver");
  if (driver.empty() && std::getenv("GPOOL_DIFF_DRIVER")) driver = std::getenv("GPOOL_DIFF_DRIVER");
  const std::string& backend = diff::backend();
  if (backend != "emulator" && backend != "pool" && backend != "real") {
    std::fprintf(stderr, "gpool-differential: unknown backend '%s'; use emulator, pool or real\n", backend.c_str());
    return 2;
  }
  if (driver.empty()) {
    if (backend != "real") {
      std::fprintf(stderr, "gpool-differential: name the %s's libcuda.so.1 with --driver=PATH\n", backend.c_str());
      return 2;
    }
    driver = "libcuda.so.1";  // the system's driver, found the usual way
  }
  diff::open_record();
  std::string error;
  if (!diff::api().load(driver, error)) {
    if (backend != "real") {
      std::fprintf(stderr, "gpool-differential: %s\n", error.c_str());
      return 1;
    }
    diff::unavailable_reason() = "no real GPU: " + error;
  } else if (const CUresult r = diff::api().cuInit(0); r != CUDA_SUCCESS) {
    if (backend != "real") {
      std::fprintf(stderr, "gpool-differential: cuInit on %s returned %s\n", driver.c_str(),
                   diff::api().error_name(r).c_str());
      return 1;
    }
    diff::unavailable_reason() = "no real GPU: cuInit on " + driver + " returned " + diff::api().error_name(r);
  }
  if (!diff::unavailable_reason().empty()) std::printf("%s\n", diff::unavailable_reason().c_str());
  std::printf("differential suite: backend %s, driver %s\n", backend.c_str(), driver.c_str());
  std::fflush(stdout);
  return RUN_ALL_TESTS();
}
