/* A C client of gpool's libnvidia-ml.so.1 (nvml-shim/), linked against it as a C program that
 * uses NVML would be (tests/remote/nvml.py runs it against a real gpool-server).
 *
 *   nvml_probe list      init, then one line per fact:
 *                          COUNT n / CUDA v / DRIVER s / NVML s
 *                          DEVICE i NAME=<name> UUID=<uuid> BUS=<id> LEGACY=<id> CC=<x.y>
 *                          MEM i total free used (nvmlDeviceGetMemoryInfo; _v2 must agree)
 *                          MODE i m / UTIL i <gpu|ERR code> / TEMP i code / POWER i code
 *                          PROC i pid bytes (nvmlDeviceGetComputeRunningProcesses_v3)
 *                        and checks (exit 1 with "FAIL what" on a mismatch): handles by UUID and
 *                        PCI bus id give the same device, a bad index / NULL argument / forged
 *                        handle / wrong struct version are refused, nvmlErrorString names codes,
 *                        an unimplemented call (resolved by name) returns NOT_SUPPORTED.
 *   nvml_probe init      prints "INIT <code> <nvmlErrorString>" for nvmlInit_v2.
 *   nvml_probe refcount  init twice, shutdown twice, checks the calls between; then shutdown and
 *                        a query must be NVML_ERROR_UNINITIALIZED.
 * Prints "PASS" at the end of a successful run. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpool/nvml/nvml_abi.h"

static int failures = 0;

#define CHECK(cond, ...)              \
  do {                                \
    if (!(cond)) {                    \
      printf("FAIL ");                \
      printf(__VA_ARGS__);            \
      printf("\n");                   \
      ++failures;                     \
    }                                 \
  } while (0)

static int list(void) {
  nvmlReturn_t r = nvmlInit_v2();
  if (r != NVML_SUCCESS) {
    printf("INIT %d %s\n", (int)r, nvmlErrorString(r));
    return 1;
  }
  unsigned count = 0;
  r = nvmlDeviceGetCount_v2(&count);
  CHECK(r == NVML_SUCCESS, "nvmlDeviceGetCount_v2 -> %d", (int)r);
  printf("COUNT %u\n", count);
  int cuda = 0;
  CHECK(nvmlSystemGetCudaDriverVersion_v2(&cuda) == NVML_SUCCESS, "cuda driver version");
  printf("CUDA %d\n", cuda);
  char text[NVML_SYSTEM_DRIVER_VERSION_BUFFER_SIZE];
  CHECK(nvmlSystemGetDriverVersion(text, sizeof text) == NVML_SUCCESS, "driver version");
  printf("DRIVER %s\n", text);
  CHECK(nvmlSystemGetNVMLVersion(text, sizeof text) == NVML_SUCCESS, "nvml version");
  printf("NVML %s\n", text);
  CHECK(nvmlSystemGetDriverVersion(text, 3) == NVML_ERROR_INSUFFICIENT_SIZE, "short version buffer");

  for (unsigned i = 0; i < count; ++i) {
    nvmlDevice_t dev = NULL, again = NULL;
    CHECK(nvmlDeviceGetHandleByIndex_v2(i, &dev) == NVML_SUCCESS, "handle %u", i);
    unsigned index = 99;
    CHECK(nvmlDeviceGetIndex(dev, &index) == NVML_SUCCESS && index == i, "index of %u is %u", i, index);
    char name[NVML_DEVICE_NAME_V2_BUFFER_SIZE], uuid[NVML_DEVICE_UUID_V2_BUFFER_SIZE];
    CHECK(nvmlDeviceGetName(dev, name, sizeof name) == NVML_SUCCESS, "name %u", i);
    CHECK(nvmlDeviceGetUUID(dev, uuid, sizeof uuid) == NVML_SUCCESS, "uuid %u", i);
    CHECK(nvmlDeviceGetUUID(dev, uuid, 8) == NVML_ERROR_INSUFFICIENT_SIZE, "short uuid buffer");
    CHECK(nvmlDeviceGetUUID(dev, uuid, sizeof uuid) == NVML_SUCCESS, "uuid %u", i);
    nvmlPciInfo_t pci;
    CHECK(nvmlDeviceGetPciInfo_v3(dev, &pci) == NVML_SUCCESS, "pci %u", i);
    int major = 0, minor = 0;
    CHECK(nvmlDeviceGetCudaComputeCapability(dev, &major, &minor) == NVML_SUCCESS, "cc %u", i);
    printf("DEVICE %u NAME=%s UUID=%s BUS=%s LEGACY=%s CC=%d.%d\n", i, name, uuid, pci.busId, pci.busIdLegacy,
           major, minor);
    CHECK(nvmlDeviceGetHandleByUUID(uuid, &again) == NVML_SUCCESS && again == dev, "by uuid %u", i);
    CHECK(nvmlDeviceGetHandleByPciBusId_v2(pci.busId, &again) == NVML_SUCCESS, "by bus id %u", i);
    CHECK(nvmlDeviceGetHandleByPciBusId_v2(pci.busIdLegacy, &again) == NVML_SUCCESS, "by legacy bus id %u", i);

    nvmlMemory_t mem;
    nvmlMemory_v2_t mem2;
    memset(&mem2, 0, sizeof mem2);
    CHECK(nvmlDeviceGetMemoryInfo(dev, &mem) == NVML_SUCCESS, "memory %u", i);
    CHECK(nvmlDeviceGetMemoryInfo_v2(dev, &mem2) == NVML_ERROR_ARGUMENT_VERSION_MISMATCH, "memory v2 without version");
    mem2.version = nvmlMemory_v2;
    CHECK(nvmlDeviceGetMemoryInfo_v2(dev, &mem2) == NVML_SUCCESS, "memory v2 %u", i);
    CHECK(mem2.total == mem.total && mem2.used == mem.used && mem2.free == mem.free,
          "memory v1 and v2 differ on %u", i);
    CHECK(mem.free + mem.used == mem.total, "free + used != total on %u", i);
    printf("MEM %u %llu %llu %llu\n", i, mem.total, mem.free, mem.used);

    nvmlComputeMode_t mode = NVML_COMPUTEMODE_PROHIBITED;
    CHECK(nvmlDeviceGetComputeMode(dev, &mode) == NVML_SUCCESS, "compute mode %u", i);
    printf("MODE %u %d\n", i, (int)mode);
    nvmlUtilization_t util;
    r = nvmlDeviceGetUtilizationRates(dev, &util);
    if (r == NVML_SUCCESS) printf("UTIL %u %u\n", i, util.gpu);
    else printf("UTIL %u ERR %d\n", i, (int)r);
    unsigned value = 0;
    printf("TEMP %u %d\n", i, (int)nvmlDeviceGetTemperature(dev, NVML_TEMPERATURE_GPU, &value));
    printf("POWER %u %d\n", i, (int)nvmlDeviceGetPowerUsage(dev, &value));

    unsigned n = 0;
    r = nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, NULL);
    CHECK(r == NVML_SUCCESS || r == NVML_ERROR_INSUFFICIENT_SIZE, "process count %u -> %d", i, (int)r);
    CHECK((r == NVML_SUCCESS) == (n == 0), "process count %u: %d with %u", i, (int)r, n);
    nvmlProcessInfo_t procs[16];
    n = 16;
    CHECK(nvmlDeviceGetComputeRunningProcesses_v3(dev, &n, procs) == NVML_SUCCESS, "processes %u", i);
    for (unsigned p = 0; p < n; ++p) printf("PROC %u %u %llu\n", i, procs[p].pid, procs[p].usedGpuMemory);
    nvmlProcessInfo_v1_t old[16];
    unsigned n1 = 16;
    CHECK(nvmlDeviceGetComputeRunningProcesses(dev, &n1, old) == NVML_SUCCESS && n1 == n, "v1 processes %u", i);
    n1 = 16;
    CHECK(nvmlDeviceGetGraphicsRunningProcesses_v3(dev, &n1, procs) == NVML_SUCCESS && n1 == 0, "graphics %u", i);
  }

  /* Error paths. */
  nvmlDevice_t dev = NULL;
  CHECK(nvmlDeviceGetHandleByIndex_v2(count, &dev) == NVML_ERROR_INVALID_ARGUMENT, "index past the end");
  CHECK(nvmlDeviceGetHandleByIndex_v2(0, NULL) == NVML_ERROR_INVALID_ARGUMENT || count == 0, "NULL handle out");
  CHECK(nvmlDeviceGetHandleByUUID("GPU-00000000-0000-0000-0000-000000000000", &dev) == NVML_ERROR_NOT_FOUND,
        "unknown uuid");
  CHECK(nvmlDeviceGetHandleByPciBusId_v2("not a bus id", &dev) == NVML_ERROR_INVALID_ARGUMENT, "bad bus id");
  char name[64];
  int forged_target = 0;
  CHECK(nvmlDeviceGetName((nvmlDevice_t)&forged_target, name, sizeof name) == NVML_ERROR_INVALID_ARGUMENT,
        "forged handle");
  CHECK(nvmlDeviceGetName(NULL, name, sizeof name) == NVML_ERROR_INVALID_ARGUMENT, "NULL handle");
  CHECK(strcmp(nvmlErrorString(NVML_ERROR_NOT_SUPPORTED), "Not Supported") == 0, "error string");
  CHECK(strcmp(nvmlErrorString((nvmlReturn_t)12345), "Unknown Error") == 0, "unknown error string");

  typedef nvmlReturn_t (*fan_fn)(nvmlDevice_t, unsigned*);
  fan_fn fan = (fan_fn)dlsym(RTLD_DEFAULT, "nvmlDeviceGetFanSpeed");
  CHECK(fan != NULL, "nvmlDeviceGetFanSpeed is not exported");
  if (fan != NULL && count > 0) {
    unsigned speed = 0;
    nvmlDeviceGetHandleByIndex_v2(0, &dev);
    CHECK(fan(dev, &speed) == NVML_ERROR_NOT_SUPPORTED, "fan speed not NOT_SUPPORTED");
    CHECK(fan(dev, &speed) == NVML_ERROR_NOT_SUPPORTED, "fan speed not NOT_SUPPORTED (twice)");
  }
  CHECK(nvmlShutdown() == NVML_SUCCESS, "shutdown");
  if (failures == 0) printf("PASS\n");
  return failures == 0 ? 0 : 1;
}

