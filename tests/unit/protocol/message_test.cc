// Control messages: every kind round-trips through a frame and the verifier; every gpool rule
// on top of the FlatBuffers verifier rejects what it must.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "gpool/protocol/frame.h"
#include "gpool/protocol/limits.h"
#include "gpool/protocol/message.h"
#include "test_messages.h"

namespace gpool::protocol {
namespace {

using test::bytes_of;

// Frames `control` with `n` segments, decodes, verifies, returns the envelope (in `keep`).
const wire::Envelope* through_frame(const std::vector<std::byte>& control, uint32_t n,
                                    std::vector<std::byte>& keep, std::vector<std::string>& payloads,
                                    FrameView& view) {
  std::vector<std::span<const std::byte>> segs;
  payloads.clear();
  for (uint32_t i = 0; i < n; ++i) payloads.push_back("payload-" + std::to_string(i));
  for (auto& p : payloads) segs.push_back(bytes_of(p));
  EXPECT_TRUE(encode_frame(control, segs, keep).ok());
  size_t consumed = 0;
  Error e = decode_frame(keep, view, consumed);
  EXPECT_TRUE(e.ok()) << e.text;
  // The control bytes sit at offset 32 + 8n of the frame: copy to an aligned buffer, as a
  // transport does.
  static std::vector<std::byte> aligned;
  aligned.assign(view.control.begin(), view.control.end());
  const wire::Envelope* env = nullptr;
  e = verify_envelope(aligned, n, env);
  EXPECT_TRUE(e.ok()) << e.text;
  return env;
}

void expect_fields(const wire::Envelope& env) {
  switch (env.message_type()) {
    case wire::Message_Hello: {
      auto* m = env.message_as_Hello();
      EXPECT_EQ(m->protocol_version(), 1);
      EXPECT_EQ(m->token()->str(), "tenant-token");
      EXPECT_EQ(m->client()->hostname()->str(), "host-a");
      EXPECT_EQ(m->client()->pid(), 4242u);
      EXPECT_EQ(m->client()->program()->str(), "/usr/bin/app");
      EXPECT_EQ(m->client()->shim_version()->str(), "0.1.0");
      break;
    }
    case wire::Message_Welcome: {
      auto* m = env.message_as_Welcome();
      EXPECT_EQ(m->session_id(), 77u);
      EXPECT_EQ(m->server()->backend()->str(), "emulator");
      break;
    }
    case wire::Message_Refusal:
      EXPECT_EQ(env.message_as_Refusal()->reason(), wire::RefusalReason_BadCredential);
      EXPECT_EQ(env.message_as_Refusal()->text()->str(), "no such tenant");
      break;
    case wire::Message_Abort:
      EXPECT_EQ(env.message_as_Abort()->reason(), wire::AbortReason_MalformedFrame);
      break;
    case wire::Message_Unimplemented:
      EXPECT_EQ(env.message_as_Unimplemented()->request_type(), wire::Message_Call);
      EXPECT_EQ(env.message_as_Unimplemented()->opcode(), 1234u);
      break;
    case wire::Message_Ping:
      EXPECT_EQ(env.message_as_Ping()->nonce(), 0x1122334455667788ull);
      break;
    case wire::Message_Pong:
      EXPECT_EQ(env.message_as_Pong()->nonce(), 0x1122334455667788ull);
      break;
    case wire::Message_Call: {
      auto* m = env.message_as_Call();
      EXPECT_EQ(m->call_id(), 42u);
      EXPECT_EQ(m->seq(), 7u);
      EXPECT_EQ(m->opcode(), 100u);
      EXPECT_EQ(m->flags(), wire::CallFlags_Async);
      ASSERT_EQ(m->args()->size(), 3u);
      EXPECT_EQ(m->args()->Get(1), 0xdeadbeefu);
      EXPECT_EQ(m->handles()->Get(0)->id(), 5u);
      EXPECT_EQ(m->handles()->Get(0)->kind(), wire::HandleKind_Stream);
      EXPECT_EQ(m->inline_data()->size(), 3u);
      break;
    }
    case wire::Message_Reply: {
      auto* m = env.message_as_Reply();
      EXPECT_EQ(m->completed_seq(), 7u);
      EXPECT_EQ(m->sticky_status(), 700);
      EXPECT_EQ(m->sticky_seq(), 5u);
      EXPECT_EQ(m->results()->Get(0), 0x7f0000001000ull);
      break;
    }
    default:
      ADD_FAILURE() << "unexpected type " << int(env.message_type());
  }
}

class EveryMessage : public ::testing::TestWithParam<wire::Message> {};

TEST_P(EveryMessage, RoundTripsWithoutSegments) {
  std::vector<std::byte> frame;
  std::vector<std::string> payloads;
  FrameView view;
  const wire::Envelope* env = through_frame(test::sample_envelope(GetParam()), 0, frame, payloads, view);
  ASSERT_NE(env, nullptr);
  EXPECT_EQ(env->message_type(), GetParam());
  expect_fields(*env);
}

TEST_P(EveryMessage, SegmentsAllowedOnlyOnCallAndReply) {
  const bool bulk = GetParam() == wire::Message_Call || GetParam() == wire::Message_Reply;
  auto control = test::sample_envelope(GetParam(), 3);
  if (bulk) {
    std::vector<std::byte> frame;
    std::vector<std::string> payloads;
    FrameView view;
    const wire::Envelope* env = through_frame(control, 3, frame, payloads, view);
    ASSERT_NE(env, nullptr);
    expect_fields(*env);
    ASSERT_EQ(view.segments.size(), 3u);
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(view.segments[i].data()), view.segments[i].size()),
                "payload-" + std::to_string(i));
    }
  } else {
    const wire::Envelope* env = nullptr;
    Error e = verify_envelope(control, 2, env);
    EXPECT_EQ(e.code, ErrorCode::kVerificationFailed);
    EXPECT_NE(e.text.find("no bulk data"), std::string::npos) << e.text;
    EXPECT_EQ(env, nullptr);
  }
}

