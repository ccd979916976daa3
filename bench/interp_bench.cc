// gpool-bench-interp: measures the PTX interpreter's throughput in
// thread-instructions per second (active lanes summed over executed
// instructions) on two nvcc-built kernels, checks their results, and prints
// the ratio to the 200M thread-instructions/s target.
//
// Usage: gpool-bench-interp [matrix size, multiple of 16] [reduce elements]
// GPOOL_EMU_THREADS sets the worker threads (default: all cores). Each line
// also gives the process CPU time of the launch and thread-instructions per
// CPU-second, which stays meaningful when other work loads the machine.
#include "gpool/emu/exec/program.h"
#include "gpool/emu/ptx/parser.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <vector>

namespace {

using namespace gpool::emu;

constexpr double kTarget = 200e6;

class HostMemory final : public exec::GlobalMemory {
 public:
  bool accessible(uint64_t addr, uint64_t len) const override {
    for (auto& [base, size] : ranges_)
      if (addr >= base && len <= size && addr - base <= size - len) return true;
    return false;
  }
  void add(const void* p, size_t bytes) { ranges_.push_back({reinterpret_cast<uint64_t>(p), bytes}); }

 private:
  std::vector<std::pair<uint64_t, uint64_t>> ranges_;
};

std::shared_ptr<exec::Program> load(const char* name) {
  std::string path = std::string(GPOOL_BENCH_PTX_DIR) + "/" + name + ".ptx";
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "gpool-bench-interp: cannot read %s\n", path.c_str());
    return nullptr;
  }
  std::stringstream ss;
  ss << f.rdbuf();
  ptx::Module m;
  std::string err;
  if (!ptx::parse(ss.str(), &m, &err)) {
    std::fprintf(stderr, "gpool-bench-interp: parse %s: %s\n", path.c_str(), err.c_str());
    return nullptr;
  }
  auto p = exec::Program::build(m, &err);
  if (!p) std::fprintf(stderr, "gpool-bench-interp: build %s: %s\n", path.c_str(), err.c_str());
  return p;
}

template <class T>
uint64_t bits(T v) {
  if constexpr (std::is_pointer_v<T>) return reinterpret_cast<uint64_t>(v);
  else return static_cast<uint64_t>(v);
}

template <class... A>
std::vector<uint8_t> pack(const exec::KernelInfo& k, A... args) {
  std::vector<uint8_t> buf(k.param_bytes);
  uint64_t vals[] = {bits(args)...};
  for (size_t i = 0; i < k.params.size(); ++i) std::memcpy(buf.data() + k.params[i].offset, &vals[i], k.params[i].size);
  return buf;
}

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

struct Measure {
  double seconds = 0;
  double cpu = 0;  // CPU time of the whole process (all worker threads) during the launch
  uint64_t instr = 0;
  bool ok = false;
};

Measure launch(const exec::Program& p, const exec::KernelInfo& k, exec::Dim3 grid, exec::Dim3 block,
               const std::vector<uint8_t>& params, const HostMemory& mem) {
  exec::LaunchParams lp;
  lp.grid = grid;
  lp.block = block;
  lp.param_buffer = params.data();
  lp.param_bytes = params.size();
  exec::LaunchEnv env;
  env.memory = &mem;
  double c0 = cpu_seconds();
  auto t0 = std::chrono::steady_clock::now();
  auto r = p.launch(k, lp, env);
  auto t1 = std::chrono::steady_clock::now();
  Measure m;
  m.seconds = std::chrono::duration<double>(t1 - t0).count();
  m.cpu = cpu_seconds() - c0;
  m.instr = r.thread_instructions;
  m.ok = r.status == exec::LaunchStatus::Ok;
  if (!m.ok) std::fprintf(stderr, "launch of %s failed: %s\n", k.name.c_str(), r.message.c_str());
  return m;
}

// Wall-clock rate (what the target is about) and the rate per CPU-second
// (how fast one core interprets; on a loaded machine the wall-clock rate
// mostly measures how much CPU the process was given).
void report(const char* what, const Measure& m) {
  double rate = m.instr / m.seconds;
  double per_cpu = m.cpu > 0 ? m.instr / m.cpu : 0;
  std::printf("%-12s %12llu thread-instr in %8.3f s = %8.1f M thread-instr/s  (%.2fx of the 200M target)"
              "  [cpu %.3f s, %.1f M/s per CPU-second]\n",
              what, static_cast<unsigned long long>(m.instr), m.seconds, rate / 1e6, rate / kTarget, m.cpu,
              per_cpu / 1e6);
}

bool bench_matmul(int n) {
  auto p = load("matmul_tiled");
  if (!p) return false;
  const exec::KernelInfo* k = p->find_kernel("matmul_tiled");
  std::vector<float> a(size_t(n) * n), b(size_t(n) * n), c(size_t(n) * n, 0.f);
  for (int i = 0; i < n * n; ++i) a[i] = float((i * 7) % 13) - 6.f, b[i] = float((i * 5) % 11) - 5.f;
  HostMemory mem;
  mem.add(a.data(), a.size() * 4);
  mem.add(b.data(), b.size() * 4);
  mem.add(c.data(), c.size() * 4);
  auto params = pack(*k, a.data(), b.data(), c.data(), n);
  Measure m = launch(*p, *k, {unsigned(n / 16), unsigned(n / 16), 1}, {16, 16, 1}, params, mem);
  if (!m.ok) return false;
  for (int r = 0; r < n; r += 37)
    for (int col = 0; col < n; col += 29) {
      float want = 0;
      for (int i = 0; i < n; ++i) want += a[size_t(r) * n + i] * b[size_t(i) * n + col];
      if (std::fabs(want - c[size_t(r) * n + col]) > 1e-3f * std::max(1.f, std::fabs(want))) {
        std::fprintf(stderr, "matmul mismatch at (%d,%d): %f vs %f\n", r, col, c[size_t(r) * n + col], want);
        return false;
      }
    }
  report("matmul", m);
  return true;
}

bool bench_reduce(int n) {
  auto p = load("warp_reduce");
  if (!p) return false;
  const exec::KernelInfo* k = p->find_kernel("warp_reduce");
  std::vector<int> in(n);
  long long want = 0;
  for (int i = 0; i < n; ++i) in[i] = (i % 1000) - 400, want += in[i];
  unsigned long long out = 0;
  HostMemory mem;
  mem.add(in.data(), in.size() * 4);
  mem.add(&out, sizeof out);
  auto params = pack(*k, in.data(), &out, n);
  Measure m = launch(*p, *k, {64, 1, 1}, {256, 1, 1}, params, mem);
  if (!m.ok) return false;
  if (static_cast<long long>(out) != want) {
    std::fprintf(stderr, "reduce mismatch: %lld vs %lld\n", static_cast<long long>(out), want);
    return false;
  }
  report("warp_reduce", m);
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int n = argc > 1 ? std::atoi(argv[1]) : 256;
  int elems = argc > 2 ? std::atoi(argv[2]) : 1 << 22;
  if (n <= 0 || n % 16) {
    std::fprintf(stderr, "usage: gpool-bench-interp [matrix size, multiple of 16] [reduce elements]\n");
    return 2;
  }
  bool ok = bench_matmul(n);
  ok = bench_reduce(elems) && ok;
  return ok ? 0 : 1;
}
