// cuSPARSE's SpMMOp: C = epilogue(sum over k of mul_op(A(i,k), B(k,j)) reduced with add_op, C(i,j))
// with the operators supplied as LTO IR, compiled here with NVRTC (-dlto) as cuSPARSE's
// documentation shows. cusparseSpMMOp_createPlan links them into its kernels with nvJitLink.
// The program checks C against the host; every cuSPARSE status must be success.
//
// On the gpool emulator this routine cannot run (docs/emulator.md, "CUDA libraries": the emulator
// takes no LTO IR, and nvJitLink knows no compute_130 for the default device), and it must fail
// loudly: integration.cusparse_spmm_op expects cusparseSpMMOp_createPlan to return a status, never
// a plan whose product is wrong. On a GPU the program is expected to print PASS.
//
// Build: nvcc -o cusparse_spmm_op cusparse_spmm_op.cu -lcusparse -lnvrtc
#include <nvrtc.h>

#include <cmath>
#include <string>
#include <vector>

#include "sparse_check.h"

namespace {

// LTO IR of one __device__ function, for compute_80 (nvJitLink links it into newer targets).
std::vector<char> lto_ir(const char* name, const char* source) {
  nvrtcProgram prog;
  if (nvrtcCreateProgram(&prog, source, name, 0, nullptr, nullptr) != NVRTC_SUCCESS)
    example_fail("nvrtcCreateProgram(%s) failed", name);
  const char* options[] = {"-dlto", "-rdc=true", "-arch=compute_80"};
  if (nvrtcCompileProgram(prog, 3, options) != NVRTC_SUCCESS) {
    size_t n = 0;
    nvrtcGetProgramLogSize(prog, &n);
    std::string log(n, '\0');
    nvrtcGetProgramLog(prog, log.data());
    example_fail("NVRTC cannot compile %s: %s", name, log.c_str());
  }
  size_t size = 0;
  if (nvrtcGetLTOIRSize(prog, &size) != NVRTC_SUCCESS || size == 0) example_fail("no LTO IR for %s", name);
  std::vector<char> ir(size);
  nvrtcGetLTOIR(prog, ir.data());
  nvrtcDestroyProgram(&prog);
  return ir;
}

}  // namespace

int main() {
  // A (4 x 3, CSR, every row stored: what the epilogue sees for an empty row is not documented),
  // B (3 x 2) and C (4 x 2), column-major; a max-plus product with C added in the epilogue:
  // C(i,j) = max over the stored A(i,k) of (A(i,k) + B(k,j)), plus C(i,j).
  const int m = 4, k = 3, n = 2;
  const std::vector<int> offsets = {0, 2, 3, 4, 5}, columns = {0, 2, 1, 0, 1};
  const std::vector<float> values = {1.f, -2.f, 3.f, 0.5f, 4.f};
  const std::vector<float> b = {1.f, 2.f, 3.f, -1.f, 0.f, 5.f};
  std::vector<float> c = {10.f, 20.f, 30.f, 40.f, 50.f, 60.f, 70.f, 80.f};
  std::vector<float> want(c);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      float best = -INFINITY;
      for (int p = offsets[i]; p < offsets[i + 1]; ++p) best = std::fmax(best, values[p] + b[columns[p] + j * k]);
      want[i + j * m] = best + c[i + j * m];
    }

  const std::vector<char> add = lto_ir("add_op", "__device__ float add_op(float a, float b) { return fmaxf(a, b); }");
  const std::vector<char> mul = lto_ir("mul_op", "__device__ float mul_op(float a, float b) { return a + b; }");
  const std::vector<char> epi = lto_ir("epilogue", "__device__ float epilogue(float ab, float c) { return ab + c; }");

  cusparseHandle_t handle;
  CHECK_SPARSE(cusparseCreate(&handle));
  DeviceCsr<float> a(m, k, offsets, columns, values);
  float *db = nullptr, *dc = nullptr;
  CHECK(cudaMalloc(&db, b.size() * sizeof(float)));
  CHECK(cudaMalloc(&dc, c.size() * sizeof(float)));
  CHECK(cudaMemcpy(db, b.data(), b.size() * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dc, c.data(), c.size() * sizeof(float), cudaMemcpyHostToDevice));
  cusparseDnMatDescr_t mb, mc;
  CHECK_SPARSE(cusparseCreateDnMat(&mb, k, n, k, db, CUDA_R_32F, CUSPARSE_ORDER_COL));
  CHECK_SPARSE(cusparseCreateDnMat(&mc, m, n, m, dc, CUDA_R_32F, CUSPARSE_ORDER_COL));
  cusparseSpMMOpPlan_t plan;
  size_t bytes = 0;
  CHECK_SPARSE(cusparseSpMMOp_createPlan(handle, &plan, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                         CUSPARSE_OPERATION_NON_TRANSPOSE, a.descr, mb, mc, CUDA_R_32F,
                                         CUSPARSE_SPMM_OP_ALG_DEFAULT, add.data(), add.size(), mul.data(),
                                         mul.size(), epi.data(), epi.size(), &bytes));
  void* work = nullptr;
  CHECK(cudaMalloc(&work, bytes ? bytes : 1));
  CHECK_SPARSE(cusparseSpMMOp(plan, work));
  CHECK(cudaMemcpy(c.data(), dc, c.size() * sizeof(float), cudaMemcpyDeviceToHost));
  for (int i = 0; i < m * n; ++i)
    if (c[i] != want[i]) example_fail("C[%d] = %g, expected %g", i, c[i], want[i]);
  CHECK_SPARSE(cusparseSpMMOp_destroyPlan(plan));
  cusparseDestroyDnMat(mb);
  cusparseDestroyDnMat(mc);
  cudaFree(work);
  cudaFree(db);
  cudaFree(dc);
  cusparseDestroy(handle);
  return example_pass();
}
