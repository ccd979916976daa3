#include "admin.h"

#include <unistd.h>

#include <chrono>

#include <fmt/format.h>

#include "gpool/remote/call_codec.h"
#include "gpool/transport/transport.h"

namespace gpool::tools {
namespace {
namespace wire = protocol::wire;
constexpr std::chrono::milliseconds kTimeout{5000};

// One admin call `op` with no arguments; `text` is the Reply's inline text. A Reply with a
// non-zero status is an error whose text is the server's reason.
// What to check when the handshake failed, by scheme (a plain client of a tls:// port only sees
// the server close; a tls:// client names the failed check itself).
std::string hint(const std::string& url, const transport::Status& s) {
  if (url.rfind("tls://", 0) == 0) {
    return s.text.find("certificate") != std::string::npos || s.text.find("fingerprint") != std::string::npos
               ? " (GPOOL_TLS_CA / GPOOL_TLS_FINGERPRINT check the server; GPOOL_TLS_CERT / "
                 "GPOOL_TLS_KEY are this client's certificate)"
               : "";
  }
  return s.code == transport::Code::kDisconnected ? " (if the server listens on tls://, use a tls:// URL)" : "";
}

bool admin_call(const std::string& url, const std::string& token, remote::Op op, const char* what,
                bool status_only, std::string& text, std::string& error) {
  std::unique_ptr<transport::Connection> conn;
  transport::Options opts = transport::Options::from_env();
  opts.connect_timeout = kTimeout;
  if (transport::Status s = transport::connect(url, opts, conn); !s.ok()) {
    error = "cannot reach " + url + ": " + s.text;
    return false;
  }
  flatbuffers::FlatBufferBuilder fbb;
  auto info = wire::CreateClientInfo(fbb, fbb.CreateString("gpool"), static_cast<uint32_t>(::getpid()),
                                     fbb.CreateString(std::string("gpool ") + what), fbb.CreateString(GPOOL_VERSION));
  auto hello = wire::CreateHello(fbb, protocol::kProtocolVersion, fbb.CreateString(token), info, status_only);
  protocol::finish_envelope(fbb, hello);
  if (transport::Status s = conn->send(protocol::finished_bytes(fbb), {}, kTimeout); !s.ok()) {
    error = "cannot send Hello: " + s.text + hint(url, s);
    return false;
  }
  transport::FrameHead head;
  if (transport::Status s = conn->recv_head(head, kTimeout); !s.ok()) {
    error = "no handshake answer: " + s.text + hint(url, s);
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
  remote::build_call(fbb, 1, 1, op, false, {}, {}, {}, 0);
  if (transport::Status s = conn->send(protocol::finished_bytes(fbb), {}, kTimeout); !s.ok()) {
    error = fmt::format("cannot send the {} call: {}", what, s.text);
    return false;
  }
  // A reload re-reads and checks a file: give it longer than a status.
  if (transport::Status s = conn->recv_head(head, 4 * kTimeout); !s.ok()) {
    error = fmt::format("no {} answer{}: {}", what, status_only ? "" : " (is the token an admin tenant's?)", s.text);
    return false;
  }
  if (const wire::Abort* a = head.envelope->message_as_Abort()) {
    error = fmt::format("the server refused the {} call: {}", what, a->text() ? a->text()->str() : "");
    return false;
  }
  // A session tenant's reload reaches a session worker, which knows no admin calls.
  if (head.envelope->message_as_Unimplemented() != nullptr) {
    error = fmt::format("the server does not take a {} call from this token: it needs an admin tenant's token",
                        what);
    return false;
  }
  const wire::Reply* r = head.envelope->message_as_Reply();
  if (r == nullptr || r->inline_data() == nullptr) {
    error = fmt::format("the server sent a malformed {} answer", what);
    return false;
  }
  text.assign(reinterpret_cast<const char*>(r->inline_data()->data()), r->inline_data()->size());
  if (r->status() != 0) {
    error = fmt::format("the server's {} failed: {}", what, text);
    return false;
  }
  return true;
}

}  // namespace

bool fetch_status(const std::string& url, const std::string& token, std::string& json,
                  std::string& error) {
  return admin_call(url, token, remote::Op::ServerStatus, "status", true, json, error);
}

bool request_reload(const std::string& url, const std::string& token, std::string& summary,
                    std::string& error) {
  return admin_call(url, token, remote::Op::ServerReload, "reload", false, summary, error);
}

}  // namespace gpool::tools
