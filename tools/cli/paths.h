// Where the `gpool` tool finds the other parts of gpool, installed or in a build tree.
//
// Installed (cmake/GpoolInstall.cmake): PREFIX/bin/gpool finds PREFIX/bin/gpool-server,
// PREFIX/lib/gpool/client/libcuda.so.1 and PREFIX/lib/gpool/emulator/libcuda.so.1 relative to
// its own path (/proc/self/exe), so an extracted or relocated tree works. Otherwise the build tree
// the binary came from. An environment variable overrides each (GPOOL_SHIM_DIR,
// GPOOL_SERVER_BIN, GPOOL_EMULATOR_LIB). Nothing here fails: a path that does not exist is
// returned as it is, and the caller says what is missing.
// Thread safety: reads the environment and the file system; call from the main thread.
#pragma once

#include <string>

namespace gpool::tools {

// `name`'s value, or `fallback` when unset or empty.
std::string env_or(const char* name, const std::string& fallback);
bool exists(const std::string& path);

std::string version_line();     // "gpool 0.1.0 (protocol 1)"
std::string self_path();        // this binary ("" if /proc/self/exe cannot be read)
std::string shim_dir();         // directory holding the client shim's libcuda.so.1
std::string server_binary();    // the gpool-server to start ("gpool-server": from PATH)
std::string emulator_library(); // the emulator's libcuda.so.1 a server would load

}  // namespace gpool::tools
