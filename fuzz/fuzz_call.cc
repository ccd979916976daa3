// libFuzzer target: the server's call decoding. A worker receives a frame, the transport
// verifies its control message (protocol::verify_envelope, with the frame's segment count) and
// the worker then reads the Call's fields (Worker::Ctx: args, handles, inline data, segment
// indices) and decodes what it carries (remote::decode_devices). The input is the segment count
// (first byte) and the control bytes (the rest), so the fuzzer works on the FlatBuffer itself.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "gpool/protocol/message.h"
#include "gpool/remote/call_codec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gpool;
  if (size < 1) return 0;
  const uint32_t segment_count = data[0] % 70;  // a little past kMaxSegments
  std::vector<uint64_t> aligned((size - 1 + 7) / 8);
  if (size > 1) std::memcpy(aligned.data(), data + 1, size - 1);
  const std::span<const std::byte> control(reinterpret_cast<const std::byte*>(aligned.data()), size - 1);
  const protocol::wire::Envelope* env = nullptr;
  if (!protocol::verify_envelope(control, segment_count, env).ok()) return 0;
  uint64_t sink = 0;
  if (const auto* call = env->message_as_Call()) {
    sink += call->call_id() + call->seq() + call->opcode() + call->flags();
    if (call->args()) for (uint64_t a : *call->args()) sink += a;
    if (call->handles()) for (const auto* h : *call->handles()) sink += h->id() + static_cast<uint64_t>(h->kind());
    if (call->segments()) for (uint32_t s : *call->segments()) sink += s;
    if (call->inline_data()) {
      const std::span<const std::byte> inl(reinterpret_cast<const std::byte*>(call->inline_data()->data()),
                                           call->inline_data()->size());
      std::vector<remote::DeviceInfo> devices;
      if (remote::decode_devices(inl, devices)) sink += devices.size();
    }
  } else if (const auto* reply = env->message_as_Reply()) {
    if (reply->results()) for (uint64_t r : *reply->results()) sink += r;
  } else if (const auto* hello = env->message_as_Hello()) {
    if (hello->token()) sink += hello->token()->size();
  }
  volatile uint64_t keep = sink;
  (void)keep;
  return 0;
}
