# Install layout (`cmake --install build [--prefix P]`) and the .deb packages (`cpack` in the
# build directory). Included last from the top-level CMakeLists.txt, once every target exists.
#
#   P/bin/gpool, P/bin/gpool-server
#   P/lib/gpool/client/libcuda.so.1     the client shim   (gpool run puts this directory first
#   P/lib/gpool/client/libnvidia-ml.so.1  the NVML shim (nvml-shim/), found through the same path
#   P/lib/gpool/emulator/libcuda.so.1   the CPU emulator   on LD_LIBRARY_PATH; the server's
#                                                          backend = "emulator" loads this one)
#   P/lib/systemd/system/gpool-server.service
#   P/share/doc/gpool/examples/gpool-server.toml
#   P/share/man/man1/gpool.1, gpool-server.1
#
# Each libcuda.so.1 has a directory of its own, so a directory on LD_LIBRARY_PATH selects exactly
# one of them. The binaries find them relative to their own path (bin/../lib/gpool/...), so the
# tree may be moved or extracted anywhere (tests/package does that).
include(GNUInstallDirs)

set(GPOOL_INSTALL_CLIENT_DIR lib/gpool/client)
set(GPOOL_INSTALL_EMULATOR_DIR lib/gpool/emulator)

if(TARGET gpool)
  install(TARGETS gpool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT client)
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/man/gpool.1
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT client)
endif()
if(TARGET gpool_shim)
  install(TARGETS gpool_shim LIBRARY DESTINATION ${GPOOL_INSTALL_CLIENT_DIR} NAMELINK_SKIP
          COMPONENT client)
endif()
if(TARGET gpool_nvml)
  install(TARGETS gpool_nvml LIBRARY DESTINATION ${GPOOL_INSTALL_CLIENT_DIR} NAMELINK_SKIP
          COMPONENT client)
endif()
if(TARGET gpool-server)
  install(TARGETS gpool-server RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT server)
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/man/gpool-server.1
          DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT server)
  install(FILES ${CMAKE_SOURCE_DIR}/deploy/gpool-server.toml
          DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT server)
  # The unit names the installed binary by its absolute path under the prefix of *this* install
  # (cmake --install --prefix P, or /usr for cpack), so it is written at install time.
  install(CODE "
    file(READ \"${CMAKE_SOURCE_DIR}/deploy/gpool-server.service.in\" unit)
    string(REPLACE \"@GPOOL_UNIT_BINDIR@\" \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_BINDIR}\" unit \"\${unit}\")
    file(WRITE \"${CMAKE_BINARY_DIR}/deploy/gpool-server.service\" \"\${unit}\")
  " COMPONENT server)
  install(FILES ${CMAKE_BINARY_DIR}/deploy/gpool-server.service
          DESTINATION lib/systemd/system COMPONENT server)
endif()
if(TARGET gpool_emulator)
  install(TARGETS gpool_emulator LIBRARY DESTINATION ${GPOOL_INSTALL_EMULATOR_DIR} NAMELINK_SKIP
          COMPONENT server)
endif()

# --- .deb packages: gpool-server (server, emulator, unit, example config) and gpool-client
# (the gpool tool and the shim). Shared-library dependencies come from dpkg-shlibdeps.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME gpool)
set(CPACK_PACKAGE_VENDOR "gpool")
set(CPACK_PACKAGE_CONTACT "gpool maintainers <gpool@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "run unmodified CUDA programs on hosts without a GPU")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL server client)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_SERVER_PACKAGE_NAME gpool-server)
set(CPACK_DEBIAN_CLIENT_PACKAGE_NAME gpool-client)
set(CPACK_COMPONENT_SERVER_DESCRIPTION
    "gpool pool server: serves remote CUDA sessions on the host's NVIDIA driver or on the bundled CPU emulator (lib/gpool/emulator/libcuda.so.1)")
set(CPACK_COMPONENT_CLIENT_DESCRIPTION
    "gpool client: the gpool command and the client shim (lib/gpool/client/libcuda.so.1) that forwards CUDA driver calls to a gpool server")
include(CPack)