INSTANTIATE_TEST_SUITE_P(All, EveryMessage, ::testing::ValuesIn(test::all_message_types()),
                         [](const auto& info) { return message_type_name(info.param); });

TEST(SegmentRefs, MustNameEachSegmentOnce) {
  const wire::Envelope* env = nullptr;
  auto call = test::sample_envelope(wire::Message_Call, 2);  // names 1, 0
  EXPECT_TRUE(verify_envelope(call, 2, env).ok());
  EXPECT_EQ(verify_envelope(call, 3, env).code, ErrorCode::kVerificationFailed);  // one unused
  EXPECT_EQ(verify_envelope(call, 1, env).code, ErrorCode::kVerificationFailed);  // too many

  flatbuffers::FlatBufferBuilder fbb;
  std::vector<uint32_t> dup{0, 0};
  finish_envelope(fbb, wire::CreateCallDirect(fbb, 1, 1, 1, wire::CallFlags_NONE, nullptr, nullptr, nullptr, &dup));
  Error e = verify_envelope(finished_bytes(fbb), 2, env);
  EXPECT_EQ(e.code, ErrorCode::kVerificationFailed);
  EXPECT_NE(e.text.find("twice"), std::string::npos) << e.text;

  flatbuffers::FlatBufferBuilder fbb2;
  std::vector<uint32_t> out_of_range{0, 5};
  finish_envelope(fbb2, wire::CreateReplyDirect(fbb2, 1, 0, 0, 0, 0, nullptr, nullptr, &out_of_range));
  e = verify_envelope(finished_bytes(fbb2), 2, env);
  EXPECT_EQ(e.code, ErrorCode::kVerificationFailed);
  EXPECT_NE(e.text.find("segment 5"), std::string::npos) << e.text;
}

TEST(Limits, LongStringsAreOversized) {
  const std::string long_text(kMaxStringBytes + 1, 'x');
  const wire::Envelope* env = nullptr;
  {
    flatbuffers::FlatBufferBuilder fbb;
    finish_envelope(fbb, wire::CreateHelloDirect(fbb, 1, long_text.c_str(), 0));
    Error e = verify_envelope(finished_bytes(fbb), 0, env);
    EXPECT_EQ(e.code, ErrorCode::kOversized);
    EXPECT_NE(e.text.find("hello token"), std::string::npos) << e.text;
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    auto client = wire::CreateClientInfoDirect(fbb, long_text.c_str(), 1, "p", "v");
    finish_envelope(fbb, wire::CreateHelloDirect(fbb, 1, "t", client));
    EXPECT_EQ(verify_envelope(finished_bytes(fbb), 0, env).code, ErrorCode::kOversized);
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    finish_envelope(fbb, wire::CreateAbortDirect(fbb, wire::AbortReason_Internal, long_text.c_str()));
    EXPECT_EQ(verify_envelope(finished_bytes(fbb), 0, env).code, ErrorCode::kOversized);
  }
  {
    const std::string ok_text(kMaxStringBytes, 'x');
    flatbuffers::FlatBufferBuilder fbb;
    finish_envelope(fbb, wire::CreateRefusalDirect(fbb, wire::RefusalReason_Internal, ok_text.c_str()));
    EXPECT_TRUE(verify_envelope(finished_bytes(fbb), 0, env).ok());
  }
}

