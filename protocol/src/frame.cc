#include "gpool/protocol/frame.h"

#include <fmt/format.h>

#include <cstring>

namespace gpool::protocol {
namespace {

// Header field offsets (docs/protocol.md).
constexpr size_t kOffMagic = 0;
constexpr size_t kOffVersion = 4;
constexpr size_t kOffFlags = 6;
constexpr size_t kOffControl = 8;
constexpr size_t kOffCount = 12;
constexpr size_t kOffSegBytes = 16;
constexpr size_t kOffReserved = 24;
constexpr size_t kOffCrc = 28;

template <typename T>
void put_le(std::byte* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<std::byte>((uint64_t{v} >> (8 * i)) & 0xFF);
}

template <typename T>
T get_le(const std::byte* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t{static_cast<uint8_t>(p[i])} << (8 * i);
  return static_cast<T>(v);
}

Error check_limits(uint64_t control_bytes, uint64_t segment_count, uint64_t segment_bytes) {
  if (control_bytes > kMaxControlBytes) {
    return Error::make(ErrorCode::kOversized,
                       fmt::format("control message of {} bytes exceeds the limit of {} bytes",
                                   control_bytes, kMaxControlBytes));
  }
  if (segment_count > kMaxSegments) {
    return Error::make(ErrorCode::kOversized,
                       fmt::format("{} segments exceed the limit of {} per frame", segment_count,
                                   kMaxSegments));
  }
  const uint64_t head = kFrameHeaderBytes + segment_count * kSegmentEntryBytes + control_bytes;
  if (segment_bytes > kMaxFrameBytes - head) {
    return Error::make(ErrorCode::kOversized,
                       fmt::format("frame of {} segment bytes exceeds the frame limit of {} bytes",
                                   segment_bytes, kMaxFrameBytes));
  }
  return Error::success();
}

}  // namespace

Error make_header(size_t control_bytes, std::span<const uint64_t> segment_lengths,
                  FrameHeader& out) {
  uint64_t total = 0;
  for (size_t i = 0; i < segment_lengths.size(); ++i) {
    if (segment_lengths[i] > kMaxSegmentBytes) {
      return Error::make(ErrorCode::kOversized,
                         fmt::format("segment {} of {} bytes exceeds the limit of {} bytes", i,
                                     segment_lengths[i], kMaxSegmentBytes));
    }
    total += segment_lengths[i];  // cannot overflow: at most kMaxSegments * 4 GiB
    if (total > kMaxFrameBytes) break;
  }
  if (Error e = check_limits(control_bytes, segment_lengths.size(), total); !e.ok()) return e;
  FrameHeader h;
  h.control_bytes = static_cast<uint32_t>(control_bytes);
  h.segment_count = static_cast<uint32_t>(segment_lengths.size());
  h.segment_bytes = total;
  out = h;
  return Error::success();
}

HeaderBytes encode_header(const FrameHeader& header) {
  HeaderBytes b{};
  put_le<uint32_t>(b.data() + kOffMagic, kFrameMagic);
  put_le<uint16_t>(b.data() + kOffVersion, header.version);
  put_le<uint16_t>(b.data() + kOffFlags, header.flags);
  put_le<uint32_t>(b.data() + kOffControl, header.control_bytes);
  put_le<uint32_t>(b.data() + kOffCount, header.segment_count);
  put_le<uint64_t>(b.data() + kOffSegBytes, header.segment_bytes);
  put_le<uint32_t>(b.data() + kOffReserved, 0);
  put_le<uint32_t>(b.data() + kOffCrc, crc32c(std::span(b.data(), kOffCrc)));
  return b;
}

Error decode_header(std::span<const std::byte> bytes, FrameHeader& out) {
  if (bytes.size() < kFrameHeaderBytes) {
    return Error::make(ErrorCode::kTruncated,
                       fmt::format("frame header needs {} bytes, got {}", kFrameHeaderBytes,
                                   bytes.size()));
  }
  const std::byte* p = bytes.data();
  const uint32_t magic = get_le<uint32_t>(p + kOffMagic);
  if (magic != kFrameMagic) {
    return Error::make(ErrorCode::kBadMagic,
                       fmt::format("frame magic {:#010x} is not gpool's {:#010x}", magic,
                                   kFrameMagic));
  }
  FrameHeader h;
  h.version = get_le<uint16_t>(p + kOffVersion);
  if (h.version != kFramingVersion) {
    return Error::make(ErrorCode::kBadVersion,
                       fmt::format("framing version {} is not supported (this build speaks {})",
                                   h.version, kFramingVersion));
  }
  const uint32_t crc = get_le<uint32_t>(p + kOffCrc);
  const uint32_t want = crc32c(bytes.first(kOffCrc));
  if (crc != want) {
    return Error::make(ErrorCode::kBadHeader,
                       fmt::format("frame header checksum {:#010x} does not match {:#010x}", crc,
                                   want));
  }
  h.flags = get_le<uint16_t>(p + kOffFlags);
  if (h.flags != 0) {
    return Error::make(ErrorCode::kBadHeader,
                       fmt::format("frame header has unknown flag bits {:#06x}", h.flags));
  }
  if (get_le<uint32_t>(p + kOffReserved) != 0) {
    return Error::make(ErrorCode::kBadHeader, "frame header reserved field is not zero");
  }
  h.control_bytes = get_le<uint32_t>(p + kOffControl);
  h.segment_count = get_le<uint32_t>(p + kOffCount);
  h.segment_bytes = get_le<uint64_t>(p + kOffSegBytes);
  if (Error e = check_limits(h.control_bytes, h.segment_count, h.segment_bytes); !e.ok()) return e;
  if (h.segment_count == 0 && h.segment_bytes != 0) {
    return Error::make(ErrorCode::kBadSegmentTable,
                       fmt::format("frame has no segments but claims {} segment bytes",
                                   h.segment_bytes));
  }
  out = h;
  return Error::success();
}

void encode_segment_table(std::span<const uint64_t> lengths, std::span<std::byte> out) {
  for (size_t i = 0; i < lengths.size(); ++i) put_le<uint64_t>(out.data() + i * 8, lengths[i]);
}

Error decode_segment_table(const FrameHeader& header, std::span<const std::byte> bytes,
                           std::vector<uint64_t>& out) {
  if (bytes.size() < header.table_bytes()) {
    return Error::make(ErrorCode::kTruncated,
                       fmt::format("segment table needs {} bytes, got {}", header.table_bytes(),
                                   bytes.size()));
  }
  std::vector<uint64_t> lengths(header.segment_count);
  uint64_t total = 0;
  for (uint32_t i = 0; i < header.segment_count; ++i) {
    lengths[i] = get_le<uint64_t>(bytes.data() + size_t{i} * 8);
    if (lengths[i] > kMaxSegmentBytes) {
      return Error::make(ErrorCode::kOversized,
                         fmt::format("segment {} of {} bytes exceeds the limit of {} bytes", i,
                                     lengths[i], kMaxSegmentBytes));
    }
    total += lengths[i];  // at most 64 * 4 GiB: no overflow
  }
  if (total != header.segment_bytes) {
    return Error::make(ErrorCode::kBadSegmentTable,
                       fmt::format("segment lengths add up to {} bytes but the header says {}",
                                   total, header.segment_bytes));
  }
  out = std::move(lengths);
  return Error::success();
}

Error decode_frame(std::span<const std::byte> bytes, FrameView& out, size_t& consumed) {
  FrameHeader h;
  if (Error e = decode_header(bytes, h); !e.ok()) return e;
  std::vector<uint64_t> lengths;
  auto rest = bytes.subspan(kFrameHeaderBytes);
  if (Error e = decode_segment_table(h, rest, lengths); !e.ok()) return e;
  rest = rest.subspan(h.table_bytes());
  if (rest.size() < h.control_bytes) {
    return Error::make(ErrorCode::kTruncated,
                       fmt::format("control message needs {} bytes, got {}", h.control_bytes,
                                   rest.size()));
  }
  FrameView v;
  v.header = h;
  v.control = rest.first(h.control_bytes);
  rest = rest.subspan(h.control_bytes);
  if (rest.size() < h.segment_bytes) {
    return Error::make(ErrorCode::kTruncated,
                       fmt::format("segments need {} bytes, got {}", h.segment_bytes,
                                   rest.size()));
  }
  for (uint64_t len : lengths) {
    v.segments.push_back(rest.first(len));
    rest = rest.subspan(len);
  }
  v.segment_lengths = std::move(lengths);
  consumed = static_cast<size_t>(h.frame_bytes());
  out = std::move(v);
  return Error::success();
}

void write_frame(const FrameHeader& header, std::span<const std::byte> control,
                 std::span<const std::span<const std::byte>> segments, std::span<std::byte> out) {
  std::byte* p = out.data();
  const HeaderBytes hb = encode_header(header);
  std::memcpy(p, hb.data(), hb.size());
  p += hb.size();
  uint64_t lengths[kMaxSegments];
  for (size_t i = 0; i < segments.size(); ++i) lengths[i] = segments[i].size();
  encode_segment_table(std::span(lengths, segments.size()), std::span(p, header.table_bytes()));
  p += header.table_bytes();
  if (!control.empty()) std::memcpy(p, control.data(), control.size());
  p += control.size();
  for (auto s : segments) {
    if (!s.empty()) std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
}

Error encode_frame(std::span<const std::byte> control,
                   std::span<const std::span<const std::byte>> segments,
                   std::vector<std::byte>& out) {
  std::vector<uint64_t> lengths;
  lengths.reserve(segments.size());
  for (auto s : segments) lengths.push_back(s.size());
  FrameHeader h;
  if (Error e = make_header(control.size(), lengths, h); !e.ok()) return e;
  std::vector<std::byte> buf(static_cast<size_t>(h.frame_bytes()));
  write_frame(h, control, segments, buf);
  out = std::move(buf);
  return Error::success();
}

}  // namespace gpool::protocol
