// tls:// specifics beyond the conformance suite: how each side proves who it is, what a
// mismatch of plain and TLS peers does (a clear error, quickly, never a hang), certificate
// reload, and the non-waiting recv_head a poll loop uses. Certificates: tls_certs.h.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "test_util.h"
#include "tls_certs.h"

namespace gpool::transport::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Options server_options() {
  Options o = test_options();
  o.tls.cert_file = cert_files().server_cert;
  o.tls.key_file = cert_files().server_key;
  return o;
}

Options client_options() {
  Options o = test_options();
  o.tls.ca_file = cert_files().ca;
  return o;
}

bool has(const std::string& text, const char* what) { return text.find(what) != std::string::npos; }

// Listens with `server`, connects with `client`, accepts.
void open_pair(const Options& server, const Options& client, Pair& p) {
  ASSERT_TRUE(listen("tls://127.0.0.1:0", server, p.listener).ok());
  Status s = connect(p.listener->url(), client, p.client);
  ASSERT_TRUE(s.ok()) << s.text;
  s = p.listener->accept(p.server, 2000ms);
  ASSERT_TRUE(s.ok()) << s.text;
}

// One ping from client to server and a pong back; the status of the first step that failed.
Status round_trip(Pair& p) {
  FrameHead head;
  if (Status s = p.client->send(ping(1)); !s.ok()) return s;
  if (Status s = p.server->recv_head(head, 2000ms); !s.ok()) return s;
  if (Status s = p.server->send(pong(1)); !s.ok()) return s;
  return p.client->recv_head(head, 2000ms);
}

TEST(Tls, ServerTrustedByCaFile) {
  Pair p;
  open_pair(server_options(), client_options(), p);
  Status s = round_trip(p);
  EXPECT_TRUE(s.ok()) << s.text;
  EXPECT_EQ(p.client->peer().rfind("tls://127.0.0.1:", 0), 0u) << p.client->peer();
  EXPECT_EQ(p.server->peer().rfind("tls://127.0.0.1:", 0), 0u) << p.server->peer();
  EXPECT_EQ(p.client->peer_certificate_sha256(), cert_files().server_sha256);
  EXPECT_EQ(p.server->peer_certificate_sha256(), "");  // no client certificate asked for
  EXPECT_EQ(p.server->handoff_fd(), -1);                // TLS state cannot move to a worker
  EXPECT_GE(p.server->poll_fd(), 0);
}

TEST(Tls, WrongCaIsRefusedBeforeAnyByteIsSent) {
  Options client = client_options();
  client.tls.ca_file = cert_files().other_ca;
  Pair p;
  open_pair(server_options(), client, p);
  const auto t0 = Clock::now();
  Status s = p.client->send(ping(1));
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  EXPECT_TRUE(has(s.text, "not trusted by CA file")) << s.text;
  EXPECT_TRUE(has(s.text, cert_files().other_ca.c_str())) << s.text;
  EXPECT_LT(Clock::now() - t0, 2s);
  FrameHead head;
  EXPECT_NE(p.server->recv_head(head, 2000ms).code, Code::kOk);  // the server never sees a frame
}

TEST(Tls, UnreadableCaFileIsAnErrorAtConnect) {
  Options client = client_options();
  client.tls.ca_file = cert_files().dir + "/missing.pem";
  Pair p;
  ASSERT_TRUE(listen("tls://127.0.0.1:0", server_options(), p.listener).ok());
  Status s = connect(p.listener->url(), client, p.client);
  EXPECT_EQ(s.code, Code::kInvalidArgument) << s.text;
  EXPECT_TRUE(has(s.text, "missing.pem")) << s.text;
}

TEST(Tls, PinnedFingerprintMatches) {
  Options client = test_options();
  // The form `openssl x509 -fingerprint -sha256` prints: upper case with colons.
  std::string fp;
  for (size_t i = 0; i < cert_files().server_sha256.size(); i += 2) {
    if (!fp.empty()) fp += ':';
    fp += cert_files().server_sha256.substr(i, 2);
  }
  for (char& c : fp) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  client.tls.fingerprint = fp;
  Pair p;
  open_pair(server_options(), client, p);
  Status s = round_trip(p);
  EXPECT_TRUE(s.ok()) << s.text;
}

