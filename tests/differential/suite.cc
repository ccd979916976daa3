#include "suite.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace diff {
namespace {

std::FILE* g_record = nullptr;
std::map<std::string, int> g_seen;  // "test|what" -> occurrences so far (repeated call texts)

std::string current_test() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  return info ? std::string(info->test_suite_name()) + "." + info->name() : "(none)";
}

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

void write_line(const char* what, const std::string& fields) {
  if (g_record == nullptr) return;
  const std::string test = current_test();
  const int n = g_seen[test + "|" + what]++;
  std::fprintf(g_record, "{\"backend\": \"%s\", \"test\": \"%s\", \"what\": \"%s#%d\", %s}\n",
               json_escape(backend()).c_str(), json_escape(test).c_str(), json_escape(what).c_str(), n,
               fields.c_str());
  std::fflush(g_record);
}

std::string exe_dir() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  return path.substr(0, path.rfind('/'));
}

}  // namespace

const std::string& backend() {
  static std::string name = [] {
    const char* v = std::getenv("GPOOL_DIFF_BACKEND");
    return std::string(v ? v : "emulator");
  }();
  return name;
}

std::string& unavailable_reason() {
  static std::string reason;
  return reason;
}

void open_record() {
  const char* path = std::getenv("GPOOL_DIFF_RECORD");
  if (path == nullptr || *path == '\0') return;
  g_record = std::fopen(path, "w");
  if (g_record == nullptr) {
    std::fprintf(stderr, "differential: cannot write the observation log %s; set GPOOL_DIFF_RECORD "
                 "to a writable file\n", path);
    std::exit(2);
  }
}

Check check_result(const char* what, CUresult got, CUresult expected) {
  write_line(what, "\"result\": \"" + json_escape(api().error_name(got)) + "\"");
  if (got == expected) return {true, {}};
  return {false, std::string(what) + " returned " + api().error_name(got) + ", expected " + api().error_name(expected) +
                     " (backend " + backend() + ") "};
}

Check check_value(const char* what, long long got, long long expected) {
  write_line(what, "\"result\": \"value\", \"value\": " + std::to_string(got));
  if (got == expected) return {true, {}};
  return {false, std::string(what) + " is " + std::to_string(got) + ", expected " + std::to_string(expected) +
                     " (backend " + backend() + ") "};
}

void record_machine(const char* what, long long value) {
  write_line(what, "\"result\": \"machine\", \"value\": " + std::to_string(value));
}

CUcontext primary_context() {
  static CUcontext ctx = nullptr;
  if (ctx == nullptr) {
    CUdevice dev = 0;
    if (api().cuDeviceGet(&dev, 0) == CUDA_SUCCESS) api().cuDevicePrimaryCtxRetain(&ctx, dev);
  }
  return ctx;
}

void DiffTest::SetUp() {
  if (!unavailable_reason().empty()) GTEST_SKIP() << unavailable_reason();
  // GPOOL_DIFF_RUN_KNOWN=1 runs them anyway: to see whether an entry can be removed.
  if (const char* why = known_difference(); why != nullptr && std::getenv("GPOOL_DIFF_RUN_KNOWN") == nullptr) {
    GTEST_SKIP() << "known difference on backend " << backend() << ": " << why;
  }
  ASSERT_EQ(CUDA_SUCCESS, api().cuDeviceGet(&dev_, 0));
  ctx_ = primary_context();
  ASSERT_NE(nullptr, ctx_) << "cuDevicePrimaryCtxRetain failed";
  ASSERT_EQ(CUDA_SUCCESS, api().cuCtxSetCurrent(ctx_));
}

void DiffTest::TearDown() {
  if (ctx_ == nullptr) return;
  api().cuCtxSetCurrent(ctx_);
  const CUresult r = api().cuCtxSynchronize();
  EXPECT_EQ(CUDA_SUCCESS, r) << "the context is unhealthy after the test: " << api().error_name(r);
}

std::string kernel_text(const char* file) {
  std::ifstream in(exe_dir() + "/kernels/" + file);
  std::stringstream text;
  text << in.rdbuf();
  return in ? text.str() : std::string();
}

CUmodule DiffTest::load_ptx(const char* file) {
  const std::string ptx = kernel_text(file);
  CUmodule mod = nullptr;
  if (ptx.empty()) {
    ADD_FAILURE() << "cannot read " << exe_dir() << "/kernels/" << file
                  << " (the build copies tests/differential/kernels there)";
    return nullptr;
  }
  const std::string path = exe_dir() + "/kernels/" + file;
  const CUresult r = api().cuModuleLoadData(&mod, ptx.c_str());
  EXPECT_TRUE(check_result("cuModuleLoadData(kernels)", r, CUDA_SUCCESS).ok) << "loading " << path;
  return r == CUDA_SUCCESS ? mod : nullptr;
}

CUfunction DiffTest::function(CUmodule module, const char* name) {
  CUfunction f = nullptr;
  if (module == nullptr) return nullptr;
  const CUresult r = api().cuModuleGetFunction(&f, module, name);
  EXPECT_TRUE(check_result("cuModuleGetFunction(kernel)", r, CUDA_SUCCESS).ok) << name << ": " << api().error_name(r);
  return f;
}

}  // namespace diff
