// cudaGraphSetConditional as the executor lowers it (src/graph_cond_ops.cc): the value reaches the
// handle's cell; lanes store in order (the highest active lane wins); a guarded call is skipped by
// the lanes whose guard fails; a handle with no cell faults the launch naming it.
#include "exec_test_util.h"
#include "gpool/emu/exec/graph_cond.h"

namespace gpool::emu::exec::test {
namespace {

// set_value(u64 handle, u32 limit): lanes with tid < limit call cudaGraphSetConditional(handle, tid + 100).
const char* kSet = R"(
.extern .func cudaGraphSetConditional
(
    .param .b64 cudaGraphSetConditional_param_0,
    .param .b32 cudaGraphSetConditional_param_1
)
;
.visible .entry set_value(.param .u64 h, .param .u32 limit)
{
    .reg .pred %p<2>;
    .reg .b32 %r<4>;
    .reg .b64 %rd<2>;
    ld.param.u64 %rd1, [h];
    ld.param.u32 %r1, [limit];
    mov.u32 %r2, %tid.x;
    add.u32 %r3, %r2, 100;
    setp.lt.u32 %p1, %r2, %r1;
    {
    .param .b64 param0;
    st.param.b64 [param0+0], %rd1;
    .param .b32 param1;
    st.param.b32 [param1+0], %r3;
    @%p1 call.uni cudaGraphSetConditional, (param0, param1);
    }
    ret;
}
)";

TEST(ExecGraphCond, SetConditionalStoresTheHighestActiveLanesValue) {
  std::string err;
  auto p = build_ptx(ptx_module(kSet), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  const uint64_t h = cond_cell_create(7);
  uint32_t v = 0;
  ASSERT_TRUE(cond_cell_get(h, &v));
  EXPECT_EQ(v, 7u);
  auto r = run(*p, "set_value", Launch{}, {h, 5u}, mem);
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  ASSERT_TRUE(cond_cell_get(h, &v));
  EXPECT_EQ(v, 104u);  // lanes 0..4 called; lane 4 last
  r = run(*p, "set_value", Launch{}, {h, 0u}, mem);  // no lane passes the guard
  ASSERT_EQ(r.status, LaunchStatus::Ok) << r.message;
  ASSERT_TRUE(cond_cell_get(h, &v));
  EXPECT_EQ(v, 104u);
  cond_cell_destroy(h);
  EXPECT_FALSE(cond_cell_get(h, &v));
}

TEST(ExecGraphCond, UnknownHandleFaultsNamingIt) {
  std::string err;
  auto p = build_ptx(ptx_module(kSet), &err);
  ASSERT_TRUE(p) << err;
  HostMemory mem;
  const uint64_t h = cond_cell_create(0);
  cond_cell_destroy(h);  // stale: never reused
  auto r = run(*p, "set_value", Launch{}, {h, 32u}, mem);
  EXPECT_EQ(r.status, LaunchStatus::Trap);
  EXPECT_NE(r.message.find("cudaGraphSetConditional"), std::string::npos) << r.message;
  uint32_t v = 0;
  EXPECT_FALSE(cond_cell_get(h, &v)) << "a stale handle gets no cell back";
}

}  // namespace
}  // namespace gpool::emu::exec::test
