#include "supervisor.h"

#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "auth.h"
#include "gpool/common/log.h"
#include "gpool/remote/call_codec.h"
#include "worker.h"

namespace gpool::server {
namespace {

namespace wire = protocol::wire;

spdlog::logger& logger() { return log::logger("server"); }

std::string json_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(ch));
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

void send_refusal(transport::Connection& conn, wire::RefusalReason reason, const std::string& text) {
  flatbuffers::FlatBufferBuilder fbb;
  auto r = wire::CreateRefusal(fbb, reason, fbb.CreateString(text));
  protocol::finish_envelope(fbb, r);
  (void)conn.send(protocol::finished_bytes(fbb), {}, std::chrono::milliseconds(1000));
}

}  // namespace

volatile std::sig_atomic_t Supervisor::stop_ = 0;

Supervisor::Supervisor(Config config)
    : config_(std::move(config)), table_(config_.max_sessions), self_(::getpid()) {
  backend_path_ = resolve_backend(config_.backend);
}

Supervisor::~Supervisor() = default;

void Supervisor::stop() { stop_ = 1; }

bool Supervisor::start(std::string& error) {
  if (config_.listen.empty()) {
    error = "no listen URL: set listen in the config or pass --listen tcp://HOST:PORT";
    return false;
  }
  transport::Options opts = transport::Options::from_env();
  for (const std::string& url : config_.listen) {
    std::unique_ptr<transport::Listener> l;
    if (transport::Status s = transport::listen(url, opts, l); !s.ok()) {
      error = fmt::format("cannot listen on {}: {}", url, s.text);
      return false;
    }
    logger().info("listening on {} (backend {})", l->url(), backend_path_);
    listeners_.push_back(std::move(l));
  }
  return true;
}

std::vector<std::string> Supervisor::urls() const {
  std::vector<std::string> v;
  for (const auto& l : listeners_) v.push_back(l->url());
  return v;
}

int Supervisor::run() {
  const auto slice = std::chrono::milliseconds(listeners_.size() > 1 ? 50 : 200);
  while (stop_ == 0) {
    for (auto& l : listeners_) {
      std::unique_ptr<transport::Connection> conn;
      transport::Status s = l->accept(conn, slice);
      if (s.ok()) {
        serve(std::move(conn));
      } else if (s.code != transport::Code::kTimeout) {
        logger().warn("accept on {} failed: {}", l->url(), s.text);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      reap(false);
      if (stop_ != 0) break;
    }
  }
  logger().info("stopping: terminating {} session worker(s)", sessions_.size());
  for (const Session& s : sessions_) ::kill(s.pid, SIGTERM);
  reap(true);
  return 0;
}

void Supervisor::reap(bool block) {
  for (;;) {
    if (sessions_.empty()) return;
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, block ? 0 : WNOHANG);
    if (pid <= 0) return;
    auto it = std::find_if(sessions_.begin(), sessions_.end(),
                           [&](const Session& s) { return s.pid == pid; });
    if (it == sessions_.end()) continue;
    if (WIFSIGNALED(status)) {
      logger().warn("session {} (tenant {}): worker {} was killed by signal {}; its resources are released",
                    it->id, it->tenant, pid, WTERMSIG(status));
    } else {
      logger().info("session {} (tenant {}) ended, worker exit code {}", it->id, it->tenant,
                    WEXITSTATUS(status));
    }
    table_.release(it->slot);
    sessions_.erase(it);
  }
}

