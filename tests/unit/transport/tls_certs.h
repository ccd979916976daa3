// Throwaway certificates for the tls:// tests, made with the OpenSSL API at test time (P-256
// keys, valid for one day) in a fresh temporary directory.
#pragma once

#include <string>

namespace gpool::transport::test {

struct CertFiles {
  std::string dir;
  std::string ca, server_cert, server_key;        // server cert for 127.0.0.1 / localhost, by ca
  std::string client_cert, client_key;            // client cert by ca (CN "client")
  std::string other_ca, other_server_cert, other_server_key;  // a second, unrelated CA
  std::string other_client_cert, other_client_key;
  std::string server_sha256;                      // fingerprint of server_cert (hex)
  std::string client_sha256;                      // fingerprint of client_cert (hex)
  std::string server2_cert, server2_key;          // by ca, same names: a replacement cert
  std::string server2_sha256;
};

// Made once per process (the first call writes them); aborts the test binary on failure.
const CertFiles& cert_files();

}  // namespace gpool::transport::test
