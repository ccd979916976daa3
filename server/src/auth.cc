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

}  // namespace gpool::server
