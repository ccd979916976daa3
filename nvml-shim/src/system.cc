// nvmlInit*, nvmlShutdown, nvmlErrorString and the nvmlSystem* version queries.
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "export.h"
#include "state.h"

namespace {

using gpool::nvml::init;

// Copies `text` with its NUL into a caller buffer of `length` bytes.
nvmlReturn_t copy_text(const std::string& text, char* out, unsigned length) {
  if (out == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  if (text.size() + 1 > length) return NVML_ERROR_INSUFFICIENT_SIZE;
  std::memcpy(out, text.c_str(), text.size() + 1);
  return NVML_SUCCESS;
}

}  // namespace

GPOOL_NVML_EXPORT nvmlReturn_t nvmlInit_v2(void) { return init(); }
GPOOL_NVML_EXPORT nvmlReturn_t nvmlInit(void) { return init(); }
GPOOL_NVML_EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned int flags) {
  // NO_GPUS / NO_ATTACH change nothing here: no device is attached by init in any case.
  if ((flags & ~static_cast<unsigned>(NVML_INIT_FLAG_NO_GPUS | NVML_INIT_FLAG_NO_ATTACH)) != 0) {
    return NVML_ERROR_INVALID_ARGUMENT;
  }
  return init();
}
GPOOL_NVML_EXPORT nvmlReturn_t nvmlShutdown(void) { return gpool::nvml::shutdown(); }

GPOOL_NVML_EXPORT const char* nvmlErrorString(nvmlReturn_t result) {
  switch (result) {
    case NVML_SUCCESS: return "Success";
    case NVML_ERROR_UNINITIALIZED: return "Uninitialized";
    case NVML_ERROR_INVALID_ARGUMENT: return "Invalid Argument";
    case NVML_ERROR_NOT_SUPPORTED: return "Not Supported";
    case NVML_ERROR_NO_PERMISSION: return "Insufficient Permissions";
    case NVML_ERROR_ALREADY_INITIALIZED: return "Already Initialized";
    case NVML_ERROR_NOT_FOUND: return "Not Found";
    case NVML_ERROR_INSUFFICIENT_SIZE: return "Insufficient Size";
    case NVML_ERROR_INSUFFICIENT_POWER: return "Insufficient External Power";
    case NVML_ERROR_DRIVER_NOT_LOADED: return "Driver Not Loaded";
    case NVML_ERROR_TIMEOUT: return "Timeout";
    case NVML_ERROR_IRQ_ISSUE: return "Interrupt Request Issue";
    case NVML_ERROR_LIBRARY_NOT_FOUND: return "NVML Shared Library Not Found";
    case NVML_ERROR_FUNCTION_NOT_FOUND: return "Function Not Found";
    case NVML_ERROR_CORRUPTED_INFOROM: return "Corrupted infoROM";
    case NVML_ERROR_GPU_IS_LOST: return "GPU is lost";
    case NVML_ERROR_RESET_REQUIRED: return "GPU requires restart";
    case NVML_ERROR_OPERATING_SYSTEM: return "The operating system has blocked the request";
    case NVML_ERROR_LIB_RM_VERSION_MISMATCH: return "RM has detected an NVML/RM version mismatch";
    case NVML_ERROR_IN_USE: return "In use by another client";
    case NVML_ERROR_MEMORY: return "Insufficient Memory";
    case NVML_ERROR_NO_DATA: return "No data";
    case NVML_ERROR_VGPU_ECC_NOT_SUPPORTED: return "The requested vgpu operation is not available on target device, because ECC is enabled";
    case NVML_ERROR_INSUFFICIENT_RESOURCES: return "Insufficient resources";
    case NVML_ERROR_FREQ_NOT_SUPPORTED: return "Frequency not supported";
    case NVML_ERROR_ARGUMENT_VERSION_MISMATCH: return "Argument version mismatch";
    case NVML_ERROR_DEPRECATED: return "Deprecated";
    case NVML_ERROR_NOT_READY: return "Not ready";
    case NVML_ERROR_GPU_NOT_FOUND: return "GPU not found";
    case NVML_ERROR_INVALID_STATE: return "Invalid state";
    case NVML_ERROR_UNKNOWN: return "Unknown Error";
  }
  return "Unknown Error";
}

// The NVIDIA driver's version has no meaning on a pool; the string names the gpool server's
// version instead ("gpool-0.1.0").
GPOOL_NVML_EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char* version, unsigned int length) {
  int cuda = 0;
  std::string server;
  if (nvmlReturn_t r = gpool::nvml::versions(cuda, server); r != NVML_SUCCESS) return r;
  return copy_text("gpool-" + (server.empty() ? std::string("unknown") : server), version, length);
}

// "<CUDA major>.<CUDA minor>.gpool-<server version>": NVML's own version leads with the CUDA
// major version of its driver, which tools compare; the rest says what answers.
GPOOL_NVML_EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char* version, unsigned int length) {
  int cuda = 0;
  std::string server;
  if (nvmlReturn_t r = gpool::nvml::versions(cuda, server); r != NVML_SUCCESS) return r;
  return copy_text(fmt::format("{}.{}.gpool-{}", cuda / 1000, cuda % 1000 / 10, server.empty() ? "unknown" : server),
                   version, length);
}

// The pool's CUDA driver version: the first server's backend cuDriverGetVersion (e.g. 13000).
GPOOL_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion(int* cudaDriverVersion) {
  if (cudaDriverVersion == nullptr) return NVML_ERROR_INVALID_ARGUMENT;
  int cuda = 0;
  std::string server;
  if (nvmlReturn_t r = gpool::nvml::versions(cuda, server); r != NVML_SUCCESS) return r;
  *cudaDriverVersion = cuda;
  return NVML_SUCCESS;
}

GPOOL_NVML_EXPORT nvmlReturn_t nvmlSystemGetCudaDriverVersion_v2(int* cudaDriverVersion) {
  return nvmlSystemGetCudaDriverVersion(cudaDriverVersion);
}

// The program of the tenant's session whose client pid is `pid` (as its Hello named it: the
// executable's path), on any listed server; NVML_ERROR_NOT_FOUND when no session has that pid.
GPOOL_NVML_EXPORT nvmlReturn_t nvmlSystemGetProcessName(unsigned int pid, char* name, unsigned int length) {
  if (name == nullptr || length == 0) return NVML_ERROR_INVALID_ARGUMENT;
  const size_t servers = gpool::nvml::server_count();
  if (servers == 0) return NVML_ERROR_UNINITIALIZED;
  for (size_t i = 0; i < servers; ++i) {
    gpool::client::StatusView live;
    if (nvmlReturn_t r = gpool::nvml::live_status(i, live); r != NVML_SUCCESS) return r;
    for (const auto& s : live.sessions) {
      if (s.client_pid == pid) {
        // NVML truncates to the buffer, NUL-terminated.
        const size_t n = std::min<size_t>(s.program.size(), length - 1);
        std::memcpy(name, s.program.data(), n);
        name[n] = '\0';
        return NVML_SUCCESS;
      }
    }
  }
  return NVML_ERROR_NOT_FOUND;
}
