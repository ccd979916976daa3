// JIT linking (cuLinkCreate / cuLinkAddData / cuLinkComplete / cuLinkDestroy) of two PTX units
// with an extern device function and global, the log buffers, an unresolved extern, and
// cuModuleLoadDataEx with CU_JIT_MAX_REGISTERS.

#include <cstdint>
#include <cstring>
#include <vector>

#include "suite.h"

namespace diff {
namespace {

using JitLinkTest = DiffTest;

void* as_value(uintptr_t v) { return reinterpret_cast<void*>(v); }

TEST_F(JitLinkTest, TwoPtxUnitsWithAnExternFunctionAndGlobal) {
  std::string caller = kernel_text("link_caller.ptx"), callee = kernel_text("link_callee.ptx");
  ASSERT_FALSE(caller.empty());
  ASSERT_FALSE(callee.empty());
  char info[2048] = {}, error[2048] = {};
  CUjit_option opts[] = {CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_ERROR_LOG_BUFFER,
                         CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* vals[] = {info, as_value(sizeof info), error, as_value(sizeof error)};
  CUlinkState state = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLinkCreate(4, opts, vals, &state));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkAddData(state, CU_JIT_INPUT_PTX, caller.data(), caller.size() + 1, "caller",
                                              0, nullptr, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkAddData(state, CU_JIT_INPUT_PTX, callee.data(), callee.size() + 1, "callee",
                                              0, nullptr, nullptr));
  void* image = nullptr;
  size_t size = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuLinkComplete(state, &image, &size));
  EXPECT_SAME_VALUE(1, image != nullptr && size > 0);
  EXPECT_SAME_VALUE(0, error[0]) << error;  // nothing in the error log of a successful link
  record_machine("linked image bytes", static_cast<long long>(size));
  record_machine("info log bytes", static_cast<long long>(reinterpret_cast<uintptr_t>(vals[1])));
  CUmodule mod = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleLoadData(&mod, image));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkDestroy(state));  // the loaded module does not need the image
  CUfunction f = function(mod, "apply_triple");
  ASSERT_NE(nullptr, f);
  constexpr unsigned n = 100;
  CUdeviceptr out = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuMemAlloc(&out, n * 4));
  unsigned count = n;
  void* params[] = {&out, &count};
  EXPECT_CU(CUDA_SUCCESS, api().cuLaunchKernel(f, 1, 1, 1, 128, 1, 1, 0, nullptr, params, nullptr));
  std::vector<unsigned> host(n);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemcpyDtoH(host.data(), out, n * 4));
  EXPECT_SAME_VALUE(7, host[0]);
  EXPECT_SAME_VALUE(3 * 99 + 7, host[99]);
  CUdeviceptr offset = 0;
  size_t bytes = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleGetGlobal(&offset, &bytes, mod, "link_offset"));
  EXPECT_SAME_VALUE(4, bytes);
  EXPECT_CU(CUDA_SUCCESS, api().cuMemFree(out));
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
}

TEST_F(JitLinkTest, UnresolvedExternFailsAtComplete) {
  std::string caller = kernel_text("link_caller.ptx");
  ASSERT_FALSE(caller.empty());
  char error[2048] = {};
  CUjit_option opts[] = {CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void* vals[] = {error, as_value(sizeof error)};
  CUlinkState state = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLinkCreate(2, opts, vals, &state));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkAddData(state, CU_JIT_INPUT_PTX, caller.data(), caller.size() + 1, "caller",
                                              0, nullptr, nullptr));
  void* image = nullptr;
  size_t size = 0;
  const CUresult r = api().cuLinkComplete(state, &image, &size);
  EXPECT_SAME_VALUE(1, r != CUDA_SUCCESS) << "linking an unresolved extern function succeeded";
  record_machine("cuLinkComplete(unresolved) result", r);
  EXPECT_SAME_VALUE(1, std::strstr(error, "triple_plus") != nullptr) << "error log: " << error;
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkDestroy(state));
}

TEST_F(JitLinkTest, BadInputsAreRefused) {
  CUlinkState state = nullptr;
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE, api().cuLinkCreate(0, nullptr, nullptr, nullptr));
  ASSERT_CU(CUDA_SUCCESS, api().cuLinkCreate(0, nullptr, nullptr, &state));
  EXPECT_CU(CUDA_ERROR_INVALID_VALUE,
            api().cuLinkAddData(state, CU_JIT_INPUT_PTX, nullptr, 10, "null", 0, nullptr, nullptr));
  const char* broken = ".version 8.0\n.target sm_75\n.address_size 64\n.visible .entry k( {\n";
  EXPECT_CU(CUDA_ERROR_INVALID_PTX, api().cuLinkAddData(state, CU_JIT_INPUT_PTX, const_cast<char*>(broken),
                                                        std::strlen(broken) + 1, "broken", 0, nullptr, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkDestroy(state));
}

TEST_F(JitLinkTest, MaxRegistersOptionBoundsNumRegs) {
  std::string caller = kernel_text("link_caller.ptx"), callee = kernel_text("link_callee.ptx");
  CUlinkState state = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuLinkCreate(0, nullptr, nullptr, &state));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkAddData(state, CU_JIT_INPUT_PTX, caller.data(), caller.size() + 1, "caller",
                                              0, nullptr, nullptr));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkAddData(state, CU_JIT_INPUT_PTX, callee.data(), callee.size() + 1, "callee",
                                              0, nullptr, nullptr));
  void* image = nullptr;
  size_t size = 0;
  ASSERT_CU(CUDA_SUCCESS, api().cuLinkComplete(state, &image, &size));
  CUjit_option opts[] = {CU_JIT_MAX_REGISTERS};
  void* vals[] = {as_value(16)};
  CUmodule mod = nullptr;
  ASSERT_CU(CUDA_SUCCESS, api().cuModuleLoadDataEx(&mod, image, 1, opts, vals));
  CUfunction f = function(mod, "apply_triple");
  int regs = 0;
  EXPECT_CU(CUDA_SUCCESS, api().cuFuncGetAttribute(&regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
  record_machine("NUM_REGS with CU_JIT_MAX_REGISTERS=16", regs);
  EXPECT_SAME_VALUE(1, regs > 0 && regs <= 16) << regs;
  EXPECT_CU(CUDA_SUCCESS, api().cuModuleUnload(mod));
  EXPECT_CU(CUDA_SUCCESS, api().cuLinkDestroy(state));
}

}  // namespace
}  // namespace diff