TEST(Tls, PinnedFingerprintMismatchIsRefused) {
  Options client = test_options();
  client.tls.fingerprint = cert_files().server2_sha256;
  Pair p;
  open_pair(server_options(), client, p);
  Status s = p.client->send(ping(1));
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  EXPECT_TRUE(has(s.text, "fingerprint mismatch")) << s.text;
  EXPECT_TRUE(has(s.text, cert_files().server_sha256.c_str())) << s.text;
}

TEST(Tls, MalformedFingerprintIsAnErrorAtConnect) {
  Options client = test_options();
  client.tls.fingerprint = "abc";
  std::unique_ptr<Connection> c;
  Status s = connect("tls://127.0.0.1:1", client, c);
  EXPECT_EQ(s.code, Code::kInvalidArgument) << s.text;
  EXPECT_TRUE(has(s.text, "64 hex digits")) << s.text;
}

TEST(Tls, ClientCertificateIsVerifiedAndItsFingerprintShown) {
  Options server = server_options();
  server.tls.client_ca_file = cert_files().ca;
  Options client = client_options();
  client.tls.cert_file = cert_files().client_cert;
  client.tls.key_file = cert_files().client_key;
  Pair p;
  open_pair(server, client, p);
  Status s = round_trip(p);
  ASSERT_TRUE(s.ok()) << s.text;
  EXPECT_EQ(p.server->peer_certificate_sha256(), cert_files().client_sha256);
}

// A client the server must refuse: the server's read fails naming why, the client's read fails
// too (the server's alert or its close), each within a second or two.
void expect_client_refused(const Options& client, const char* server_reason) {
  Options server = server_options();
  server.tls.client_ca_file = cert_files().ca;
  Pair p;
  open_pair(server, client, p);
  const auto t0 = Clock::now();
  auto client_side = std::async(std::launch::async, [&] {
    Status s = p.client->send(ping(1));
    if (!s.ok()) return s;
    FrameHead head;
    return p.client->recv_head(head, 3000ms);
  });
  FrameHead head;
  Status s = p.server->recv_head(head, 3000ms);
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  EXPECT_TRUE(has(s.text, server_reason)) << s.text;
  p.server.reset();
  Status c = client_side.get();
  EXPECT_NE(c.code, Code::kOk);
  EXPECT_NE(c.code, Code::kTimeout) << c.text;
  EXPECT_LT(Clock::now() - t0, 3s);
}

TEST(Tls, MissingClientCertificateIsRefused) {
  expect_client_refused(client_options(), "certificate");
}

TEST(Tls, ClientCertificateOfAnotherCaIsRefused) {
  Options client = client_options();
  client.tls.cert_file = cert_files().other_client_cert;
  client.tls.key_file = cert_files().other_client_key;
  expect_client_refused(client, "client certificate refused");
}

