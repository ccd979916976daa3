// gpool-ptx-ops: prints every PTX opcode the executor registers, one per line, sorted, with the
// op families that lower it (core, float, cvt, warp), tab-separated:
//
//   add	core,float
//   shfl.sync	warp
//
// scripts/gen-compat.sh turns this into the PTX table of docs/compatibility.md. The list comes
// from the same register_* functions Program::build uses (emulator/exec/src/engine.h), so it
// cannot drift from what the interpreter accepts. Modifier coverage is not visible here: a
// registered opcode may still refuse some types or modifiers at load time, naming them.
// Takes no arguments; exit status 0, or 2 on a usage error.
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "engine.h"

namespace {

namespace exec = gpool::emu::exec;

void collect(const char* family, void (*reg)(exec::OpTable&),
             std::map<std::string, std::set<std::string>>& out) {
  exec::OpTable table;
  reg(table);
  for (const auto& op : table.opcodes()) out[op].insert(family);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1) {
    std::fprintf(stderr, "usage: %s   (prints the registered PTX opcodes)\n", argv[0]);
    return 2;
  }
  std::map<std::string, std::set<std::string>> ops;
  collect("core", exec::register_core_ops, ops);
  collect("float", exec::register_float_ops, ops);
  collect("cvt", exec::register_cvt_ops, ops);
  collect("warp", exec::register_warp_ops, ops);
  collect("tensor", exec::register_tensor_ops, ops);
  collect("async", exec::register_async_ops, ops);
  collect("texture", exec::register_tex_ops, ops);
  for (const auto& [op, families] : ops) {
    std::string joined;
    for (const auto& f : families) joined += (joined.empty() ? "" : ",") + f;
    std::printf("%s\t%s\n", op.c_str(), joined.c_str());
  }
  return 0;
}