void Supervisor::serve(std::unique_ptr<transport::Connection> conn) {
  const auto timeout = std::chrono::milliseconds(config_.handshake_timeout_ms);
  transport::FrameHead head;
  if (transport::Status s = conn->recv_head(head, timeout); !s.ok()) {
    logger().warn("handshake with {} failed: {}", conn->peer(), s.text);
    return;
  }
  const wire::Hello* hello = head.envelope->message_as_Hello();
  if (hello == nullptr) {
    flatbuffers::FlatBufferBuilder fbb;
    auto a = wire::CreateAbort(fbb, wire::AbortReason_ProtocolViolation,
                               fbb.CreateString("the first message must be Hello"));
    protocol::finish_envelope(fbb, a);
    (void)conn->send(protocol::finished_bytes(fbb), {}, timeout);
    logger().warn("{} sent {} before Hello; closed", conn->peer(),
                  protocol::message_type_name(head.envelope->message_type()));
    return;
  }
  if (hello->protocol_version() < 1) {
    send_refusal(*conn, wire::RefusalReason_VersionMismatch,
                 fmt::format("protocol version {} is not supported; this server speaks {}",
                             hello->protocol_version(), protocol::kProtocolVersion));
    return;
  }
  const std::string_view token = hello->token() ? hello->token()->string_view() : "";
  const Tenant* tenant = authenticate(config_.tenants, token);
  const std::string program = hello->client() && hello->client()->program()
                                  ? hello->client()->program()->str() : "?";
  if (tenant == nullptr) {
    logger().warn("refused {} ({}): unknown token", conn->peer(), program);
    send_refusal(*conn, wire::RefusalReason_BadCredential,
                 "the token is not known to this server; check GPOOL_TOKEN");
    return;
  }
  int slot = -1;
  if (!tenant->admin) {
    slot = table_.acquire();
    if (slot < 0) {
      send_refusal(*conn, wire::RefusalReason_ServerBusy,
                   fmt::format("the server already runs {} sessions; retry later", sessions_.size()));
      return;
    }
  }
  const uint64_t session_id = next_session_++;
  {
    flatbuffers::FlatBufferBuilder fbb;
    char host[256] = {};
    ::gethostname(host, sizeof host - 1);
    auto info = wire::CreateServerInfo(fbb, fbb.CreateString(host), fbb.CreateString("0.1.0"),
                                       fbb.CreateString(config_.backend == "emulator" ? "emulator" : "nvidia"));
    auto w = wire::CreateWelcome(fbb, protocol::kProtocolVersion, session_id, info);
    protocol::finish_envelope(fbb, w);
    if (!conn->send(protocol::finished_bytes(fbb), {}, timeout).ok()) {
      if (slot >= 0) table_.release(slot);
      return;
    }
  }
  if (tenant->admin) {
    serve_status(*conn);
    return;
  }
  logger().info("session {}: tenant {} from {} ({}, pid {})", session_id, tenant->name,
                conn->peer(), program, hello->client() ? hello->client()->pid() : 0);
  start_worker(std::move(conn), *tenant, session_id, slot);
}

void Supervisor::start_worker(std::unique_ptr<transport::Connection> conn, const Tenant& tenant,
                              uint64_t session_id, int slot) {
  const std::string peer = conn->peer();
  const pid_t pid = ::fork();
  if (pid < 0) {
    logger().error("fork of the worker for session {} failed: {}", session_id, std::strerror(errno));
    table_.release(slot);
    return;
  }
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != self_) ::_exit(1);
    std::signal(SIGTERM, SIG_DFL);
    std::signal(SIGINT, SIG_DFL);
    listeners_.clear();
    WorkerParams params;
    params.backend_path = backend_path_;
    params.image_cache_dir = config_.image_cache_dir;
    params.session_id = session_id;
    params.tenant = tenant.name;
    const int rc = run_worker(std::move(conn), params, table_.slot(slot));
    std::fflush(nullptr);
    ::_exit(rc);
  }
  sessions_.push_back({session_id, pid, slot, tenant.name, peer, std::chrono::steady_clock::now()});
}

void Supervisor::serve_status(transport::Connection& conn) {
  const auto timeout = std::chrono::milliseconds(config_.handshake_timeout_ms);
  transport::FrameHead head;
  if (!conn.recv_head(head, timeout).ok()) return;
  const wire::Call* call = head.envelope->message_as_Call();
  flatbuffers::FlatBufferBuilder fbb;
  if (call == nullptr || static_cast<remote::Op>(call->opcode()) != remote::Op::ServerStatus) {
    auto a = wire::CreateAbort(fbb, wire::AbortReason_ProtocolViolation,
                               fbb.CreateString("an admin session may only ask for ServerStatus"));
    protocol::finish_envelope(fbb, a);
    (void)conn.send(protocol::finished_bytes(fbb), {}, timeout);
    return;
  }
  reap(false);
  const std::string json = status_json();
  remote::build_reply(fbb, call->call_id(), 0, call->seq(), 0, 0, {}, remote::as_bytes(json), 0);
  (void)conn.send(protocol::finished_bytes(fbb), {}, timeout);
}

std::string Supervisor::status_json() {
  std::string out = "{\"backend\":\"" + json_escape(backend_path_) + "\",\"sessions\":[";
  uint64_t total = 0;
  const auto now = std::chrono::steady_clock::now();
  for (size_t i = 0; i < sessions_.size(); ++i) {
    const Session& s = sessions_[i];
    const SessionSlot& slot = table_.slot(s.slot);
    total += slot.bytes_held.load();
    out += fmt::format(
        "{}{{\"id\":{},\"tenant\":\"{}\",\"peer\":\"{}\",\"pid\":{},\"bytes_held\":{},"
        "\"allocations\":{},\"calls\":{},\"round_trips\":{},\"age_s\":{:.1f}}}",
        i ? "," : "", s.id, json_escape(s.tenant), json_escape(s.peer), s.pid,
        slot.bytes_held.load(), slot.allocations.load(), slot.calls.load(), slot.replies.load(),
        std::chrono::duration<double>(now - s.started).count());
  }
  out += fmt::format("],\"bytes_held\":{}}}", total);
  return out;
}

}  // namespace gpool::server
