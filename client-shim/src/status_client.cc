#include "status_client.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include <fmt/format.h>

#include "gpool/common/json.h"
#include "gpool/remote/call_codec.h"
#include "gpool/transport/transport.h"

namespace gpool::client {
namespace {
namespace wire = protocol::wire;
constexpr std::chrono::milliseconds kTimeout{5000};

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

// One admin call `op` with no arguments; `text` is the Reply's inline text. A Reply with a
// non-zero status is an error whose text is the server's reason.
bool admin_call(const std::string& url, const std::string& token, const std::string& program,
                remote::Op op, const char* what, bool status_only, std::string& text, std::string& error,
                Failure& failure) {
  failure = Failure::kUnreachable;
  std::unique_ptr<transport::Connection> conn;
  transport::Options opts = transport::Options::from_env();
  opts.connect_timeout = kTimeout;
  if (transport::Status s = transport::connect(url, opts, conn); !s.ok()) {
    error = "cannot reach " + url + ": " + s.text;
    return false;
  }
  flatbuffers::FlatBufferBuilder fbb;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  auto info = wire::CreateClientInfo(fbb, fbb.CreateString(host), static_cast<uint32_t>(::getpid()),
                                     fbb.CreateString(program + " " + what), fbb.CreateString(GPOOL_CLIENT_VERSION));
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
  failure = Failure::kRefused;
  if (const wire::Refusal* r = head.envelope->message_as_Refusal()) {
    error = std::string("the server refused the session (") + wire::EnumNameRefusalReason(r->reason()) +
            "): " + (r->text() ? r->text()->str() : "");
    if (r->reason() != wire::RefusalReason_BadCredential) failure = Failure::kOther;
    return false;
  }
  failure = Failure::kOther;
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
  failure = Failure::kNone;
  return true;
}

int as_int(const json::Value& v) { return static_cast<int>(v.num()); }

}  // namespace

bool fetch_status(const std::string& url, const std::string& token, const std::string& program,
                  std::string& json, std::string& error, Failure* failure) {
  Failure f = Failure::kNone;
  const bool ok = admin_call(url, token, program, remote::Op::ServerStatus, "status", true, json, error, f);
  if (failure != nullptr) *failure = f;
  return ok;
}

bool request_reload(const std::string& url, const std::string& token, std::string& summary,
                    std::string& error) {
  Failure f = Failure::kNone;
  return admin_call(url, token, "gpool", remote::Op::ServerReload, "reload", false, summary, error, f);
}

bool fetch_view(const std::string& url, const std::string& token, const std::string& program,
                StatusView& view, std::string& error, Failure* failure, std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  for (;;) {
    std::string json;
    if (!fetch_status(url, token, program, json, error, failure)) return false;
    if (!parse_status(json, view, error)) {
      if (failure != nullptr) *failure = Failure::kOther;
      return false;
    }
    if (!view.devices.empty() || view.driver_version != 0 || std::chrono::steady_clock::now() >= deadline) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool parse_status(const std::string& text, StatusView& out, std::string& error) {
  json::Value doc;
  if (!json::parse(text, doc) || doc.kind != json::Value::kObject || doc["sessions"].kind != json::Value::kArray) {
    error = "the server's status is not a status document";
    return false;
  }
  out = {};
  out.tenant = doc["tenant"].str();
  out.driver_version = as_int(doc["driver_version"]);
  out.server_version = doc["server_version"].str();
  for (const json::Value& d : doc["devices"].items) {
    DeviceView v;
    v.index = as_int(d["index"]);
    v.name = d["name"].str();
    v.uuid = d["uuid"].str();
    v.pci_domain = as_int(d["pci_domain"]);
    v.pci_bus = as_int(d["pci_bus"]);
    v.pci_device = as_int(d["pci_device"]);
    v.total_bytes = d["total_bytes"].u64();
    v.quota_bytes = d["quota_bytes"].u64();
    v.bytes_held = d["bytes_held"].u64();
    const std::string cc = d["cc"].str();
    std::sscanf(cc.c_str(), "%d.%d", &v.cc_major, &v.cc_minor);
    v.sm_count = as_int(d["sm_count"]);
    v.utilization = d["utilization_percent"].kind == json::Value::kNumber ? as_int(d["utilization_percent"]) : -1;
    out.devices.push_back(std::move(v));
  }
  for (const json::Value& s : doc["sessions"].items) {
    SessionView v;
    v.id = s["id"].u64();
    v.tenant = s["tenant"].str();
    v.client_pid = static_cast<uint32_t>(s["client_pid"].u64());
    v.program = s["program"].str();
    v.peer = s["peer"].str();
    v.bytes_held = s["bytes_held"].u64();
    for (const json::Value& b : s["device_bytes"].items) v.device_bytes.push_back(b.u64());
    out.sessions.push_back(std::move(v));
  }
  return true;
}

}  // namespace gpool::client
