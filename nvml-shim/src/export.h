// GPOOL_NVML_EXPORT: an entry point of libnvidia-ml.so.1 (everything else is hidden; the version
// script nvml.map exports only nvml* names).
#pragma once

#define GPOOL_NVML_EXPORT extern "C" __attribute__((visibility("default")))
