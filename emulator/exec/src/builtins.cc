// The device runtime's builtins that nvcc calls as extern functions:
// vprintf (device printf) and __assertfail (device assert).
//
// vprintf(format, args): `format` is a generic pointer to the format string,
// `args` a generic pointer to the packed arguments (each aligned to its own
// size; float arguments were promoted to double by the compiler). Output is
// buffered per launch and emitted after the launch in block order, then
// thread order (launch.cc).
#include "block.h"
#include "mem_access.h"
#include "ops.h"

#include <cinttypes>
#include <cstdio>
#include <fmt/format.h>

namespace gpool::emu::exec {
namespace {

constexpr size_t kMaxString = 1 << 16;

uint64_t read_local_u64(const WarpState& w, int lane, uint64_t off) {
  uint64_t v = 0;
  if (off + 8 <= w.local_stride) std::memcpy(&v, w.local + static_cast<size_t>(lane) * w.local_stride + off, 8);
  return v;
}

// Reads a NUL-terminated string at generic address `addr`. False when it is
// not readable.
bool read_string(const LInstr& in, WarpState& w, int lane, uint64_t addr, std::string* out) {
  out->clear();
  if (addr == 0) {
    *out = "(null)";
    return true;
  }
  for (size_t i = 0; i < kMaxString; ++i) {
    const uint8_t* p = resolve_one(in, w, lane, ptx::Space::Generic, addr + i, 1, false, true);
    if (!p) return false;
    if (*p == 0) return true;
    out->push_back(static_cast<char>(*p));
  }
  return true;
}

template <class T>
bool read_arg(const LInstr& in, WarpState& w, int lane, uint64_t args, uint64_t* off, T* out) {
  *off = (*off + sizeof(T) - 1) / sizeof(T) * sizeof(T);
  const uint8_t* p = resolve_one(in, w, lane, ptx::Space::Generic, args + *off, sizeof(T), false, true);
  if (!p) return false;
  std::memcpy(out, p, sizeof(T));
  *off += sizeof(T);
  return true;
}

template <class... A>
void append(std::string* out, const std::string& spec, A... a) {
  char buf[512];
  int n = std::snprintf(buf, sizeof buf, spec.c_str(), a...);
  if (n < 0) return;
  if (static_cast<size_t>(n) < sizeof buf) {
    out->append(buf, static_cast<size_t>(n));
  } else {
    std::string big(static_cast<size_t>(n) + 1, '\0');
    std::snprintf(big.data(), big.size(), spec.c_str(), a...);
    out->append(big.data(), static_cast<size_t>(n));
  }
}

// Formats one lane's printf. Returns the number of arguments consumed, or -1.
int format_printf(const LInstr& in, WarpState& w, int lane, const std::string& fmt, uint64_t args,
                  std::string* out) {
  uint64_t off = 0;
  int nargs = 0;
  for (size_t i = 0; i < fmt.size(); ++i) {
    char ch = fmt[i];
    if (ch != '%') {
      out->push_back(ch);
      continue;
    }
    size_t start = i++;
    if (i < fmt.size() && fmt[i] == '%') {
      out->push_back('%');
      continue;
    }
    std::string flags, width, prec;
    while (i < fmt.size() && std::strchr("-+ #0", fmt[i])) flags.push_back(fmt[i++]);
    while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) width.push_back(fmt[i++]);
    if (i < fmt.size() && fmt[i] == '.') {
      prec.push_back(fmt[i++]);
      while (i < fmt.size() && std::isdigit(static_cast<unsigned char>(fmt[i]))) prec.push_back(fmt[i++]);
    }
    int longs = 0;
    bool half = false;
    while (i < fmt.size() && std::strchr("hlLqjzt", fmt[i])) {
      char m = fmt[i++];
      if (m == 'l' || m == 'L' || m == 'q' || m == 'j' || m == 'z' || m == 't') ++longs;
      else half = true;
    }
    if (i >= fmt.size()) {
      out->append(fmt, start, std::string::npos);
      break;
    }
    char conv = fmt[i];
    std::string spec = "%" + flags + width + prec;
    bool ok = true;
    switch (conv) {
      case 'd': case 'i': {
        if (longs) {
          int64_t v;
          ok = read_arg(in, w, lane, args, &off, &v);
          if (ok) append(out, spec + PRId64, v);
        } else {
          int32_t v;
          ok = read_arg(in, w, lane, args, &off, &v);
          if (ok) append(out, spec + "d", half ? static_cast<int32_t>(static_cast<int16_t>(v)) : v);
        }
        break;
      }
      case 'u': case 'x': case 'X': case 'o': {
        std::string c(1, conv);
        if (longs) {
          uint64_t v;
          ok = read_arg(in, w, lane, args, &off, &v);
          const char* m = conv == 'u' ? PRIu64 : conv == 'x' ? PRIx64 : conv == 'X' ? PRIX64 : PRIo64;
          if (ok) append(out, spec + m, v);
        } else {
          uint32_t v;
          ok = read_arg(in, w, lane, args, &off, &v);
          if (ok) append(out, spec + c, half ? static_cast<uint32_t>(static_cast<uint16_t>(v)) : v);
        }
        break;
      }
      case 'c': {
        int32_t v;
        ok = read_arg(in, w, lane, args, &off, &v);
        if (ok) append(out, spec + "c", v);
        break;
      }
      case 'f': case 'F': case 'e': case 'E': case 'g': case 'G': case 'a': case 'A': {
        double v;
        ok = read_arg(in, w, lane, args, &off, &v);
        if (ok) append(out, spec + std::string(1, conv), v);
        break;
      }
      case 's': {
        uint64_t p;
        ok = read_arg(in, w, lane, args, &off, &p);
        std::string s;
        if (ok && !read_string(in, w, lane, p, &s)) s = "<bad string>";
        if (ok) append(out, spec + "s", s.c_str());
        break;
      }
      case 'p': {
        uint64_t p;
        ok = read_arg(in, w, lane, args, &off, &p);
        if (ok) append(out, spec + "p", reinterpret_cast<void*>(static_cast<uintptr_t>(p)));
        break;
      }
      default:
        out->append(fmt, start, i - start + 1);  // unknown conversion: print as written
        continue;
    }
    if (!ok) return -1;
    ++nargs;
  }
  return nargs;
}

}  // namespace

