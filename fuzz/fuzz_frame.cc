// libFuzzer target: frame decoding (protocol/frame.h) and envelope verification
// (protocol/message.h) of arbitrary bytes, as a transport receives them.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gpool/protocol/frame.h"
#include "gpool/protocol/message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gpool::protocol;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  FrameHeader header;
  if (size >= kFrameHeaderBytes && decode_header(bytes.first(kFrameHeaderBytes), header).ok()) {
    std::vector<uint64_t> lengths;
    (void)decode_segment_table(header, bytes.subspan(kFrameHeaderBytes), lengths);
  }
  FrameView view;
  size_t consumed = 0;
  if (!decode_frame(bytes, view, consumed).ok()) return 0;
  // The control message, in an 8-byte aligned buffer as a transport keeps it.
  std::vector<uint64_t> aligned((view.control.size() + 7) / 8);
  if (!view.control.empty()) std::memcpy(aligned.data(), view.control.data(), view.control.size());
  const std::span<const std::byte> control(reinterpret_cast<const std::byte*>(aligned.data()), view.control.size());
  const wire::Envelope* env = nullptr;
  if (verify_envelope(control, header.segment_count, env).ok()) {
    (void)message_type_name(env->message_type());
  }
  return 0;
}
