// See cudart_stubs.cc: the wrappers registered by the nvcc-compiled object.
#pragma once

#include <vector>

const std::vector<const void*>& captured_fatbin_wrappers();
