# gpool_warnings(<target>): the project's warnings for its own code.
# Warnings are errors only with -DGPOOL_WERROR=ON: the project's scripts (scripts/build.sh) and CI
# turn it on; a packager or distribution building with plain CMake gets the warnings without
# failing on a new compiler's new (or false-positive) diagnostics.
# Generated code and third-party headers are never subject to -Werror: they are included as
# SYSTEM or compiled in separate targets without this call.
option(GPOOL_WERROR "Treat compiler warnings in gpool's own code as errors" OFF)

function(gpool_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
  if(GPOOL_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
endfunction()
