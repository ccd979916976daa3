# gpool_warnings(<target>): warnings as errors for the project's own code.
# Generated code and third-party headers are not subject to -Werror: they are
# included as SYSTEM or compiled in separate targets without this call.
function(gpool_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)
endfunction()
