// OpenSSL contexts for tls:// (internal): TLS 1.3 only, built from TlsOptions (options.h).
//
// A server context holds the certificate chain and key, and with a client CA asks clients for
// certificates. A client context holds the CA (or the system trust store) and an optional
// client certificate; the pinned fingerprint and the host name are checked per connection
// (tls_stream.h). Neither side keeps session tickets: every connection runs a full handshake,
// so no resumption state outlives a connection (or a forked worker).
//
// Ownership: contexts are reference counted (shared_ptr with SSL_CTX_free as deleter); an SSL
// made from one keeps it alive. Thread safety: a finished context is only read (OpenSSL allows
// that from any thread). Errors: kInvalidArgument naming the file and OpenSSL's reason.
#pragma once

#include <openssl/ssl.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "gpool/transport/options.h"
#include "gpool/transport/status.h"

namespace gpool::transport::tls {

using CtxPtr = std::shared_ptr<SSL_CTX>;

Status make_server_ctx(const TlsOptions& tls, CtxPtr& out);
Status make_client_ctx(const TlsOptions& tls, CtxPtr& out);

// Takes every error of OpenSSL's (thread-local) queue, joined by "; " ("" when empty).
std::string take_errors();

// The SHA-256 of `cert`'s DER encoding as 64 lowercase hex digits.
std::string cert_sha256(X509* cert);

// "AB:cd:..." / "abcd..." (64 hex digits, colons allowed, "sha256:" prefix allowed) as 64
// lowercase hex digits; false when it is not that.
bool normalize_fingerprint(std::string_view text, std::string& out);

}  // namespace gpool::transport::tls
