#include "auth.h"

#include <openssl/crypto.h>

#include "gpool/remote/call_codec.h"

namespace gpool::server {

const Tenant* authenticate(const std::vector<Tenant>& tenants, std::string_view token) {
  const auto hash = remote::sha256(remote::as_bytes(token));
  const Tenant* found = nullptr;
  for (const Tenant& t : tenants) {
    const bool match = CRYPTO_memcmp(hash.data(), t.token_hash.data(), hash.size()) == 0;
    if (match && found == nullptr) found = &t;  // no early exit: every tenant is compared
  }
  return found;
}

const Tenant* authenticate(const std::vector<Tenant>& tenants, std::string_view token,
                           std::string_view cert_sha256, std::string& why) {
  const Tenant* by_cert = nullptr;
  if (!cert_sha256.empty()) {
    for (const Tenant& t : tenants) {
      if (t.client_cert_sha256 == cert_sha256) by_cert = &t;
    }
  }
  const Tenant* by_token = token.empty() ? nullptr : authenticate(tenants, token);
  if (by_token != nullptr && !by_token->has_token) by_token = nullptr;
  if (by_cert != nullptr) {
    if (!token.empty() && by_token != by_cert) {
      why = "the token does not belong to the tenant of the client certificate";
      return nullptr;
    }
    return by_cert;
  }
  if (by_token == nullptr) {
    why = token.empty() ? (cert_sha256.empty() ? "no token and no client certificate"
                                               : "no token, and the client certificate is no tenant's")
                        : "unknown token";
    return nullptr;
  }
  if (!by_token->client_cert_sha256.empty()) {
    why = "the tenant of this token must connect over tls:// with its client certificate";
    return nullptr;
  }
  return by_token;
}

}  // namespace gpool::server
