#include "tls_context.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <fmt/format.h>

#include "gpool/common/sha256.h"

namespace gpool::transport::tls {
namespace {

Status bad(std::string what) {
  std::string why = take_errors();
  if (!why.empty()) what += ": " + why;
  return Status::make(Code::kInvalidArgument, std::move(what));
}

// What both sides share: TLS 1.3 only, no tickets, a missing close_notify is an ordinary close.
CtxPtr new_ctx(const SSL_METHOD* method) {
  SSL_CTX* raw = SSL_CTX_new(method);
  if (raw == nullptr) return nullptr;
  CtxPtr ctx(raw, SSL_CTX_free);
  SSL_CTX_set_min_proto_version(raw, TLS1_3_VERSION);
  SSL_CTX_set_max_proto_version(raw, TLS1_3_VERSION);
  SSL_CTX_set_options(raw, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_num_tickets(raw, 0);
  SSL_CTX_set_session_cache_mode(raw, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(raw, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_read_ahead(raw, 1);
  SSL_CTX_set_default_read_buffer_len(raw, 256 * 1024);
  // AES-128-GCM first: as strong as needed here and faster than AES-256 on AES-NI.
  SSL_CTX_set_ciphersuites(raw, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
  return ctx;
}

Status load_pair(SSL_CTX* ctx, const TlsOptions& tls, const char* who) {
  if (SSL_CTX_use_certificate_chain_file(ctx, tls.cert_file.c_str()) != 1) {
    return bad(fmt::format("cannot load the {} certificate '{}'", who, tls.cert_file));
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, tls.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    return bad(fmt::format("cannot load the {} key '{}'", who, tls.key_file));
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return bad(fmt::format("the {} key '{}' does not belong to the certificate '{}'", who,
                           tls.key_file, tls.cert_file));
  }
  return Status::success();
}

}  // namespace

std::string take_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    const char* reason = ERR_reason_error_string(e);
    out += reason != nullptr ? reason : buf;
  }
  return out;
}

std::string cert_sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (cert == nullptr || X509_digest(cert, EVP_sha256(), md, &len) != 1) return {};
  std::string out;
  for (unsigned i = 0; i < len; ++i) out += fmt::format("{:02x}", md[i]);
  return out;
}

bool normalize_fingerprint(std::string_view text, std::string& out) {
  if (text.rfind("sha256:", 0) == 0 || text.rfind("SHA256:", 0) == 0) text.remove_prefix(7);
  return hash::normalize_sha256_hex(text, out);
}

Status make_server_ctx(const TlsOptions& tls, CtxPtr& out) {
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return Status::make(Code::kInvalidArgument,
                        "a tls:// listener needs a certificate and a key (tls_cert and tls_key)");
  }
  CtxPtr ctx = new_ctx(TLS_server_method());
  if (!ctx) return bad("SSL_CTX_new failed");
  if (Status s = load_pair(ctx.get(), tls, "server"); !s.ok()) return s;
  if (!tls.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), tls.client_ca_file.c_str(), nullptr) != 1) {
      return bad(fmt::format("cannot load the client CA '{}'", tls.client_ca_file));
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(tls.client_ca_file.c_str());
    if (names == nullptr) return bad(fmt::format("no certificate in the client CA '{}'", tls.client_ca_file));
    SSL_CTX_set_client_CA_list(ctx.get(), names);
    SSL_CTX_set_verify(ctx.get(),
                       SSL_VERIFY_PEER | (tls.require_client_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       nullptr);
  }
  out = std::move(ctx);
  return Status::success();
}

Status make_client_ctx(const TlsOptions& tls, CtxPtr& out) {
  CtxPtr ctx = new_ctx(TLS_client_method());
  if (!ctx) return bad("SSL_CTX_new failed");
  if (!tls.fingerprint.empty()) {
    std::string fp;
    if (!normalize_fingerprint(tls.fingerprint, fp)) {
      return Status::make(Code::kInvalidArgument,
                          fmt::format("tls fingerprint '{}' is not a SHA-256 (64 hex digits, colons "
                                      "allowed)", tls.fingerprint));
    }
  }
  if (!tls.ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), tls.ca_file.c_str(), nullptr) != 1) {
      return bad(fmt::format("cannot load the CA file '{}'", tls.ca_file));
    }
  } else if (tls.fingerprint.empty()) {
    SSL_CTX_set_default_verify_paths(ctx.get());
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return Status::make(Code::kInvalidArgument,
                        "a client certificate needs both a certificate and a key file "
                        "(GPOOL_TLS_CERT and GPOOL_TLS_KEY)");
  }
  if (!tls.cert_file.empty()) {
    if (Status s = load_pair(ctx.get(), tls, "client"); !s.ok()) return s;
  }
  out = std::move(ctx);
  return Status::success();
}

}  // namespace gpool::transport::tls
