# gpool_add_driver_library(<target> SOURCES <src>... [OUTPUT_DIR <dir>] [LINK_LIBRARIES <lib>...])
#
# Builds a drop-in libcuda.so.1 from a driver backend's sources plus driver-abi:
#   * SHARED library, OUTPUT_NAME cuda, SOVERSION 1: <dir>/libcuda.so.1 (SONAME libcuda.so.1)
#     and the <dir>/libcuda.so symlink;
#   * exports exactly the cu* symbols of the CUDA 13 driver (generated version script);
#     everything else, including gpool_impl_* and the static spdlog/fmt, is local;
#   * -fvisibility=hidden, -Wl,-Bsymbolic (internal references never go to another libcuda in
#     the process), -Wl,--no-undefined (except in sanitizer builds with clang);
#   * links driver-abi's objects (an OBJECT library, so the backend's strong gpool_impl_*
#     definitions replace driver-abi's weak defaults by plain object linking) and gpool_common.
#
# The backend's sources are compiled with __CUDA_API_VERSION_INTERNAL (see
# gpool/driver_abi/backend.h) and may include gpool/driver_abi/backend.h.
# OUTPUT_DIR defaults to the caller's binary directory, e.g.
#   gpool_add_driver_library(gpool_emulator SOURCES ... OUTPUT_DIR ${CMAKE_BINARY_DIR}/emulator)
function(gpool_add_driver_library target)
  cmake_parse_arguments(ARG "" "OUTPUT_DIR" "SOURCES;LINK_LIBRARIES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "gpool_add_driver_library(${target}): SOURCES is required")
  endif()
  if(NOT ARG_OUTPUT_DIR)
    set(ARG_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR})
  endif()
  add_library(${target} SHARED ${ARG_SOURCES}
    $<TARGET_OBJECTS:gpool_driver_abi_src> $<TARGET_OBJECTS:gpool_driver_abi_gen>)
  target_link_libraries(${target} PRIVATE
    gpool_driver_abi_headers gpool_driver_abi_core gpool_common ${ARG_LINK_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    OUTPUT_NAME cuda
    SOVERSION 1
    LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIR}
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS ${GPOOL_DRIVER_ABI_VERSION_SCRIPT})
  target_link_options(${target} PRIVATE
    -Wl,--version-script=${GPOOL_DRIVER_ABI_VERSION_SCRIPT}
    -Wl,-Bsymbolic)
  if(NOT (GPOOL_SANITIZE AND CMAKE_CXX_COMPILER_ID MATCHES "Clang"))
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
  add_dependencies(${target} gpool_driver_abi_generated)
  gpool_warnings(${target})
endfunction()
