#include "state.h"

#include <mutex>
#include <set>

#include "config.h"
#include "pool_servers.h"
#include "gpool/common/log.h"

// The object an nvmlDevice_t points to: one per possible device, for the life of the process.
struct nvmlDevice_st {
  unsigned index;
};

namespace gpool::nvml {
namespace {

spdlog::logger& logger() { return log::logger("nvml"); }

struct State {
  std::mutex mu;
  unsigned refs = 0;                 // GUARDED_BY(mu)
  std::vector<std::string> servers;  // GUARDED_BY(mu)
  std::string token;                 // GUARDED_BY(mu)
  std::vector<Device> devices;       // GUARDED_BY(mu)
  int cuda_driver_version = 0;       // GUARDED_BY(mu)
  std::string server_version;        // GUARDED_BY(mu)
};

State& state() {
  static State* s = new State();  // never destroyed: NVML may be called from atexit paths
  return *s;
}

nvmlDevice_st g_handles[kMaxDevices] = {};

nvmlReturn_t failure_code(client::Failure f) {
  switch (f) {
    case client::Failure::kUnreachable: return NVML_ERROR_DRIVER_NOT_LOADED;
    case client::Failure::kRefused: return NVML_ERROR_NO_PERMISSION;
    default: return NVML_ERROR_UNKNOWN;
  }
}

// Asks one server for its status, waiting up to 5 s for a server that has only just started to
// describe its devices.
nvmlReturn_t ask(const std::string& url, const std::string& token, client::StatusView& view) {
  std::string error;
  client::Failure f = client::Failure::kNone;
  if (!client::fetch_view(url, token, "nvml", view, error, &f)) {
    logger().error("nvmlInit: gpool server {}: {}", url, error);
    return failure_code(f);
  }
  if (view.devices.empty() && view.driver_version == 0) {
    logger().warn("nvmlInit: gpool server {} has not described its devices yet; it counts as having none", url);
  }
  return NVML_SUCCESS;
}

}  // namespace

nvmlReturn_t init() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs > 0) {
    ++s.refs;
    return NVML_SUCCESS;
  }
  const shim::Config config = shim::load_config();
  if (!config.error.empty()) {
    logger().error("{}; nvmlInit fails: fix the file or unset GPOOL_CONFIG", config.error);
    return NVML_ERROR_UNKNOWN;
  }
  client::ServerList list;
  {
    std::string error;
    client::Failure f = client::Failure::kNone;
    if (!client::resolve_servers(config.servers, list, error, &f)) {
      logger().error("nvmlInit: {}", error);
      return f == client::Failure::kUnreachable ? NVML_ERROR_DRIVER_NOT_LOADED : NVML_ERROR_UNKNOWN;
    }
    if (list.pooled && list.urls.empty()) {
      logger().warn("nvmlInit: the gpool pool {} has no servers (none registered, or all left); "
                    "no devices", config.servers[0]);
    }
  }
  std::vector<std::string> servers;
  std::vector<Device> devices;
  int driver_version = 0;
  std::string server_version;
  size_t refused = 0;
  for (const std::string& url : list.urls) {
    client::StatusView view;
    if (nvmlReturn_t r = ask(url, config.token, view); r != NVML_SUCCESS) {
      // As the CUDA shim's placement: a server registered in a pool may have gone without
      // deregistering (its record lives until its lease ends), and the pool's servers may not
      // all know the token; the others still count. Only a pool where every server that
      // answers refuses the token is NVML_ERROR_NO_PERMISSION.
      if (!list.pooled || (r != NVML_ERROR_DRIVER_NOT_LOADED && r != NVML_ERROR_NO_PERMISSION)) return r;
      refused += r == NVML_ERROR_NO_PERMISSION ? 1 : 0;
      logger().warn("nvmlInit: skipping the pool's server {} ({})", url,
                    r == NVML_ERROR_NO_PERMISSION ? "it refused the token" : "registered but not answering");
      continue;
    }
    const size_t i = servers.size();
    servers.push_back(url);
    if (i == 0) {
      driver_version = view.driver_version;
      server_version = view.server_version;
    }
    for (client::DeviceView& d : view.devices) {
      if (devices.size() == kMaxDevices) {
        logger().warn("nvmlInit: the servers offer more than {} devices; the rest are not listed", kMaxDevices);
        break;
      }
      devices.push_back({i, std::move(d)});
    }
  }
  if (servers.empty() && refused > 0) {
    logger().error("nvmlInit: every server of the pool {} refused the token (GPOOL_TOKEN)", config.servers[0]);
    return NVML_ERROR_NO_PERMISSION;
  }
  s.servers = std::move(servers);
  s.token = config.token;
  s.devices = std::move(devices);
  s.cuda_driver_version = driver_version;
  s.server_version = server_version;
  for (unsigned i = 0; i < kMaxDevices; ++i) g_handles[i].index = i;
  s.refs = 1;
  logger().info("nvmlInit: {} device(s) from {} gpool server(s)", s.devices.size(), s.servers.size());
  return NVML_SUCCESS;
}

