// The lowered program: what Program::build produces and launch() runs.
//
// Owner: exec core. Every kernel is lowered into one flat instruction array; a
// kernel never jumps outside its own array. Device-function calls are inlined
// (the fast path) except recursive and indirect ones: those run as real calls
// to a single copy of the function placed after the kernel's body, with a
// per-thread call stack (calls.cc). Module globals referenced by the code are immediates patched by
// bind_global() (the only mutation after build; it must not race launches).
//
// Thread safety: immutable during launches; launch() only reads it.
#pragma once

#include "engine.h"

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <vector>

namespace gpool::emu::exec {

// Special registers whose value is fixed for a thread during a launch: they
// live in register slots filled when a warp starts.
enum class Sreg : uint8_t {
  TidX, TidY, TidZ, NtidX, NtidY, NtidZ, CtaidX, CtaidY, CtaidZ, NctaidX, NctaidY, NctaidZ,
  LaneId, WarpId, NWarpId, SmId, NSmId, GridId,
  LanemaskEq, LanemaskLe, LanemaskLt, LanemaskGe, LanemaskGt,
  DynSmem, TotalSmem, Zero, One,
};
// Maps "%tid.x" (as written) to its Sreg. False for unknown names and for the
// time registers (%clock, %clock64, %globaltimer*), which mov reads directly.
bool sreg_from_name(const std::string& name, Sreg* out);

// A function that runs as a real call. On entry it pushes everything it may
// overwrite, for each calling lane, onto that lane's call stack: its register
// slots [slot_lo, slot_hi), predicates [pred_lo, pred_hi) and .local bytes
// [local_lo, local_hi) (its parameters, results, .param/.local variables and
// those of the functions inlined into it); returning pops them. Arguments and
// results travel through the kernel's argument and result areas, laid out as
// call_layout() says.
struct CallFrame {
  uint32_t slot_lo = 0, slot_hi = 0;
  uint32_t pred_lo = 0, pred_hi = 0;
  uint64_t local_lo = 0, local_hi = 0;
  uint64_t param_off = 0, param_bytes = 0;  // the parameters, in call layout
  uint64_t ret_off = 0, ret_bytes = 0;      // the results, in call layout
  uint64_t bytes = 0;                       // pushed per lane and call
};

struct LoweredKernel {
  std::vector<LInstr> code;  // ends with an exit
  uint32_t num_slots = 0;    // value registers (slot 0 is the discard slot)
  uint32_t num_preds = 0;
  std::vector<std::pair<uint32_t, Sreg>> sregs;  // slot <- special register
  uint32_t static_shared = 0;  // bytes; dynamic shared starts at dyn_shared_offset
  uint32_t dyn_shared_offset = 0;
  uint32_t local_bytes = 0;    // per thread, a multiple of 16
  std::vector<uint32_t> globals_used;  // indices into globals()

  // Real calls (all empty/0 when the module needs none).
  std::vector<CallFrame> frames;
  std::vector<uint32_t> fn_entry;  // module function index -> entry pc (UINT32_MAX: not in this kernel)
  uint32_t sp_slot = 0;            // per-lane call stack depth in bytes
  uint32_t stack_bytes = 0;        // call stack per thread
  uint64_t arg_area = 0;           // local offsets of the argument and result areas
  uint64_t ret_area = 0;
  // Operands of instructions with more than LInstr holds (LowerContext::add_operands).
  std::vector<LOperand> operand_pool;
};

// Generic address of module function `index` (a device function pointer):
// never a valid data address (see kWindowBase in program.h).
constexpr uint64_t kFunctionWindow = 0xfffc000000000000ull;
// Bytes of argument (and of result) area; calls passing more are refused.
constexpr uint64_t kCallAreaBytes = 256;
// Call stack per thread. Frames hold every register of the function (8 bytes
// each), so they are larger than on a GPU; CU_LIMIT_STACK_SIZE is not used.
constexpr uint32_t kCallStackBytes = 16 * 1024;
// Offset of each value in the argument/result areas: in order, 8-byte aligned.
inline uint64_t call_layout_next(uint64_t end) { return (end + 7) / 8 * 8; }

// Where an instruction immediate must receive a bound global's address.
struct GlobalPatch {
  uint32_t kernel = 0;
  uint32_t instr = 0;
  uint32_t byte_offset = 0;  // of the LOperand inside the LInstr
  int64_t addend = 0;
};

struct LaunchTree;  // block.h

class ProgramImpl final : public Program {
 public:
  const std::vector<KernelInfo>& kernels() const override { return infos_; }
  const std::vector<GlobalVarInfo>& globals() const override { return globals_; }
  void bind_global(std::string_view name, uint64_t device_address) override;
  LaunchResult launch(const KernelInfo& kernel, const LaunchParams& params,
                      const LaunchEnv& env) const override;
  bool function_address(std::string_view name, uint64_t* out) const override;
  bool prepare(size_t index, std::string* error) const override;
  bool prepared(size_t index) const override {
    return index < infos_.size() && state_[index].load(std::memory_order_acquire) == kLowered;
  }

  // Lays out globals and function indices and names every kernel (lower.cc); lowers nothing.
  void init(const ptx::Module& module);
  // Lowers kernel `index` from `module` (lower.cc). Caller holds lower_mu_.
  bool lower_one(const ptx::Module& module, size_t index, std::string* error);

  // Lazy lowering state. state_[i]: kNotLowered, kLowered or kFailed (errors_[i] says why).
  static constexpr uint8_t kNotLowered = 0, kLowered = 1, kFailed = 2;
  std::shared_ptr<const ptx::Module> module_;  // kept while a kernel may still be lowered
  std::unique_ptr<OpTable> table_;
  bool real_calls_ = false;
  mutable std::mutex lower_mu_;  // lowering, bind_global and patches_
  std::unique_ptr<std::atomic<uint8_t>[]> state_;
  std::vector<std::string> errors_;
  std::vector<uint32_t> kernel_fn_;  // infos_ index -> module function index

  // Build-time state, filled by lower.cc.
  std::vector<KernelInfo> infos_;
  std::vector<LoweredKernel> lowered_;
  std::vector<GlobalVarInfo> globals_;
  std::vector<uint64_t> global_addr_;
  std::vector<uint8_t> bound_;
  std::vector<std::vector<GlobalPatch>> patches_;  // per global
  std::unordered_set<std::string> names_;          // storage for LInstr::opname
  std::vector<std::string> functions_;             // module function names, by index
  std::vector<int32_t> fn_kernel_;                 // module function index -> infos_ index, or -1

  // Runs one grid and then its child grids (launch.cc).
  LaunchResult run_grid(const KernelInfo& kernel, const LaunchParams& params, const LaunchEnv& env,
                        LaunchTree& tree, uint32_t depth) const;

  const char* intern(const std::string& s) { return names_.insert(s).first->c_str(); }
};

}  // namespace gpool::emu::exec
