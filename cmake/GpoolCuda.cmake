# Locates the CUDA 13 toolkit: $CUDA_HOME, else /usr/local/cuda.
# gpool needs its headers (cuda.h, cudaTypedefs.h), the stub libcuda.so (the
# list of driver symbols) and nvcc (to build the examples). Nothing in gpool
# links against NVIDIA libraries except the example programs.
if(DEFINED ENV{CUDA_HOME} AND NOT "$ENV{CUDA_HOME}" STREQUAL "")
  set(GPOOL_CUDA_HOME "$ENV{CUDA_HOME}" CACHE PATH "CUDA toolkit root")
else()
  set(GPOOL_CUDA_HOME "/usr/local/cuda" CACHE PATH "CUDA toolkit root")
endif()

foreach(f include/cuda.h include/cudaTypedefs.h lib64/stubs/libcuda.so bin/nvcc)
  if(NOT EXISTS "${GPOOL_CUDA_HOME}/${f}")
    message(FATAL_ERROR
      "gpool: the CUDA toolkit is missing ${GPOOL_CUDA_HOME}/${f}.\n"
      "Install the CUDA 13 toolkit at /usr/local/cuda or set CUDA_HOME to its root.")
  endif()
endforeach()

set(GPOOL_CUDA_INCLUDE "${GPOOL_CUDA_HOME}/include")
set(GPOOL_CUDA_STUB "${GPOOL_CUDA_HOME}/lib64/stubs/libcuda.so")
set(GPOOL_NVCC "${GPOOL_CUDA_HOME}/bin/nvcc")

# Header-only interface target for cuda.h. SYSTEM so its warnings don't fail -Werror.
add_library(gpool_cuda_headers INTERFACE)
target_include_directories(gpool_cuda_headers SYSTEM INTERFACE "${GPOOL_CUDA_INCLUDE}")
