// Capability-dependent device numbers. Values follow the public data sheets
// of a representative part of each generation (T4 for 7.5, A100 for 8.0,
// consumer Ampere/Ada for 8.6/8.9, H100 SXM for 9.0 and later).
#include "runtime.h"

namespace gpool::emu::rt {

DeviceProfile profile_for(int major, int minor, int sms_override) {
  DeviceProfile p;  // defaults: H100 (9.0)
  p.cc_major = major;
  p.cc_minor = minor;
  if (major < 8) {  // Volta / Turing (T4-like)
    p.sms = 40;
    p.max_threads_per_sm = (major == 7 && minor >= 5) ? 1024 : 2048;
    p.max_blocks_per_sm = (major == 7 && minor >= 5) ? 16 : 32;
    p.shared_per_sm = 65536;
    p.shared_per_block_optin = 65536;
    p.reserved_shared_per_block = 0;
    p.clock_khz = 1590000;
    p.mem_clock_khz = 5001000;
    p.bus_width = 256;
    p.l2_bytes = 4194304;
    p.max_persisting_l2 = 0;
    p.cluster_launch = 0;
  } else if (major == 8 && minor == 0) {  // A100-like
    p.sms = 108;
    p.max_threads_per_sm = 2048;
    p.shared_per_sm = 167936;
    p.shared_per_block_optin = 166912;
    p.clock_khz = 1410000;
    p.mem_clock_khz = 1215000;
    p.bus_width = 5120;
    p.l2_bytes = 41943040;
    p.max_persisting_l2 = 31457280;
    p.cluster_launch = 0;
  } else if (major == 8) {  // consumer Ampere / Ada
    p.sms = (minor >= 9) ? 128 : 84;
    p.max_threads_per_sm = 1536;
    p.max_blocks_per_sm = (minor >= 9) ? 24 : 16;
    p.shared_per_sm = 102400;
    p.shared_per_block_optin = 101376;
    p.clock_khz = 2520000;
    p.mem_clock_khz = 10501000;
    p.bus_width = 384;
    p.l2_bytes = (minor >= 9) ? 75497472 : 6291456;
    p.max_persisting_l2 = 0;
    p.cluster_launch = 0;
  }
  if (sms_override > 0) p.sms = sms_override;
  return p;
}

}  // namespace gpool::emu::rt
