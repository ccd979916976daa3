// Transport configuration.
//
// Every field has a default suitable for a client shim talking to a pool server; Options::
// from_env() reads the GPOOL_TRANSPORT_* variables listed below (malformed values are logged by
// gpool::env and the default used).
//
//   GPOOL_TRANSPORT_CONNECT_TIMEOUT_MS  connect_timeout     (default 5000)
//   GPOOL_TRANSPORT_SEND_TIMEOUT_MS     send_timeout        (default 0 = none)
//   GPOOL_TRANSPORT_RECV_TIMEOUT_MS     recv_timeout        (default 0 = none)
//   GPOOL_TRANSPORT_KEEPALIVE_IDLE_S    keepalive_idle      (default 10)
//   GPOOL_TRANSPORT_KEEPALIVE_INTVL_S   keepalive_interval  (default 2)
//   GPOOL_TRANSPORT_KEEPALIVE_COUNT     keepalive_count     (default 3)
//   GPOOL_TRANSPORT_CHUNK               chunk_bytes         (default 2m; size suffixes k, m, g)
//   GPOOL_TRANSPORT_DEPTH               queue_depth         (default 8)
//   GPOOL_TCP_BACKEND                   tcp_backend         auto | uring | socket (default auto)
//   GPOOL_TLS_CA                        tls.ca_file         (tls:// client: CA bundle, PEM)
//   GPOOL_TLS_FINGERPRINT               tls.fingerprint     (tls:// client: pinned server cert)
//   GPOOL_TLS_CERT / GPOOL_TLS_KEY      tls.cert_file/key_file (tls:// client certificate)
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>

namespace gpool::transport {

// Which implementation tcp:// uses. kAuto picks io_uring when the kernel allows it and falls
// back to blocking sockets (logged once); kUring fails with kUnavailable instead of falling
// back; kSocket never uses io_uring.
enum class TcpBackend : uint8_t { kAuto, kUring, kSocket };

// tls:// settings (transport/tls/). A client verifies the server by `ca_file` (chain and host
// name), by `fingerprint` (the SHA-256 of the server's leaf certificate, hex, colons allowed;
// no chain or name check), by both when both are set, or by the system's trust store when
// neither is. A client presents `cert_file`/`key_file` when set (mutual TLS). A listener serves
// `cert_file` (PEM chain) with `key_file`; with `client_ca_file` it asks every client for a
// certificate signed by that CA and refuses the handshake without one when
// `require_client_cert`. Only TLS 1.3 is offered or accepted.
struct TlsOptions {
  std::string ca_file;
  std::string fingerprint;
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
  bool require_client_cert = true;
};

struct Options {
  // A zero duration means "no timeout" (wait for ever) for connect, send and recv.
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds send_timeout{0};
  std::chrono::milliseconds recv_timeout{0};

  // TCP keepalive: a silent peer is declared dead (kDisconnected) after about
  // idle + interval * count seconds.
  std::chrono::seconds keepalive_idle{10};
  std::chrono::seconds keepalive_interval{2};
  int keepalive_count = 3;

  // Large transfers are cut into chunks of this size, and up to queue_depth chunks are in
  // flight at once (io_uring backend), so the link stays busy while the next ones are queued.
  size_t chunk_bytes = size_t{2} << 20;
  unsigned queue_depth = 8;

  TcpBackend tcp_backend = TcpBackend::kAuto;

  TlsOptions tls;

  // Defaults overridden by the GPOOL_TRANSPORT_* / GPOOL_TCP_BACKEND variables.
  static Options from_env();
};

}  // namespace gpool::transport
