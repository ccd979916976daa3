#include "hello_reader.h"

#include <fmt/format.h>

#include "gpool/protocol/frame.h"

namespace gpool::server {

HelloReader::State HelloReader::fail(std::string text) {
  state_ = State::failed;
  error_ = std::move(text);
  envelope_ = nullptr;
  return state_;
}

const protocol::wire::Hello* HelloReader::hello() const {
  return envelope_ != nullptr ? envelope_->message_as_Hello() : nullptr;
}

HelloReader::State HelloReader::feed(std::span<const std::byte> bytes) {
  if (state_ == State::failed) return state_;
  if (state_ == State::done) {
    return bytes.empty() ? state_ : fail("bytes after the first frame, before the server's answer");
  }
  if (bytes.size() > kMaxHelloBytes - buf_.size()) {
    return fail(fmt::format("more than {} bytes before the first frame was complete", kMaxHelloBytes));
  }
  buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  if (buf_.size() < protocol::kFrameHeaderBytes) return state_;
  protocol::FrameHeader header;
  if (protocol::Error e = protocol::decode_header(std::span(buf_).first(protocol::kFrameHeaderBytes), header);
      !e.ok()) {
    return fail(fmt::format("bad frame header: {}", e.text));
  }
  if (header.frame_bytes() > kMaxHelloBytes) {
    return fail(fmt::format("a first frame of {} bytes (at most {} are accepted before authentication)",
                            header.frame_bytes(), kMaxHelloBytes));
  }
  if (header.segment_count != 0) return fail("the first frame carries segments");
  if (buf_.size() < header.frame_bytes()) return state_;
  if (buf_.size() > header.frame_bytes()) {
    return fail("bytes after the first frame, before the server's answer");
  }
  protocol::FrameView view;
  size_t consumed = 0;
  if (protocol::Error e = protocol::decode_frame(buf_, view, consumed); !e.ok()) {
    return fail(fmt::format("bad first frame: {}", e.text));
  }
  const protocol::wire::Envelope* env = nullptr;
  if (protocol::Error e = protocol::verify_envelope(view.control, 0, env); !e.ok()) {
    return fail(fmt::format("bad first message: {}", e.text));
  }
  envelope_ = env;
  state_ = State::done;
  return state_;
}

}  // namespace gpool::server
