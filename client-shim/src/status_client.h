// The status-only and admin calls to a gpool-server, shared by the `gpool` tool (status, reload,
// smi) and the NVML shim (nvml-shim/): connect to `url`, say Hello with `token` (status_only for
// a status, so no session, worker or session slot is used and max_sessions is not counted), send
// one call, return the inline text of the Reply. And the status document read into plain structs.
//
//   fetch_status    ServerStatus, any tenant's token: the status JSON ({"backend", "devices",
//                   "sessions", "tenants", "pool", ...}; docs/operations.md). An admin token sees
//                   every tenant and device; another token its own tenant, its own devices
//                   (numbered as its sessions see them) and its own sessions.
//   request_reload  ServerReload, an admin tenant's token: the server re-reads its tenants.
// Errors: false with `error` saying what failed and `failure` its kind: the server could not be
// reached (or did not answer the handshake), it refused the token, or anything else (a
// non-admin token's reload, a malformed answer). Bounded: 5 s to connect and for each answer
// (20 s for a reload's). Thread safety: independent calls are independent.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace gpool::client {

enum class Failure { kNone, kUnreachable, kRefused, kOther };

// `program`: the name the server logs for this client ("gpool", "nvml").
bool fetch_status(const std::string& url, const std::string& token, const std::string& program,
                  std::string& json, std::string& error, Failure* failure = nullptr);
bool request_reload(const std::string& url, const std::string& token, std::string& summary,
                    std::string& error);

struct DeviceView {
  int index = 0;              // as the viewer's sessions number it
  std::string name;
  std::string uuid;           // "GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
  int pci_domain = 0, pci_bus = 0, pci_device = 0;
  uint64_t total_bytes = 0;   // the physical device's memory
  uint64_t quota_bytes = 0;   // the viewer's quota on it (0 = none)
  uint64_t bytes_held = 0;    // what the viewer's tenant holds on it (admin: every tenant)
  int cc_major = 0, cc_minor = 0;
  int sm_count = 0;
  int utilization = -1;       // percent busy over the last second; -1 = not measured
};

struct SessionView {
  uint64_t id = 0;
  std::string tenant;
  uint32_t client_pid = 0;
  std::string program;
  std::string peer;
  uint64_t bytes_held = 0;
  std::vector<uint64_t> device_bytes;  // per DeviceView::index
};

struct StatusView {
  std::string tenant;                  // empty for an admin's view
  int driver_version = 0;              // the backend's cuDriverGetVersion; 0 = not known yet
  std::string server_version;
  std::vector<DeviceView> devices;     // empty while the server has not described its devices
  std::vector<SessionView> sessions;
};

// Reads a status document; false with `error` when it is not one.
bool parse_status(const std::string& json, StatusView& out, std::string& error);

// fetch_status + parse_status, asking again every 100 ms for up to `wait` while the server has
// not described its devices yet (it started a moment ago: its catalog process is still attaching
// the backend, server/src/device_catalog.h). After `wait` the view is returned as it is (no
// devices). Errors as fetch_status, or kOther for a document that is not a status.
bool fetch_view(const std::string& url, const std::string& token, const std::string& program,
                StatusView& view, std::string& error, Failure* failure = nullptr,
                std::chrono::milliseconds wait = std::chrono::milliseconds(5000));

}  // namespace gpool::client
