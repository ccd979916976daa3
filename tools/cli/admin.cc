#include "admin.h"

#include "status_client.h"

namespace gpool::tools {

// The calls themselves are the client library's (client-shim/src/status_client.h), shared with
// the NVML shim.
bool fetch_status(const std::string& url, const std::string& token, std::string& json,
                  std::string& error) {
  return client::fetch_status(url, token, "gpool", json, error);
}

bool request_reload(const std::string& url, const std::string& token, std::string& summary,
                    std::string& error) {
  return client::request_reload(url, token, summary, error);
}

}  // namespace gpool::tools
