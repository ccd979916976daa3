#include "gpool/transport/options.h"

#include "gpool/common/env.h"
#include "gpool/common/log.h"

namespace gpool::transport {

Options Options::from_env() {
  Options o;
  using std::chrono::milliseconds;
  using std::chrono::seconds;
  o.connect_timeout =
      milliseconds(env::get_int("GPOOL_TRANSPORT_CONNECT_TIMEOUT_MS", o.connect_timeout.count()));
  o.send_timeout =
      milliseconds(env::get_int("GPOOL_TRANSPORT_SEND_TIMEOUT_MS", o.send_timeout.count()));
  o.recv_timeout =
      milliseconds(env::get_int("GPOOL_TRANSPORT_RECV_TIMEOUT_MS", o.recv_timeout.count()));
  o.keepalive_idle = seconds(env::get_int("GPOOL_TRANSPORT_KEEPALIVE_IDLE_S", o.keepalive_idle.count()));
  o.keepalive_interval =
      seconds(env::get_int("GPOOL_TRANSPORT_KEEPALIVE_INTVL_S", o.keepalive_interval.count()));
  o.keepalive_count = static_cast<int>(env::get_int("GPOOL_TRANSPORT_KEEPALIVE_COUNT", o.keepalive_count));
  o.chunk_bytes = env::get_size("GPOOL_TRANSPORT_CHUNK", o.chunk_bytes);
  o.queue_depth = static_cast<unsigned>(env::get_int("GPOOL_TRANSPORT_DEPTH", o.queue_depth));
  if (auto b = env::get("GPOOL_TCP_BACKEND")) {
    if (*b == "auto") {
      o.tcp_backend = TcpBackend::kAuto;
    } else if (*b == "uring") {
      o.tcp_backend = TcpBackend::kUring;
    } else if (*b == "socket") {
      o.tcp_backend = TcpBackend::kSocket;
    } else {
      log::logger("transport").warn(
          "GPOOL_TCP_BACKEND value '{}' is not one of auto, uring, socket; using auto", *b);
    }
  }
  if (auto v = env::get("GPOOL_TLS_CA")) o.tls.ca_file = *v;
  if (auto v = env::get("GPOOL_TLS_FINGERPRINT")) o.tls.fingerprint = *v;
  if (auto v = env::get("GPOOL_TLS_CERT")) o.tls.cert_file = *v;
  if (auto v = env::get("GPOOL_TLS_KEY")) o.tls.key_file = *v;
  return o;
}

}  // namespace gpool::transport
