// gpool: the command line of gpool.
//
//   gpool run [--server URL] [--token T] [--shim-dir DIR] -- PROGRAM [ARGS...]
//       runs PROGRAM through the client shim: GPOOL_SERVER / GPOOL_TOKEN set, the shim's
//       directory first on LD_LIBRARY_PATH (so its dlopen("libcuda.so.1") finds the shim).
//   gpool status [--server URL] [--token ADMIN_TOKEN] [--json]
//       shows the server's pool, per-tenant and per-device figures (memory held and quota,
//       device time, calls, bytes, errors) and its sessions as tables; --json prints the
//       server's status document instead.
//   gpool reload [--server URL] [--token ADMIN_TOKEN]
//       makes the server re-read its config file's tenants (tokens, quotas, weights, ...) as
//       SIGHUP does, without dropping a session; prints the server's summary.
//   gpool server [gpool-server arguments...]
//       starts gpool-server (the binary beside the build's, GPOOL_SERVER_BIN, or from PATH).
//
// Defaults: --server from GPOOL_SERVER (else tcp://127.0.0.1:7070); --token from GPOOL_TOKEN
// (status, reload: GPOOL_ADMIN_TOKEN first). Exit codes: run/server exec the program (127 when
// it cannot be started); status and reload 0, or 1 with a message on stderr; 2 for bad usage.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "admin.h"
#include "status_table.h"

namespace {

int usage() {
  std::fprintf(stderr,
               "usage: gpool run [--server URL] [--token T] [--shim-dir DIR] -- PROGRAM [ARGS...]\n"
               "       gpool status [--server URL] [--token ADMIN_TOKEN] [--json]\n"
               "       gpool reload [--server URL] [--token ADMIN_TOKEN]\n"
               "       gpool server [gpool-server arguments...]\n");
  return 2;
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : fallback;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

int exec_program(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  ::execvp(raw[0], raw.data());
  std::fprintf(stderr, "gpool: cannot start %s: %s\n", raw[0], std::strerror(errno));
  return 127;
}

int cmd_run(int argc, char** argv) {
  std::string server = env_or("GPOOL_SERVER", "tcp://127.0.0.1:7070");
  std::string token = env_or("GPOOL_TOKEN", "");
  std::string shim_dir = env_or("GPOOL_SHIM_DIR", GPOOL_BUILD_SHIM_DIR);
  int i = 2;
  for (; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") { ++i; break; }
    if (i + 1 >= argc) return usage();
    if (a == "--server") server = argv[++i];
    else if (a == "--token") token = argv[++i];
    else if (a == "--shim-dir") shim_dir = argv[++i];
    else return usage();
  }
  if (i >= argc) return usage();
  if (!exists(shim_dir + "/libcuda.so.1")) {
    std::fprintf(stderr, "gpool: no client shim at %s/libcuda.so.1; build gpool_shim or pass --shim-dir\n",
                 shim_dir.c_str());
    return 127;
  }
  ::setenv("GPOOL_SERVER", server.c_str(), 1);
  if (!token.empty()) ::setenv("GPOOL_TOKEN", token.c_str(), 1);
  const std::string old = env_or("LD_LIBRARY_PATH", "");
  const std::string path = old.empty() ? shim_dir : shim_dir + ":" + old;
  ::setenv("LD_LIBRARY_PATH", path.c_str(), 1);
  return exec_program(std::vector<std::string>(argv + i, argv + argc));
}

// The options of the admin commands: --server, --token, and --json where `json` is given.
// False on anything else (the caller prints the usage).
struct AdminArgs {
  std::string server = env_or("GPOOL_SERVER", "tcp://127.0.0.1:7070");
  std::string token = env_or("GPOOL_ADMIN_TOKEN", env_or("GPOOL_TOKEN", ""));
  bool json = false;
};

bool parse_admin_args(int argc, char** argv, bool json_allowed, AdminArgs& out) {
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    if (json_allowed && a == "--json") { out.json = true; continue; }
    if (i + 1 >= argc) return false;
    if (a == "--server") out.server = argv[++i];
    else if (a == "--token") out.token = argv[++i];
    else return false;
  }
  return true;
}

int cmd_status(int argc, char** argv) {
  AdminArgs args;
  if (!parse_admin_args(argc, argv, true, args)) return usage();
  const std::string& server = args.server;
  const bool json_only = args.json;
  const std::string& token = args.token;
  std::string json, error;
  if (!gpool::tools::fetch_status(server, token, json, error)) {
    std::fprintf(stderr, "gpool status: %s\n", error.c_str());
    return 1;
  }
  if (json_only) {
    std::printf("%s\n", json.c_str());
    return 0;
  }
  std::string text;
  if (!gpool::tools::render_status(json, text, error)) {
    std::fprintf(stderr, "gpool status: %s\n", error.c_str());
    return 1;
  }
  std::printf("gpool server %s\n%s", server.c_str(), text.c_str());
  return 0;
}

int cmd_reload(int argc, char** argv) {
  AdminArgs args;
  if (!parse_admin_args(argc, argv, false, args)) return usage();
  std::string summary, error;
  if (!gpool::tools::request_reload(args.server, args.token, summary, error)) {
    std::fprintf(stderr, "gpool reload: %s\n", error.c_str());
    return 1;
  }
  std::printf("%s\n", summary.c_str());
  return 0;
}

int cmd_server(int argc, char** argv) {
  std::string bin = env_or("GPOOL_SERVER_BIN", GPOOL_BUILD_SERVER_BIN);
  if (!exists(bin)) bin = "gpool-server";
  std::vector<std::string> args{bin};
  for (int i = 2; i < argc; ++i) args.emplace_back(argv[i]);
  return exec_program(args);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage();
  const std::string cmd = argv[1];
  if (cmd == "run") return cmd_run(argc, argv);
  if (cmd == "status") return cmd_status(argc, argv);
  if (cmd == "reload") return cmd_reload(argc, argv);
  if (cmd == "server") return cmd_server(argc, argv);
  return usage();
}
