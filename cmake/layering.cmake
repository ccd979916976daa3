# The allowed dependency direction between gpool's components, written down once and checked at
# configure time (docs/architecture.md, "Layout"):
#
#   common <- protocol <- transport <- {client-shim, server}
#   common <- driver-abi <- {emulator, client-shim}
#   common <- registry <- {server, client-shim, tools}   (the pool in etcd, registry/)
#   client-shim <- nvml-shim (the NVML shim uses the client library gpool_client: configuration,
#   status-only calls; never the driver API)
#   tools may use protocol, transport, registry, driver-abi and client-shim (gpool_client); the
#   emulator has no network dependency.
#
# A target's component is the first folder of its source directory below the project root.
# Targets defined at the root (toolchain helpers such as gpool_cuda_headers) and imported
# targets (fmt::fmt, OpenSSL::Crypto, ...) belong to no component and may be used by all.
# tests/, bench/, examples/, docs/ and fuzz/ may use every component; nothing may use them.
#
# gpool_check_layering() walks every target of the project and fails the configure step with
# FATAL_ERROR naming the first forbidden edge ("gpool_x (emulator) -> gpool_transport
# (transport)"). gpool_layer_allowed() is the rule alone, usable from `cmake -P` (tests/layering).

set(GPOOL_LAYER_common "")
set(GPOOL_LAYER_protocol "common")
set(GPOOL_LAYER_transport "common;protocol")
set(GPOOL_LAYER_registry "common")
set(GPOOL_LAYER_driver-abi "common")
set(GPOOL_LAYER_emulator "common;driver-abi")
set(GPOOL_LAYER_server "common;protocol;transport;registry")
set(GPOOL_LAYER_client-shim "common;protocol;transport;driver-abi;registry")
set(GPOOL_LAYER_nvml-shim "common;protocol;transport;registry;client-shim")
set(GPOOL_LAYER_tools "common;protocol;transport;driver-abi;registry;client-shim")
# Components that may depend on anything (and that nothing may depend on).
set(GPOOL_LAYER_UNRESTRICTED "tests;bench;examples;docs;fuzz")

# Sets `out` to TRUE when component `from` may link component `to`, FALSE otherwise. An empty
# component (root or imported target) is always allowed as `to`.
function(gpool_layer_allowed from to out)
  set(ok FALSE)
  if(to STREQUAL "" OR from STREQUAL to)
    set(ok TRUE)
  elseif(to IN_LIST GPOOL_LAYER_UNRESTRICTED)
    set(ok FALSE)
  elseif(from STREQUAL "" OR from IN_LIST GPOOL_LAYER_UNRESTRICTED)
    set(ok TRUE)
  elseif(DEFINED GPOOL_LAYER_${from})
    if(to IN_LIST GPOOL_LAYER_${from})
      set(ok TRUE)
    endif()
  endif()
  set(${out} ${ok} PARENT_SCOPE)
endfunction()

# The component of target `tgt` (see above), or "" for root and imported targets.
function(gpool_layer_of tgt root out)
  set(layer "")
  get_target_property(imported ${tgt} IMPORTED)
  if(NOT imported)
    get_target_property(dir ${tgt} SOURCE_DIR)
    file(RELATIVE_PATH rel "${root}" "${dir}")
    if(NOT rel STREQUAL "" AND NOT rel MATCHES "^\\.\\.")
      string(REGEX REPLACE "/.*" "" layer "${rel}")
    endif()
  endif()
  set(${out} "${layer}" PARENT_SCOPE)
endfunction()

function(_gpool_collect_targets dir out)
  get_property(targets DIRECTORY "${dir}" PROPERTY BUILDSYSTEM_TARGETS)
  get_property(subdirs DIRECTORY "${dir}" PROPERTY SUBDIRECTORIES)
  foreach(sub IN LISTS subdirs)
    _gpool_collect_targets("${sub}" sub_targets)
    list(APPEND targets ${sub_targets})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# Checks the direct link libraries of every target below `root_dir` (the project root).
function(gpool_check_layering root_dir)
  _gpool_collect_targets("${root_dir}" targets)
  foreach(tgt IN LISTS targets)
    gpool_layer_of(${tgt} "${root_dir}" from)
    set(deps)
    get_target_property(type ${tgt} TYPE)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      get_target_property(direct ${tgt} LINK_LIBRARIES)
      if(direct)
        list(APPEND deps ${direct})
      endif()
    endif()
    get_target_property(iface ${tgt} INTERFACE_LINK_LIBRARIES)
    if(iface)
      list(APPEND deps ${iface})
    endif()
    foreach(dep IN LISTS deps)
      # $<LINK_ONLY:x> and similar wrappers name a target too; other expressions are skipped.
      string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" dep "${dep}")
      if(dep MATCHES "^\\$<" OR NOT TARGET "${dep}")
        continue()
      endif()
      get_target_property(real ${dep} ALIASED_TARGET)
      if(real)
        set(dep ${real})
      endif()
      gpool_layer_of(${dep} "${root_dir}" to)
      gpool_layer_allowed("${from}" "${to}" ok)
      if(NOT ok)
        message(FATAL_ERROR
          "gpool layering: ${tgt} (${from}) -> ${dep} (${to}) is a forbidden dependency. The "
          "allowed direction is written in cmake/layering.cmake (common <- protocol <- transport "
          "<- {client-shim, server}; common <- driver-abi <- {emulator, client-shim}); move the "
          "code both need to a lower layer instead.")
      endif()
    endforeach()
  endforeach()
endfunction()
