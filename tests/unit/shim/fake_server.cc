#include "fake_server.h"

#include <cuda.h>

#include <cstring>

namespace gpool::shim::test {

namespace wire = protocol::wire;
using remote::Op;

FakeServer::FakeServer(std::string tag, int devices, std::string token)
    : tag_(std::move(tag)), devices_(devices), token_(std::move(token)) {
  transport::Options o;
  if (transport::Status s = transport::listen("tcp://127.0.0.1:0", o, listener_); !s.ok()) {
    throw std::runtime_error("fake server cannot listen: " + s.text);
  }
  url_ = listener_->url();
  acceptor_ = std::thread([this] { accept_loop(); });
}

FakeServer::~FakeServer() {
  listener_->shutdown();
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& c : conns_) c->shutdown();
    threads.swap(servers_);
  }
  for (std::thread& t : threads) t.join();
}

std::vector<FakeServer::Call> FakeServer::calls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_;
}

size_t FakeServer::count(Op op) const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const Call& c : calls_) n += c.op == op ? 1 : 0;
  return n;
}

void FakeServer::fail_async(Op op, int32_t status) {
  std::lock_guard<std::mutex> lock(mu_);
  fail_op_ = op;
  fail_status_ = status;
}

void FakeServer::accept_loop() {
  for (;;) {
    std::unique_ptr<transport::Connection> conn;
    if (!listener_->accept(conn).ok()) return;
    std::lock_guard<std::mutex> lock(mu_);
    transport::Connection* c = conn.get();
    conns_.push_back(std::move(conn));
    servers_.emplace_back([this, c] { serve(c); });
  }
}

void FakeServer::serve(transport::Connection* conn) {
  transport::FrameHead head;
  if (!conn->recv_head(head, std::chrono::milliseconds(5000)).ok()) return;
  const wire::Hello* hello = head.envelope->message_as_Hello();
  if (hello == nullptr) return;
  flatbuffers::FlatBufferBuilder fbb;
  const std::string token = hello->token() ? hello->token()->str() : "";
  if (!token_.empty() && token != token_) {
    auto r = wire::CreateRefusal(fbb, wire::RefusalReason_BadCredential, fbb.CreateString("wrong token"));
    protocol::finish_envelope(fbb, r);
    (void)conn->send(protocol::finished_bytes(fbb));
    return;
  }
  auto info = wire::CreateServerInfo(fbb, fbb.CreateString("fake"), fbb.CreateString("0"),
                                     fbb.CreateString("fake"));
  auto w = wire::CreateWelcome(fbb, protocol::kProtocolVersion, 1, info);
  protocol::finish_envelope(fbb, w);
  if (!conn->send(protocol::finished_bytes(fbb)).ok()) return;
  for (;;) {
    if (!conn->recv_head(head, std::chrono::milliseconds(0)).ok()) return;
    const wire::Call* call = head.envelope->message_as_Call();
    if (call == nullptr) return;
    for (uint32_t i = 0; i < head.segment_count(); ++i) {
      if (!conn->skip_segment().ok()) return;
    }
    reply(*conn, *call);
  }
}

void FakeServer::reply(transport::Connection& conn, const wire::Call& call) {
  Call rec;
  rec.op = static_cast<Op>(call.opcode());
  rec.async = (call.flags() & wire::CallFlags_Async) != 0;
  if (call.args()) rec.args.assign(call.args()->begin(), call.args()->end());
  if (call.handles()) {
    for (const auto* h : *call.handles()) rec.handles.push_back(h->id());
  }
  std::vector<uint64_t> results;
  std::vector<std::byte> inline_out;
  int32_t sticky = 0;
  {
    std::lock_guard<std::mutex> lock(mu_);
    calls_.push_back(rec);
    completed_seq_ = call.seq();
    if (rec.async) {
      if (rec.op == fail_op_ && fail_status_ != 0) {
        if (sticky_ == 0) {
          sticky_ = fail_status_;
          sticky_seq_ = call.seq();
        }
        fail_op_ = Op::Invalid;
      }
      return;
    }
    sticky = sticky_;
    sticky_ = 0;
    if (rec.op == Op::MemAlloc && !rec.args.empty()) {
      results.push_back(next_alloc_);
      next_alloc_ += (rec.args[0] + 0xfff) & ~uint64_t{0xfff};
    }
  }
  if (rec.op == Op::Attach) {
    std::vector<remote::DeviceInfo> devs(static_cast<size_t>(devices_));
    for (int i = 0; i < devices_; ++i) {
      remote::DeviceInfo& d = devs[static_cast<size_t>(i)];
      d.name = tag_ + "-dev" + std::to_string(i);
      d.total_mem = uint64_t(i + 1) << 30;
      d.uuid[0] = static_cast<uint8_t>(tag_.empty() ? 0 : tag_[0]);
      d.uuid[1] = static_cast<uint8_t>(i);
      d.attrs[CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR] = 9;
      d.attrs[CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT] = 10 + i;
    }
    remote::encode_devices(devs, inline_out);
    results = {static_cast<uint64_t>(devices_), 13000};
  }
  flatbuffers::FlatBufferBuilder fbb;
  remote::build_reply(fbb, call.call_id(), 0, call.seq(), sticky, sticky ? sticky_seq_ : 0, results,
                      inline_out, 0);
  (void)conn.send(protocol::finished_bytes(fbb));
}

}  // namespace gpool::shim::test
