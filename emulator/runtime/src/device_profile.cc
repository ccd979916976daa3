// Capability-dependent device numbers. Each generation follows the public data sheet of one
// representative part, named below; per-SM limits (threads, blocks, registers, shared memory)
// are those the CUDA Programming Guide lists for the compute capability ("Technical
// Specifications per Compute Capability"). docs/emulator.md ("Device profiles") has the table.
//
// Clocks are the parts' boost clocks; the memory clock is what deviceQuery reports (half the
// data rate per pin: 28 Gbps GDDR7 -> 14001 MHz), so that 2 x clock x bus width / 8 gives the
// data sheet's bandwidth. Persisting-L2 limits are not in data sheets: where no figure is known
// they are set to the same share of the L2 as on the H100 (31 of 50 MiB).
#include "runtime.h"

namespace gpool::emu::rt {
namespace {

// Blackwell data-centre numbers: NVIDIA B200 (HGX B200, SXM): 148 SMs, 1965 MHz boost, HBM3e on
// an 8192-bit bus at 8 TB/s, 126.5 MiB L2; compute capability 10.x limits: 2048 threads and 32
// blocks per SM, 228 KiB shared memory per SM, 227 KiB per block opt-in; FP64 at half the FP32
// rate; ECC; thread block clusters.
void blackwell_datacentre(DeviceProfile* p) {
  p->sms = 148;
  p->max_threads_per_sm = 2048;
  p->max_blocks_per_sm = 32;
  p->shared_per_sm = 233472;           // 228 KiB
  p->shared_per_block_optin = 232448;  // 227 KiB
  p->reserved_shared_per_block = 1024;
  p->clock_khz = 1965000;
  p->mem_clock_khz = 3996000;
  p->bus_width = 8192;
  p->l2_bytes = 132644864;          // 126.5 MiB
  p->max_persisting_l2 = 82837504;  // 79 MiB: the H100's share (estimate)
  p->cluster_launch = 1;
  p->fp32_per_fp64 = 2;
  p->ecc = 1;
}

// Compute capability 12.x limits (consumer / workstation Blackwell): 1536 threads and 32 blocks
// per SM, 100 KiB shared memory per SM, 99 KiB per block opt-in, thread block clusters; FP64 at
// 1/64 of the FP32 rate.
void blackwell_12x(DeviceProfile* p) {
  p->max_threads_per_sm = 1536;
  p->max_blocks_per_sm = 32;
  p->shared_per_sm = 102400;           // 100 KiB
  p->shared_per_block_optin = 101376;  // 99 KiB
  p->reserved_shared_per_block = 1024;
  p->cluster_launch = 1;
  p->fp32_per_fp64 = 64;
}

}  // namespace

DeviceProfile profile_for(int major, int minor, int sms_override) {
  DeviceProfile p;  // member defaults: H100 SXM (9.0): 132 SMs, 1980 MHz, HBM3 5120-bit, 50 MiB L2
  p.cc_major = major;
  p.cc_minor = minor;
  if (major < 8) {  // Volta / Turing: T4
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
    p.fp32_per_fp64 = 32;
    p.ecc = 0;
  } else if (major == 8 && minor == 0) {  // A100 SXM 40 GB
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
    p.fp32_per_fp64 = 2;
    p.ecc = 1;
  } else if (major == 8) {  // consumer Ampere (8.6: RTX 3090 Ti SMs and L2) / Ada (8.9: RTX 4090); 4090 clocks
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
    p.fp32_per_fp64 = 32;
    p.ecc = 0;
  } else if (major == 9) {
    // H100 SXM: the member defaults.
  } else if (major == 10 || major == 11) {
    // 10.0 / 10.3: B200 / B300; 11.0 (Jetson Thor) is not modelled on its own and gets the
    // same data-centre numbers.
    blackwell_datacentre(&p);
  } else if (major == 12 && minor == 0) {
    // GeForce RTX 5090 (GB202): 170 SMs, 2407 MHz boost, 32 GB GDDR7 at 28 Gbps on a 512-bit bus
    // (1792 GB/s), 96 MiB L2, no ECC.
    blackwell_12x(&p);
    p.sms = 170;
    p.clock_khz = 2407000;
    p.mem_clock_khz = 14001000;
    p.bus_width = 512;
    p.l2_bytes = 100663296;           // 96 MiB
    p.max_persisting_l2 = 62390272;   // 59.5 MiB: the H100's share (estimate)
    p.ecc = 0;
  } else if (major == 12) {
    // 12.1 and later 12.x: NVIDIA GB10 (DGX Spark): 48 SMs (6144 CUDA cores), 2418 MHz boost,
    // 128 GB LPDDR5x at 8533 MT/s on a 256-bit bus (273 GB/s), 24 MiB L2. The memory is shared
    // with the CPU on the real part; the emulated device keeps the discrete-GPU memory model
    // (CU_DEVICE_ATTRIBUTE_INTEGRATED stays 0).
    blackwell_12x(&p);
    p.sms = 48;
    p.clock_khz = 2418000;
    p.mem_clock_khz = 4266000;
    p.bus_width = 256;
    p.l2_bytes = 25165824;            // 24 MiB
    p.max_persisting_l2 = 15728640;   // 15 MiB: the H100's share (estimate)
    p.ecc = 0;
  } else {
    // 13.0 (the default) and later: no such part exists. A device newer than every SASS in the
    // CUDA 13 toolkit, so that libraries run their PTX; it gets the newest data-centre limits
    // (B200), the largest per-block shared memory and per-SM residency of any profile, so every
    // kernel a library tunes for Blackwell fits.
    blackwell_datacentre(&p);
  }
  if (sms_override > 0) p.sms = sms_override;
  return p;
}

}  // namespace gpool::emu::rt
