// libFuzzer target: the supervisor's handshake. Bytes arrive in pieces (the first byte sets the
// piece size) into a HelloReader (server/src/hello_reader.h), exactly as the supervisor feeds
// each pending connection; a complete Hello is read the way Supervisor::answer reads it, and
// the peer text goes through source_address (preauth.h).
#include <cstddef>
#include <cstdint>
#include <string>

#include "hello_reader.h"
#include "preauth.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gpool::server;
  if (size < 1) return 0;
  const size_t piece = 1 + data[0] % 64;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data + 1), size - 1);
  HelloReader reader;
  for (size_t at = 0; at < bytes.size() && reader.state() == HelloReader::State::need_more; at += piece) {
    reader.feed(bytes.subspan(at, std::min(piece, bytes.size() - at)));
  }
  size_t sink = reader.error().size();
  if (reader.state() == HelloReader::State::done) {
    if (const auto* hello = reader.hello()) {
      sink += hello->protocol_version();
      if (hello->token()) sink += hello->token()->string_view().size();
      if (hello->client() && hello->client()->program()) sink += hello->client()->program()->str().size();
      if (hello->client()) sink += hello->client()->pid();
    }
  }
  const std::string peer(reinterpret_cast<const char*>(data + 1), std::min<size_t>(size - 1, 80));
  sink += source_address(peer).size();
  volatile size_t keep = sink;
  (void)keep;
  return 0;
}
