// Hard limits of the gpool wire format.
//
// Every received frame is checked against these numbers before any of it is used, so a broken
// or hostile peer can make the receiver allocate at most kMaxControlBytes for a control message
// and kMaxSegments table entries, never an amount it chose. The numbers are protocol constants:
// both parties must agree, so changing one is a protocol version change.
//
// Rationale:
// - Control messages are small descriptions of driver calls. The largest expected one is a
//   kernel launch with its inline parameter buffer (CUDA allows 32 KiB of kernel parameters)
//   plus handles; 1 MiB leaves ample room and bounds the per-frame allocation.
// - Bulk data never lives in the control message. A segment is one contiguous buffer (a memcpy
//   payload, a module image); 4 GiB covers the biggest single cuMemcpy a client reasonably
//   issues in one piece; larger copies are split by the client shim into several frames.
// - A frame carries at most 64 segments (e.g. a 2D/3D copy row set, or a module plus its
//   dependencies); the segment table is then at most 512 bytes.
// - The whole frame (header, table, control, segments) is bounded by 16 GiB so that sums never
//   overflow and a frame is always finite.
// - Strings (hostnames, program names, tokens, error texts) are for identification and logs:
//   4 KiB is far above any real value and keeps log lines bounded.
// - The FlatBuffers verifier gets a depth limit of 16 (our schema nests at most 4 deep) and a
//   table limit that bounds verification time for a 1 MiB message.
//
// Thread safety: constants only.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gpool::protocol {

inline constexpr uint32_t kMaxControlBytes = 1u << 20;            // 1 MiB
inline constexpr uint32_t kMaxSegments = 64;
inline constexpr uint64_t kMaxSegmentBytes = uint64_t{4} << 30;   // 4 GiB
inline constexpr uint64_t kMaxFrameBytes = uint64_t{16} << 30;    // 16 GiB
inline constexpr size_t kMaxStringBytes = 4096;
inline constexpr size_t kMaxInlineBytes = 64 * 1024;              // Call/Reply inline_data
inline constexpr size_t kMaxCallArgs = 1024;                      // Call args / handles / results
inline constexpr uint32_t kMaxVerifierDepth = 16;
inline constexpr uint32_t kMaxVerifierTables = 16 * 1024;

}  // namespace gpool::protocol