TEST(Tls, PlainClientToTlsServerFailsQuickly) {
  Pair p;
  ASSERT_TRUE(listen("tls://127.0.0.1:0", server_options(), p.listener).ok());
  const std::string tcp_url = "tcp" + p.listener->url().substr(3);
  ASSERT_TRUE(connect(tcp_url, test_options(), p.client).ok());
  ASSERT_TRUE(p.listener->accept(p.server, 2000ms).ok());
  const auto t0 = Clock::now();
  ASSERT_TRUE(p.client->send(ping(1)).ok());
  FrameHead head;
  Status s = p.server->recv_head(head, 2000ms);
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  EXPECT_TRUE(has(s.text, "plain tcp://")) << s.text;
  p.server.reset();
  s = p.client->recv_head(head, 2000ms);
  EXPECT_EQ(s.code, Code::kDisconnected) << s.text;
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(Tls, TlsClientToPlainServerFailsQuickly) {
  Pair p;
  ASSERT_TRUE(listen("tcp://127.0.0.1:0", test_options(), p.listener).ok());
  const std::string tls_url = "tls" + p.listener->url().substr(3);
  ASSERT_TRUE(connect(tls_url, client_options(), p.client).ok());
  ASSERT_TRUE(p.listener->accept(p.server, 2000ms).ok());
  const auto t0 = Clock::now();
  FrameHead head;
  Status s = p.server->recv_head(head, 2000ms);  // the ClientHello is not a gpool frame
  EXPECT_EQ(s.code, Code::kProtocol) << s.text;
  p.server.reset();
  s = p.client->send(ping(1));
  if (s.ok()) s = p.client->recv_head(head, 2000ms);
  EXPECT_EQ(s.code, Code::kDisconnected) << s.text;
  EXPECT_TRUE(has(s.text, "plain tcp:// server")) << s.text;
  EXPECT_LT(Clock::now() - t0, 1s);
}

TEST(Tls, SilentServerTimesTheHandshakeOutInsteadOfHanging) {
  // A listener that accepts and never answers; the client's send has no deadline of its own.
  Pair p;
  ASSERT_TRUE(listen("tcp://127.0.0.1:0", test_options(), p.listener).ok());
  Options client = client_options();
  client.connect_timeout = 300ms;
  client.send_timeout = 0ms;
  ASSERT_TRUE(connect("tls" + p.listener->url().substr(3), client, p.client).ok());
  ASSERT_TRUE(p.listener->accept(p.server, 2000ms).ok());
  const auto t0 = Clock::now();
  Status s = p.client->send(ping(1));
  EXPECT_EQ(s.code, Code::kTimeout) << s.text;
  EXPECT_TRUE(has(s.text, "tls handshake")) << s.text;
  EXPECT_LT(Clock::now() - t0, 2s);
}

TEST(Tls, ReloadServesTheNewCertificateToNewConnections) {
  Pair p;
  open_pair(server_options(), client_options(), p);
  ASSERT_TRUE(round_trip(p).ok());
  TlsOptions bad = server_options().tls;
  bad.key_file = cert_files().client_key;  // not the certificate's key: refused, old one kept
  Status s = p.listener->reload_tls(bad);
  EXPECT_EQ(s.code, Code::kInvalidArgument);
  EXPECT_TRUE(has(s.text, "client.key")) << s.text;
  TlsOptions next = server_options().tls;
  next.cert_file = cert_files().server2_cert;
  next.key_file = cert_files().server2_key;
  ASSERT_TRUE(p.listener->reload_tls(next).ok());
  Pair q;
  q.listener = std::move(p.listener);
  ASSERT_TRUE(connect(q.listener->url(), client_options(), q.client).ok());
  ASSERT_TRUE(q.listener->accept(q.server, 2000ms).ok());
  ASSERT_TRUE(round_trip(q).ok());
  EXPECT_EQ(q.client->peer_certificate_sha256(), cert_files().server2_sha256);
  EXPECT_TRUE(round_trip(p).ok());  // the established connection is unaffected
}

TEST(Tls, ListenerWithoutCertificateIsRefused) {
  std::unique_ptr<Listener> l;
  Status s = listen("tls://127.0.0.1:0", test_options(), l);
  EXPECT_EQ(s.code, Code::kInvalidArgument);
  EXPECT_TRUE(has(s.text, "tls_cert")) << s.text;
}

TEST(Tls, NonWaitingReceiveReturnsAtOnceAndKeepsTheFrame) {
  Pair p;
  open_pair(server_options(), client_options(), p);
  FrameHead head;
  auto t0 = Clock::now();
  EXPECT_EQ(p.server->recv_head(head, std::chrono::milliseconds(-1)).code, Code::kTimeout);
  EXPECT_LT(Clock::now() - t0, 100ms);
  ASSERT_TRUE(p.client->send(ping(7)).ok());
  Status s;
  for (int i = 0; i < 200; ++i) {  // the handshake and the frame arrive in steps
    s = p.server->recv_head(head, std::chrono::milliseconds(-1));
    if (s.code != Code::kTimeout) break;
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(s.ok()) << s.text;
  EXPECT_EQ(head.envelope->message_as_Ping()->nonce(), 7u);
}

}  // namespace
}  // namespace gpool::transport::test