TEST(Limits, CallVectorsAreBounded) {
  const wire::Envelope* env = nullptr;
  {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<uint64_t> args(kMaxCallArgs + 1, 1);
    finish_envelope(fbb, wire::CreateCallDirect(fbb, 1, 1, 1, wire::CallFlags_NONE, &args));
    EXPECT_EQ(verify_envelope(finished_bytes(fbb), 0, env).code, ErrorCode::kOversized);
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<uint8_t> data(kMaxInlineBytes + 1, 1);
    finish_envelope(fbb, wire::CreateCallDirect(fbb, 1, 1, 1, wire::CallFlags_NONE, nullptr, nullptr, &data));
    Error e = verify_envelope(finished_bytes(fbb), 0, env);
    EXPECT_EQ(e.code, ErrorCode::kOversized);
    EXPECT_NE(e.text.find("inline"), std::string::npos) << e.text;
  }
  {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<uint64_t> results(kMaxCallArgs + 1, 1);
    finish_envelope(fbb, wire::CreateReplyDirect(fbb, 1, 0, 0, 0, 0, &results));
    EXPECT_EQ(verify_envelope(finished_bytes(fbb), 0, env).code, ErrorCode::kOversized);
  }
}

TEST(Verify, RejectsWhatIsNotAnEnvelope) {
  const wire::Envelope* env = nullptr;
  EXPECT_EQ(verify_envelope({}, 0, env).code, ErrorCode::kVerificationFailed);
  const std::string text = "this is not a flatbuffer at all";
  std::vector<std::byte> garbage(bytes_of(text).begin(), bytes_of(text).end());
  EXPECT_EQ(verify_envelope(garbage, 0, env).code, ErrorCode::kVerificationFailed);

  // Right identifier, broken offsets.
  auto ping = test::sample_envelope(wire::Message_Ping);
  auto broken = ping;
  broken[0] = std::byte{0xF0};
  broken[1] = std::byte{0xFF};
  EXPECT_EQ(verify_envelope(broken, 0, env).code, ErrorCode::kVerificationFailed);

  // A truncated envelope never verifies.
  for (size_t cut = 0; cut < ping.size(); ++cut) {
    std::vector<std::byte> part(ping.begin(), ping.begin() + cut);
    EXPECT_FALSE(verify_envelope(part, 0, env).ok()) << "cut at " << cut;
  }

  // An envelope without a message.
  flatbuffers::FlatBufferBuilder fbb;
  wire::FinishEnvelopeBuffer(fbb, wire::CreateEnvelope(fbb));
  Error e = verify_envelope(finished_bytes(fbb), 0, env);
  EXPECT_EQ(e.code, ErrorCode::kVerificationFailed);
  EXPECT_NE(e.text.find("no message"), std::string::npos) << e.text;
  EXPECT_EQ(env, nullptr);

  // A union type without its table (found by the fuzz test: the verifier accepts it).
  for (wire::Message t : test::all_message_types()) {
    flatbuffers::FlatBufferBuilder b;
    wire::EnvelopeBuilder eb(b);
    eb.add_message_type(t);
    wire::FinishEnvelopeBuffer(b, eb.Finish());
    e = verify_envelope(finished_bytes(b), 0, env);
    EXPECT_EQ(e.code, ErrorCode::kVerificationFailed) << message_type_name(t);
    EXPECT_NE(e.text.find("holds no message table"), std::string::npos) << e.text;
  }
}

TEST(Verify, UnknownMemberFromNewerPeerIsPassedOnForUnimplemented) {
  flatbuffers::FlatBufferBuilder fbb;
  auto table = wire::CreatePing(fbb, 1);  // any table stands in for a future member
  wire::FinishEnvelopeBuffer(fbb, wire::CreateEnvelope(fbb, static_cast<wire::Message>(200), table.Union()));
  const wire::Envelope* env = nullptr;
  ASSERT_TRUE(verify_envelope(finished_bytes(fbb), 0, env).ok());
  EXPECT_EQ(env->message_type(), 200);
  EXPECT_EQ(message_type_name(env->message_type()), "unknown(200)");
  EXPECT_EQ(message_type_name(wire::Message_Hello), "Hello");
}

}  // namespace
}  // namespace gpool::protocol
