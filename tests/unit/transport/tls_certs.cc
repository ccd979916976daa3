#include "tls_certs.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace gpool::transport::test {
namespace {

// A key and its certificate, owned: freed when it goes (the sanitizer build's leak check runs
// at the test binary's exit, including the gtest listing step).
struct Issued {
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  Issued() = default;
  Issued(const Issued&) = delete;
  Issued& operator=(const Issued&) = delete;
  Issued(Issued&& o) noexcept : key(o.key), cert(o.cert) { o.key = nullptr; o.cert = nullptr; }
  ~Issued() {
    X509_free(cert);
    EVP_PKEY_free(key);
  }
};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "tls_certs: %s failed\n", what);
    std::abort();
  }
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

// A certificate for `cn`, signed by `issuer` (nullptr: self-signed CA).
Issued issue(const char* cn, const Issued* issuer, bool ca, bool server, long serial) {
  Issued out;
  out.key = EVP_EC_gen("P-256");
  check(out.key != nullptr, "EVP_EC_gen");
  out.cert = X509_new();
  X509_set_version(out.cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(out.cert), serial);
  X509_gmtime_adj(X509_getm_notBefore(out.cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(out.cert), 86400);
  X509_set_pubkey(out.cert, out.key);
  X509_NAME* name = X509_get_subject_name(out.cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0);
  X509* signer_cert = issuer != nullptr ? issuer->cert : out.cert;
  X509_set_issuer_name(out.cert, X509_get_subject_name(signer_cert));
  if (ca) {
    add_ext(out.cert, signer_cert, NID_basic_constraints, "critical,CA:TRUE");
    add_ext(out.cert, signer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_ext(out.cert, signer_cert, NID_basic_constraints, "critical,CA:FALSE");
    add_ext(out.cert, signer_cert, NID_ext_key_usage, server ? "serverAuth" : "clientAuth");
    if (server) add_ext(out.cert, signer_cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  check(X509_sign(out.cert, issuer != nullptr ? issuer->key : out.key, EVP_sha256()) > 0, "X509_sign");
  return out;
}

void write_cert(const std::string& path, X509* cert) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr && PEM_write_X509(f, cert) == 1, "PEM_write_X509");
  std::fclose(f);
}

void write_key(const std::string& path, EVP_PKEY* key) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr && PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_PrivateKey");
  std::fclose(f);
}

std::string sha256(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  std::string out;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    std::snprintf(b, sizeof b, "%02x", md[i]);
    out += b;
  }
  return out;
}

CertFiles make() {
  CertFiles f;
  char tmpl[] = "/tmp/gpool-tls-test-XXXXXX";
  check(::mkdtemp(tmpl) != nullptr, "mkdtemp");
  f.dir = tmpl;
  const Issued ca = issue("gpool test CA", nullptr, true, false, 1);
  const Issued srv = issue("localhost", &ca, false, true, 2);
  const Issued cli = issue("client", &ca, false, false, 3);
  const Issued srv2 = issue("localhost", &ca, false, true, 4);
  const Issued other = issue("other CA", nullptr, true, false, 5);
  const Issued osrv = issue("localhost", &other, false, true, 6);
  const Issued ocli = issue("client", &other, false, false, 7);
  auto put = [&](const char* base, const Issued& i, std::string* cert, std::string* key) {
    *cert = f.dir + "/" + base + ".pem";
    write_cert(*cert, i.cert);
    if (key != nullptr) {
      *key = f.dir + "/" + base + ".key";
      write_key(*key, i.key);
    }
  };
  put("ca", ca, &f.ca, nullptr);
  put("server", srv, &f.server_cert, &f.server_key);
  put("client", cli, &f.client_cert, &f.client_key);
  put("server2", srv2, &f.server2_cert, &f.server2_key);
  put("other-ca", other, &f.other_ca, nullptr);
  put("other-server", osrv, &f.other_server_cert, &f.other_server_key);
  put("other-client", ocli, &f.other_client_cert, &f.other_client_key);
  f.server_sha256 = sha256(srv.cert);
  f.client_sha256 = sha256(cli.cert);
  f.server2_sha256 = sha256(srv2.cert);
  return f;
}

}  // namespace

const CertFiles& cert_files() {
  static const CertFiles files = [] {
    CertFiles f = make();
    static std::string dir = f.dir;
    std::atexit([] { std::filesystem::remove_all(dir); });
    return f;
  }();
  return files;
}

}  // namespace gpool::transport::test
