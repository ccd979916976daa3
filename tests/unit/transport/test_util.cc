#include "test_util.h"

#include <cstring>

#include "tls_certs.h"

namespace gpool::transport::test {

Options test_options() {
  Options o;
  o.connect_timeout = std::chrono::milliseconds(2000);
  o.send_timeout = std::chrono::milliseconds(20000);
  o.recv_timeout = std::chrono::milliseconds(20000);
  return o;
}

namespace {

// tls://: server certificate by a throwaway CA the client trusts; one case with small chunks,
// one with mutual TLS (the listener requires a client certificate by the same CA).
std::vector<TransportCase> tls_cases() {
  const CertFiles& f = cert_files();
  TransportCase tls{"tls", "tls://127.0.0.1:0", test_options()};
  tls.backend = "tls";
  tls.options.tls.cert_file = f.server_cert;
  tls.options.tls.key_file = f.server_key;
  tls.options.tls.ca_file = f.ca;
  TransportCase small = tls;
  small.name = "tls_small_chunks";
  small.options.chunk_bytes = 64 * 1024;
  TransportCase mutual = tls;
  mutual.name = "tls_mutual";
  mutual.options.tls.client_ca_file = f.ca;
  Options client = mutual.options;
  client.tls.cert_file = f.client_cert;
  client.tls.key_file = f.client_key;
  mutual.client_options = client;
  return {tls, small, mutual};
}

}  // namespace

std::vector<TransportCase> all_cases() {
  TransportCase uring{"tcp_uring", "tcp://127.0.0.1:0", test_options()};
  uring.options.tcp_backend = TcpBackend::kUring;
  TransportCase sock{"tcp_socket", "tcp://127.0.0.1:0", test_options()};
  sock.options.tcp_backend = TcpBackend::kSocket;
  // A small chunk size on one case exercises the chunked pipeline with many windows.
  TransportCase small{"tcp_uring_small_chunks", "tcp://127.0.0.1:0", test_options()};
  small.options.tcp_backend = TcpBackend::kUring;
  small.options.chunk_bytes = 64 * 1024;
  small.options.queue_depth = 4;
  std::vector<TransportCase> cases{uring, sock, small};
#ifdef GPOOL_TEST_HAVE_UCX
  // ucx: the data path is UCP once two round trips have moved both directions off the TCP
  // bootstrap socket; one case with small chunks pipelines many SEG messages per segment.
  TransportCase ucx{"ucx", "ucx://127.0.0.1:0", test_options()};
  ucx.warmup_round_trips = 2;
  ucx.backend = "ucx";
  TransportCase ucx_small = ucx;
  ucx_small.name = "ucx_small_chunks";
  ucx_small.options.chunk_bytes = 64 * 1024;
  ucx_small.options.queue_depth = 4;
  cases.push_back(ucx);
  cases.push_back(ucx_small);
#endif
  for (const TransportCase& c : tls_cases()) cases.push_back(c);
  return cases;
}

std::vector<TransportCase> plain_cases() {
  std::vector<TransportCase> out;
  for (TransportCase& c : all_cases()) {
    if (c.listen_url.rfind("tls://", 0) != 0) out.push_back(std::move(c));
  }
  return out;
}

Status make_pair(const TransportCase& c, Pair& out, std::string& skip) {
  Pair p;
  Status s = listen(c.listen_url, c.options, p.listener);
  if (s.code == Code::kUnavailable) {
    skip = s.text;
    return s;
  }
  if (!s.ok()) return s;
  if (s = connect(p.listener->url(), c.client_options.value_or(c.options), p.client); !s.ok()) return s;
  if (s = p.listener->accept(p.server, std::chrono::milliseconds(5000)); !s.ok()) return s;
  for (int i = 0; i < c.warmup_round_trips; ++i) {
    FrameHead head;
    if (s = p.client->send(ping(1000 + i)); !s.ok()) return s;
    if (s = p.server->recv_head(head); !s.ok()) return s;
    if (s = p.server->send(pong(1000 + i)); !s.ok()) return s;
    if (s = p.client->recv_head(head); !s.ok()) return s;
  }
  if (c.warmup_round_trips > 0) {
    // The client's next send completes its switch, and the server's next receive sees it.
    FrameHead head;
    if (s = p.client->send(ping(999)); !s.ok()) return s;
    if (s = p.server->recv_head(head); !s.ok()) return s;
  }
  out = std::move(p);
  return Status::success();
}

namespace {
std::vector<std::byte> take(flatbuffers::FlatBufferBuilder& fbb) {
  auto b = protocol::finished_bytes(fbb);
  return {b.begin(), b.end()};
}
}  // namespace

std::vector<std::byte> ping(uint64_t nonce) {
  flatbuffers::FlatBufferBuilder fbb;
  protocol::finish_envelope(fbb, protocol::wire::CreatePing(fbb, nonce));
  return take(fbb);
}

std::vector<std::byte> pong(uint64_t nonce) {
  flatbuffers::FlatBufferBuilder fbb;
  protocol::finish_envelope(fbb, protocol::wire::CreatePong(fbb, nonce));
  return take(fbb);
}

std::vector<std::byte> call(uint64_t call_id, uint32_t segments) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<uint32_t> refs;
  for (uint32_t i = 0; i < segments; ++i) refs.push_back(i);
  protocol::finish_envelope(fbb, protocol::wire::CreateCallDirect(fbb, call_id, call_id, 1,
                                                                  protocol::wire::CallFlags_NONE,
                                                                  nullptr, nullptr, nullptr, &refs));
  return take(fbb);
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

void fill_pattern(std::span<std::byte> buf, uint64_t seed) {
  uint64_t x = mix(seed + 1);
  size_t i = 0;
  for (; i + 8 <= buf.size(); i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    std::memcpy(buf.data() + i, &x, 8);
  }
  for (; i < buf.size(); ++i) buf[i] = static_cast<std::byte>(x >> (8 * (i % 8)));
}

bool check_pattern(std::span<const std::byte> buf, uint64_t seed) {
  uint64_t x = mix(seed + 1);
  size_t i = 0;
  for (; i + 8 <= buf.size(); i += 8) {
    x += 0x9e3779b97f4a7c15ull;
    if (std::memcmp(buf.data() + i, &x, 8) != 0) return false;
  }
  for (; i < buf.size(); ++i) {
    if (buf[i] != static_cast<std::byte>(x >> (8 * (i % 8)))) return false;
  }
  return true;
}

}  // namespace gpool::transport::test