static int refcount(void) {
  unsigned count = 0;
  CHECK(nvmlDeviceGetCount_v2(&count) == NVML_ERROR_UNINITIALIZED, "count before init");
  CHECK(nvmlShutdown() == NVML_ERROR_UNINITIALIZED, "shutdown before init");
  CHECK(nvmlInit_v2() == NVML_SUCCESS, "first init");
  CHECK(nvmlInitWithFlags(0) == NVML_SUCCESS, "second init");
  CHECK(nvmlShutdown() == NVML_SUCCESS, "first shutdown");
  CHECK(nvmlDeviceGetCount_v2(&count) == NVML_SUCCESS, "count after one of two shutdowns");
  CHECK(nvmlShutdown() == NVML_SUCCESS, "second shutdown");
  CHECK(nvmlDeviceGetCount_v2(&count) == NVML_ERROR_UNINITIALIZED, "count after the last shutdown");
  CHECK(nvmlShutdown() == NVML_ERROR_UNINITIALIZED, "shutdown once too often");
  CHECK(nvmlInit() == NVML_SUCCESS, "init again");
  CHECK(nvmlDeviceGetCount(&count) == NVML_SUCCESS, "count after init again");
  CHECK(nvmlShutdown() == NVML_SUCCESS, "shutdown again");
  if (failures == 0) printf("PASS\n");
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  const char* mode = argc > 1 ? argv[1] : "";
  if (strcmp(mode, "list") == 0) return list();
  if (strcmp(mode, "refcount") == 0) return refcount();
  if (strcmp(mode, "init") == 0) {
    nvmlReturn_t r = nvmlInit_v2();
    printf("INIT %d %s\n", (int)r, nvmlErrorString(r));
    if (r == NVML_SUCCESS) nvmlShutdown();
    return 0;
  }
  fprintf(stderr, "usage: %s list | init | refcount\n", argv[0]);
  return 2;
}
