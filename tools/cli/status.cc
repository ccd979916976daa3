#include "status.h"

#include <unistd.h>

#include <chrono>

#include "gpool/remote/call_codec.h"
#include "gpool/transport/transport.h"

namespace gpool::tools {
namespace {
namespace wire = protocol::wire;
constexpr std::chrono::milliseconds kTimeout{5000};
}  // namespace

bool fetch_status(const std::string& url, const std::string& token, std::string& json,
                  std::string& error) {
  std::unique_ptr<transport::Connection> conn;
  transport::Options opts = transport::Options::from_env();
  opts.connect_timeout = kTimeout;
  if (transport::Status s = transport::connect(url, opts, conn); !s.ok()) {
    error = "cannot reach " + url + ": " + s.text;
    return false;
  }
  flatbuffers::FlatBufferBuilder fbb;
  auto info = wire::CreateClientInfo(fbb, fbb.CreateString("gpool"), static_cast<uint32_t>(::getpid()),
                                     fbb.CreateString("gpool status"), fbb.CreateString("0.1.0"));
  auto hello = wire::CreateHello(fbb, protocol::kProtocolVersion, fbb.CreateString(token), info);
  protocol::finish_envelope(fbb, hello);
  if (transport::Status s = conn->send(protocol::finished_bytes(fbb), {}, kTimeout); !s.ok()) {
    error = "cannot send Hello: " + s.text;
    return false;
  }
  transport::FrameHead head;
  if (transport::Status s = conn->recv_head(head, kTimeout); !s.ok()) {
    error = "no handshake answer: " + s.text;
    return false;
  }
  if (const wire::Refusal* r = head.envelope->message_as_Refusal()) {
    error = std::string("the server refused the session (") + wire::EnumNameRefusalReason(r->reason()) +
            "): " + (r->text() ? r->text()->str() : "");
    return false;
  }
  if (head.envelope->message_as_Welcome() == nullptr) {
    error = "the server answered Hello with " + protocol::message_type_name(head.envelope->message_type());
    return false;
  }
  remote::build_call(fbb, 1, 1, remote::Op::ServerStatus, false, {}, {}, {}, 0);
  if (transport::Status s = conn->send(protocol::finished_bytes(fbb), {}, kTimeout); !s.ok()) {
    error = "cannot send the status call: " + s.text;
    return false;
  }
  if (transport::Status s = conn->recv_head(head, kTimeout); !s.ok()) {
    error = "no status answer (is the token an admin tenant's?): " + s.text;
    return false;
  }
  if (const wire::Abort* a = head.envelope->message_as_Abort()) {
    error = std::string("the server refused the status call: ") + (a->text() ? a->text()->str() : "");
    return false;
  }
  const wire::Reply* r = head.envelope->message_as_Reply();
  if (r == nullptr || r->status() != 0 || r->inline_data() == nullptr) {
    error = "the server sent a malformed status answer";
    return false;
  }
  json.assign(reinterpret_cast<const char*>(r->inline_data()->data()), r->inline_data()->size());
  return true;
}

}  // namespace gpool::tools