nvmlReturn_t shutdown() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) return NVML_ERROR_UNINITIALIZED;
  if (--s.refs == 0) s.devices.clear();
  return NVML_SUCCESS;
}

bool initialised() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.refs > 0;
}

nvmlReturn_t device_count(unsigned& count) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) return NVML_ERROR_UNINITIALIZED;
  count = static_cast<unsigned>(s.devices.size());
  return NVML_SUCCESS;
}

nvmlReturn_t handle_of(unsigned index, nvmlDevice_t& out) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) return NVML_ERROR_UNINITIALIZED;
  if (index >= s.devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  out = &g_handles[index];
  return NVML_SUCCESS;
}

nvmlReturn_t device_of(nvmlDevice_t handle, Device& out, unsigned* index) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) return NVML_ERROR_UNINITIALIZED;
  // Compare addresses as integers: a forged pointer is not dereferenced.
  const auto p = reinterpret_cast<uintptr_t>(handle);
  const auto base = reinterpret_cast<uintptr_t>(&g_handles[0]);
  if (p < base || p >= base + sizeof g_handles || (p - base) % sizeof(nvmlDevice_st) != 0) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  const size_t i = (p - base) / sizeof(nvmlDevice_st);
  if (i >= s.devices.size()) return NVML_ERROR_INVALID_ARGUMENT;
  out = s.devices[i];
  if (index != nullptr) *index = static_cast<unsigned>(i);
  return NVML_SUCCESS;
}

nvmlReturn_t all_devices(std::vector<Device>& out) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) return NVML_ERROR_UNINITIALIZED;
  out = s.devices;
  return NVML_SUCCESS;
}

nvmlReturn_t versions(int& cuda_driver_version, std::string& server_version) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.refs == 0) return NVML_ERROR_UNINITIALIZED;
  cuda_driver_version = s.cuda_driver_version;
  server_version = s.server_version;
  return NVML_SUCCESS;
}

size_t server_count() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  return s.refs == 0 ? 0 : s.servers.size();
}

nvmlReturn_t live_status(size_t server, client::StatusView& out) {
  std::string url, token;
  {
    State& s = state();
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.refs == 0) return NVML_ERROR_UNINITIALIZED;
    if (server >= s.servers.size()) return NVML_ERROR_INVALID_ARGUMENT;
    url = s.servers[server];
    token = s.token;
  }
  std::string json, error;
  client::Failure f = client::Failure::kNone;
  if (!client::fetch_status(url, token, "nvml", json, error, &f) || !client::parse_status(json, out, error)) {
    logger().warn("gpool server {}: {}", url, error);
    return f == client::Failure::kUnreachable ? NVML_ERROR_GPU_IS_LOST : NVML_ERROR_UNKNOWN;
  }
  return NVML_SUCCESS;
}

nvmlReturn_t unsupported(const char* name, const char* why) {
  static std::mutex mu;
  static std::set<std::string>* seen = new std::set<std::string>();
  std::lock_guard<std::mutex> lock(mu);
  if (seen->insert(name).second) {
    if (why != nullptr) {
      logger().warn("{} is not supported by gpool's NVML ({}); returning NVML_ERROR_NOT_SUPPORTED", name, why);
    } else {
      logger().warn("{} is not supported by gpool's NVML; returning NVML_ERROR_NOT_SUPPORTED", name);
    }
  }
  return NVML_ERROR_NOT_SUPPORTED;
}

}  // namespace gpool::nvml
