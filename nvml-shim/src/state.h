// The NVML shim's process state: which gpool servers it asks, the device list they make up, and
// the reference-counted initialisation.
//
// nvmlInit reads the same configuration as the CUDA shim (GPOOL_SERVER, GPOOL_TOKEN,
// GPOOL_CONFIG; client-shim/src/config.h) and asks every listed server for its status with a
// status-only Hello (client-shim/src/status_client.h): no session, no worker, not counted
// against max_sessions, so a monitor polling NVML never takes a CUDA program's place. Devices are
// numbered as the CUDA shim numbers its full list: server 0's devices (in the order the server
// lists them for this tenant) first, then server 1's. With GPOOL_SERVER=etcd://HOST:PORT/POOL the
// servers are every server registered in the pool, in the order of their URLs
// (client-shim/src/pool_servers.h says why not the CUDA shim's per-program placement); a
// registered server that does not answer or refuses the token is skipped with a warning (all of
// them refusing: NVML_ERROR_NO_PERMISSION). CUDA_VISIBLE_DEVICES is NOT applied, as
// NVIDIA's NVML does not apply it: frameworks (PyTorch) apply it to NVML's list themselves; an
// index or UUID in it names the same device for the CUDA shim and for NVML.
//
// Static facts (count, names, UUIDs, PCI addresses, compute capability) are read once at init;
// live figures (memory held, quota, processes, utilisation) are asked of the device's server on
// each call (one status round trip).
//
// Errors at init: a GPOOL_CONFIG mistake or a malformed etcd:// URL -> NVML_ERROR_UNKNOWN
// (logged, naming the key); etcd or a listed server that cannot be reached ->
// NVML_ERROR_DRIVER_NOT_LOADED (what NVML answers on a host
// without a driver); a refused token -> NVML_ERROR_NO_PERMISSION. Later, a server that no longer
// answers -> NVML_ERROR_GPU_IS_LOST for its devices' live queries.
//
// Handles: nvmlDevice_t points into a fixed table of this library; a handle not from it, or one
// from before the last full shutdown for a device that no longer exists, is
// NVML_ERROR_INVALID_ARGUMENT.
//
// Thread safety: every function may be called from any thread (one mutex for the state; status
// round trips run outside it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gpool/nvml/nvml_abi.h"
#include "status_client.h"

namespace gpool::nvml {

inline constexpr unsigned kMaxDevices = 64;

struct Device {
  size_t server = 0;            // index into the server list
  client::DeviceView info;      // as read at init; info.index is the server's own number
};

// Reference-counted init / shutdown.
nvmlReturn_t init();
nvmlReturn_t shutdown();
bool initialised();

// NVML_ERROR_UNINITIALIZED before init.
nvmlReturn_t device_count(unsigned& count);
// The handle of device `index` (NVML_ERROR_INVALID_ARGUMENT when out of range).
nvmlReturn_t handle_of(unsigned index, nvmlDevice_t& out);
// The device a handle names, copied; NVML_ERROR_INVALID_ARGUMENT for a bad handle.
nvmlReturn_t device_of(nvmlDevice_t handle, Device& out, unsigned* index = nullptr);
// Every device, copied (for lookups by UUID and PCI address).
nvmlReturn_t all_devices(std::vector<Device>& out);
// The first server's driver figures, read at init.
nvmlReturn_t versions(int& cuda_driver_version, std::string& server_version);

// How many servers answered at init (GPOOL_SERVER's, or the pool's; 0 before init).
size_t server_count();

// The live status of `server` (the viewer's tenant view). NVML_ERROR_GPU_IS_LOST when the server
// does not answer, NVML_ERROR_UNKNOWN for another failure (logged).
nvmlReturn_t live_status(size_t server, client::StatusView& out);

// Logs "NAME is not supported by gpool's NVML" once per name and returns NVML_ERROR_NOT_SUPPORTED.
nvmlReturn_t unsupported(const char* name, const char* why = nullptr);

}  // namespace gpool::nvml