void h_vprintf(const LInstr& in, WarpState& w, LaneMask act) {
  BlockContext& b = *w.block;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    uint64_t fmt_ptr = read_local_u64(w, l, in.s[0].imm);
    uint64_t args = read_local_u64(w, l, in.s[1].imm);
    std::string fmt, text;
    int result = -1;
    if (read_string(in, w, l, fmt_ptr, &fmt)) {
      result = format_printf(in, w, l, fmt, args, &text);
      if (result < 0) text = fmt::format("<printf: unreadable arguments at {}>\n", describe_site(in, w, l));
    } else {
      text = fmt::format("<printf: unreadable format string at {}>\n", describe_site(in, w, l));
    }
    PrintfRecord r;
    r.block = b.block_linear;
    r.thread = w.warp_id * kWarpSize + static_cast<uint32_t>(l);
    r.seq = b.printf_seq++;
    r.text = std::move(text);
    b.printf_out->push_back(std::move(r));
    if (in.aux2 && in.aux + 4 <= w.local_stride) {
      int32_t v = result;
      std::memcpy(w.local + static_cast<size_t>(l) * w.local_stride + in.aux, &v, 4);
    }
  }
}

void h_assertfail(const LInstr& in, WarpState& w, LaneMask act) {
  std::string text;
  for (LaneMask m = act; m; m &= m - 1) {
    int l = std::countr_zero(m);
    std::string msg, file, func;
    read_string(in, w, l, read_local_u64(w, l, in.s[0].imm), &msg);
    read_string(in, w, l, read_local_u64(w, l, in.s[1].imm), &file);
    uint32_t line = 0;
    if (in.s[2].imm + 4 <= w.local_stride)
      std::memcpy(&line, w.local + static_cast<size_t>(l) * w.local_stride + in.s[2].imm, 4);
    read_string(in, w, l, read_local_u64(w, l, in.s[3].imm), &func);
    Dim3 t = thread_index(w, l);
    const Dim3& c = w.block->ctaid;
    text += fmt::format("{}:{}: {}: block [{},{},{}], thread [{},{},{}] Assertion `{}` failed.\n", file, line, func,
                        c.x, c.y, c.z, t.x, t.y, t.z, msg);
  }
  {
    LaunchState& L = *w.block->launch;
    std::lock_guard<std::mutex> lock(L.mu);
    if (L.status == LaunchStatus::Ok) L.assert_text += text;
  }
  int lane = std::countr_zero(act);
  w.fault(LaunchStatus::AssertFailed, fmt::format("device assertion failed at {}: {}", describe_site(in, w, lane),
                                                  text.substr(0, text.find('\n'))));
}

}  // namespace gpool::emu::exec
