#include "test_messages.h"

namespace gpool::protocol::test {

std::vector<wire::Message> all_message_types() {
  std::vector<wire::Message> out;
  for (int t = wire::Message_MIN + 1; t <= wire::Message_MAX; ++t) out.push_back(static_cast<wire::Message>(t));
  return out;
}

std::vector<std::byte> sample_envelope(wire::Message type, uint32_t segments) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<uint32_t> refs;
  for (uint32_t i = segments; i > 0; --i) refs.push_back(i - 1);
  switch (type) {
    case wire::Message_Hello: {
      auto client = wire::CreateClientInfoDirect(fbb, "host-a", 4242, "/usr/bin/app", "0.1.0");
      finish_envelope(fbb, wire::CreateHelloDirect(fbb, 1, "tenant-token", client));
      break;
    }
    case wire::Message_Welcome: {
      auto server = wire::CreateServerInfoDirect(fbb, "gpu-node", "0.1.0", "emulator");
      finish_envelope(fbb, wire::CreateWelcome(fbb, 1, 77, server));
      break;
    }
    case wire::Message_Refusal:
      finish_envelope(fbb, wire::CreateRefusalDirect(fbb, wire::RefusalReason_BadCredential, "no such tenant"));
      break;
    case wire::Message_Abort:
      finish_envelope(fbb, wire::CreateAbortDirect(fbb, wire::AbortReason_MalformedFrame, "bad frame"));
      break;
    case wire::Message_Unimplemented:
      finish_envelope(fbb, wire::CreateUnimplemented(fbb, wire::Message_Call, 9, 1234));
      break;
    case wire::Message_Ping:
      finish_envelope(fbb, wire::CreatePing(fbb, 0x1122334455667788ull));
      break;
    case wire::Message_Pong:
      finish_envelope(fbb, wire::CreatePong(fbb, 0x1122334455667788ull));
      break;
    case wire::Message_Call: {
      std::vector<uint64_t> args{1, 0xdeadbeef, 4096};
      std::vector<wire::HandleRef> handles{wire::HandleRef(5, wire::HandleKind_Stream)};
      std::vector<uint8_t> inline_data{1, 2, 3};
      finish_envelope(fbb, wire::CreateCallDirect(fbb, 42, 7, 100, wire::CallFlags_Async, &args,
                                                  &handles, &inline_data, &refs));
      break;
    }
    case wire::Message_Reply: {
      std::vector<uint64_t> results{0x7f0000001000ull};
      finish_envelope(fbb, wire::CreateReplyDirect(fbb, 42, 0, 7, 700, 5, &results, nullptr, &refs));
      break;
    }
    case wire::Message_NONE:
      break;
  }
  auto b = finished_bytes(fbb);
  return {b.begin(), b.end()};
}

}  // namespace gpool::protocol::test
