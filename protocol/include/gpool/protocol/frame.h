// Framing of the gpool wire format. See docs/protocol.md for the byte layout.
//
//   frame := header (32 bytes) | segment table (8 bytes per segment) | control | segments
//
// The header and the segment table are little-endian fixed-size integers; the control message
// is an `Envelope` FlatBuffer (protocol/schema/gpool.fbs); segments are raw bytes, back to back,
// with the lengths given by the segment table. A transport sends a frame as a gather list and
// receives it in pieces: header, then table + control, then each segment straight into the
// buffer its user chooses. The functions here do the encoding and all the checks; they never
// touch a socket.
//
// Errors: every decode function checks its input completely and returns a non-ok Error (see
// error.h) for anything that is not a valid frame; output parameters are set only on success.
//
// Thread safety: all functions are pure and may be called from any thread.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "gpool/protocol/error.h"
#include "gpool/protocol/limits.h"

namespace gpool::protocol {

inline constexpr uint32_t kFrameMagic = 0x4C4F5047;  // bytes "GPOL" in little-endian order
inline constexpr uint16_t kFramingVersion = 1;        // layout of header and segment table
inline constexpr uint16_t kProtocolVersion = 1;       // messages of gpool.fbs (see Hello)
inline constexpr size_t kFrameHeaderBytes = 32;
inline constexpr size_t kSegmentEntryBytes = 8;

// The decoded header. `flags` has no defined bits in framing version 1 and must be 0.
struct FrameHeader {
  uint16_t version = kFramingVersion;
  uint16_t flags = 0;
  uint32_t control_bytes = 0;
  uint32_t segment_count = 0;
  uint64_t segment_bytes = 0;  // sum of all segment lengths

  // Bytes of the segment table that follows the header.
  size_t table_bytes() const { return size_t{segment_count} * kSegmentEntryBytes; }
  // Bytes after the header up to the first segment (table + control).
  size_t head_rest_bytes() const { return table_bytes() + control_bytes; }
  // Total frame size.
  uint64_t frame_bytes() const { return kFrameHeaderBytes + head_rest_bytes() + segment_bytes; }
};

using HeaderBytes = std::array<std::byte, kFrameHeaderBytes>;

// Builds the header for a frame with `control_bytes` of control and the given segment lengths,
// checking every limit of limits.h (sender side: a sender never puts an invalid frame on the
// wire). Returns kOversized when a limit is exceeded.
Error make_header(size_t control_bytes, std::span<const uint64_t> segment_lengths,
                  FrameHeader& out);

// Serialises `header` (with its checksum) into 32 bytes.
HeaderBytes encode_header(const FrameHeader& header);

// Parses and checks 32 header bytes: size, magic, version, checksum, flags, reserved, limits.
// REQUIRES: nothing; any input is accepted and checked.
Error decode_header(std::span<const std::byte> bytes, FrameHeader& out);

// Serialises segment lengths into `out` (REQUIRES: out.size() == 8 * lengths.size()).
void encode_segment_table(std::span<const uint64_t> lengths, std::span<std::byte> out);

// Parses the segment table that follows `header`; checks each length against
// kMaxSegmentBytes and their sum against header.segment_bytes.
// REQUIRES: `header` came from decode_header. `out` is resized to segment_count.
Error decode_segment_table(const FrameHeader& header, std::span<const std::byte> bytes,
                           std::vector<uint64_t>& out);

// A frame decoded from one contiguous buffer (tests and in-memory use). Spans point into the
// decoded buffer, which must outlive the view.
struct FrameView {
  FrameHeader header;
  std::vector<uint64_t> segment_lengths;
  std::span<const std::byte> control;
  std::vector<std::span<const std::byte>> segments;
};

// Decodes the first frame of `bytes`: header, table, and the presence of every byte of control
// and segments (the control message itself is verified separately, see message.h). On
// success `consumed` is the frame's size; on kTruncated more bytes may complete the frame.
Error decode_frame(std::span<const std::byte> bytes, FrameView& out, size_t& consumed);

// Writes the frame `header` describes (header, segment table, control, segments) into `out`.
// REQUIRES: `header` came from make_header for exactly these control and segment sizes, and
// out.size() == header.frame_bytes(). Used by transports that batch small frames into one
// buffer.
void write_frame(const FrameHeader& header, std::span<const std::byte> control,
                 std::span<const std::span<const std::byte>> segments, std::span<std::byte> out);

// Encodes a whole frame into one contiguous buffer (copies the segments: for tests and small
// frames; transports send gather lists instead).
Error encode_frame(std::span<const std::byte> control,
                   std::span<const std::span<const std::byte>> segments,
                   std::vector<std::byte>& out);

// CRC-32C (Castagnoli) of `bytes`, as used by the header checksum.
uint32_t crc32c(std::span<const std::byte> bytes);

}  // namespace gpool::protocol
