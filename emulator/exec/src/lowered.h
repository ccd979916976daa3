// The lowered program: what Program::build produces and launch() runs.
//
// Owner: exec core. Every kernel is lowered into one flat instruction array
// with all device-function calls inlined; a kernel never jumps outside its own
// array. Module globals referenced by the code are immediates patched by
// bind_global() (the only mutation after build; it must not race launches).
//
// Thread safety: immutable during launches; launch() only reads it.
#pragma once

#include "engine.h"

#include <cstdint>
#include <memory>
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

struct LoweredKernel {
  std::vector<LInstr> code;  // ends with an exit
  uint32_t num_slots = 0;    // value registers (slot 0 is the discard slot)
  uint32_t num_preds = 0;
  std::vector<std::pair<uint32_t, Sreg>> sregs;  // slot <- special register
  uint32_t static_shared = 0;  // bytes; dynamic shared starts at dyn_shared_offset
  uint32_t dyn_shared_offset = 0;
  uint32_t local_bytes = 0;    // per thread, a multiple of 16
  std::vector<uint32_t> globals_used;  // indices into globals()
  // Operands of instructions with more than LInstr holds (LowerContext::add_operands).
  std::vector<LOperand> operand_pool;
};

// Where an instruction immediate must receive a bound global's address.
struct GlobalPatch {
  uint32_t kernel = 0;
  uint32_t instr = 0;
  uint32_t byte_offset = 0;  // of the LOperand inside the LInstr
  int64_t addend = 0;
};

class ProgramImpl final : public Program {
 public:
  const std::vector<KernelInfo>& kernels() const override { return infos_; }
  const std::vector<GlobalVarInfo>& globals() const override { return globals_; }
  void bind_global(std::string_view name, uint64_t device_address) override;
  LaunchResult launch(const KernelInfo& kernel, const LaunchParams& params,
                      const LaunchEnv& env) const override;

  // Build-time state, filled by lower.cc.
  std::vector<KernelInfo> infos_;
  std::vector<LoweredKernel> lowered_;
  std::vector<GlobalVarInfo> globals_;
  std::vector<uint64_t> global_addr_;
  std::vector<uint8_t> bound_;
  std::vector<std::vector<GlobalPatch>> patches_;  // per global
  std::unordered_set<std::string> names_;          // storage for LInstr::opname

  const char* intern(const std::string& s) { return names_.insert(s).first->c_str(); }
};

}  // namespace gpool::emu::exec
