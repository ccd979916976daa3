// Reads a session's first frame (the Hello) without blocking, a piece at a time.
//
// The supervisor keeps one HelloReader per accepted, not yet authenticated connection and
// feeds it whatever bytes have arrived (recv with MSG_DONTWAIT after poll said readable), so a
// peer that sends slowly, partly or nothing delays nobody else (supervisor.h, preauth.h).
// The reader takes at most kMaxHelloBytes and decides as early as it can: a bad frame header is
// refused after its 32 bytes, a frame that would be larger than kMaxHelloBytes likewise.
//
// A complete frame is checked the way a transport checks any frame (protocol::decode_frame,
// protocol::verify_envelope); then it must carry no segments and be the only bytes sent (a
// client sends nothing after its Hello until the Welcome, so extra bytes are a violation and
// the connection can be handed on with nothing buffered).
//
// Ownership: the reader owns its buffer; envelope() points into it and is valid until the next
// feed() or the reader's destruction. Thread safety: one thread. Errors: state() failed with
// error() saying what was wrong, for the log (never sent to the peer verbatim).
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "gpool/protocol/message.h"

namespace gpool::server {

class HelloReader {
 public:
  static constexpr size_t kMaxHelloBytes = 16 * 1024;
  enum class State { need_more, done, failed };

  // Appends `bytes` (any size, also 0) and re-examines the buffer. Once done or failed, further
  // bytes make it failed ("bytes after the first frame").
  State feed(std::span<const std::byte> bytes);

  State state() const { return state_; }
  const std::string& error() const { return error_; }
  // The verified envelope (any message type: the caller checks it is a Hello). REQUIRES: done.
  const protocol::wire::Envelope* envelope() const { return envelope_; }
  // The Hello, or nullptr when the first message is something else. REQUIRES: done.
  const protocol::wire::Hello* hello() const;
  size_t buffered() const { return buf_.size(); }

 private:
  State fail(std::string text);

  std::vector<std::byte> buf_;
  State state_ = State::need_more;
  std::string error_;
  const protocol::wire::Envelope* envelope_ = nullptr;
};

}  // namespace gpool::server
