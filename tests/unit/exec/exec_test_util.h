// Helpers for executor tests: a GlobalMemory over host buffers, a device heap over one of them, a builder
// that parses and lowers PTX text, and a launcher that packs arguments the
// way KernelInfo describes them.
#pragma once

#include "gpool/emu/exec/program.h"
#include "gpool/emu/ptx/parser.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace gpool::emu::exec::test {

// Device memory for tests: every allocation is a host buffer whose address is
// its device address.
class HostMemory final : public GlobalMemory {
 public:
  bool accessible(uint64_t addr, uint64_t len) const override {
    for (auto& b : bufs_) {
      uint64_t base = reinterpret_cast<uint64_t>(b->data());
      if (addr >= base && len <= b->size() && addr - base <= b->size() - len) return true;
    }
    return false;
  }
  template <class T>
  T* alloc(size_t n, T fill = T{}) {
    bufs_.push_back(std::make_unique<std::vector<uint8_t>>(n * sizeof(T) + (n == 0 ? 1 : 0)));
    T* p = reinterpret_cast<T*>(bufs_.back()->data());
    for (size_t i = 0; i < n; ++i) p[i] = fill;
    return p;
  }

 private:
  std::vector<std::unique_ptr<std::vector<uint8_t>>> bufs_;
};

// A device heap (malloc/free from kernels) over one test buffer: a bump allocator that remembers
// live blocks. Thread safe.
class BumpHeap final : public DeviceHeap {
 public:
  explicit BumpHeap(uint8_t* base) : next_(reinterpret_cast<uint64_t>(base)) {}
  uint64_t allocate(uint64_t bytes) override {
    std::lock_guard<std::mutex> lock(mu_);
    uint64_t p = next_;
    next_ += (bytes + 15) / 16 * 16;
    live_[p] = bytes;
    return p;
  }
  bool release(uint64_t addr) override {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.erase(addr) == 1;
  }
  size_t live() {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }

 private:
  std::mutex mu_;
  uint64_t next_;
  std::map<uint64_t, uint64_t> live_;
};

class StringSink final : public PrintfSink {
 public:
  void write(std::string_view t) override { text.append(t); }
  std::string text;
};

// Places every module global of `p` in `mem` (initialised) and binds it, as
// the runtime does at module load.
inline void bind_globals(Program& p, HostMemory& mem) {
  for (auto& g : p.globals()) {
    auto* buf = mem.alloc<uint8_t>(g.size + g.align);
    uint64_t addr = (reinterpret_cast<uint64_t>(buf) + g.align - 1) / g.align * g.align;
    std::memcpy(reinterpret_cast<void*>(addr), g.init.data(), g.init.size());
    p.bind_global(g.name, addr);
  }
}

// Parses and builds `ptx`; returns nullptr and sets *error on failure.
inline std::shared_ptr<Program> build_ptx(const std::string& ptx, std::string* error) {
  ptx::Module m;
  if (!ptx::parse(ptx, &m, error)) {
    *error = "parse: " + *error;
    return nullptr;
  }
  return Program::build(m, error);
}

struct Arg {
  uint64_t bits;
  template <class T>
  Arg(T* p) : bits(reinterpret_cast<uint64_t>(p)) {}
  Arg(int v) : bits(static_cast<uint32_t>(v)) {}
  Arg(unsigned v) : bits(v) {}
  Arg(uint64_t v) : bits(v) {}
  Arg(float f) { uint32_t b; std::memcpy(&b, &f, 4); bits = b; }
};

struct Launch {
  Dim3 grid{1, 1, 1};
  Dim3 block{32, 1, 1};
  uint32_t dyn_shared = 0;
  bool cooperative = false;
  unsigned threads = 0;
};

inline LaunchResult run(const Program& p, const std::string& name, const Launch& cfg, std::vector<Arg> args,
                        const GlobalMemory& mem, PrintfSink* sink = nullptr) {
  const KernelInfo* k = p.find_kernel(name);
  if (!k) {
    LaunchResult r;
    r.status = LaunchStatus::InvalidValue;
    r.message = "no kernel " + name;
    return r;
  }
  std::vector<uint8_t> buf(k->param_bytes + 8, 0);
  for (size_t i = 0; i < k->params.size() && i < args.size(); ++i)
    std::memcpy(buf.data() + k->params[i].offset, &args[i].bits, std::min<uint32_t>(k->params[i].size, 8));
  LaunchParams lp;
  lp.grid = cfg.grid;
  lp.block = cfg.block;
  lp.dynamic_shared_bytes = cfg.dyn_shared;
  lp.param_buffer = buf.data();
  lp.param_bytes = k->param_bytes;
  lp.cooperative = cfg.cooperative;
  LaunchEnv env;
  env.memory = &mem;
  env.printf_sink = sink;
  env.threads = cfg.threads;
  return p.launch(*k, lp, env);
}

// Header for hand-written test kernels.
inline std::string ptx_module(const std::string& body) {
  return ".version 8.0\n.target sm_80\n.address_size 64\n\n" + body;
}

}  // namespace gpool::emu::exec::test
