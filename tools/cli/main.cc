// gpool: the command line of gpool (`gpool --help`, `gpool COMMAND --help`, man gpool).
//
//   gpool run [--server URL] [--token T | --token-file F] [--shim-dir DIR] [--] PROGRAM [ARGS...]
//       runs PROGRAM through the client shim: GPOOL_SERVER / GPOOL_TOKEN (or GPOOL_TOKEN_FILE)
//       set, the shim's directory first on LD_LIBRARY_PATH (so its dlopen("libcuda.so.1") finds
//       the shim).
//   gpool status [--server URL] [--token T | --token-file F] [--json]
//       the server's pool, per-tenant and per-device figures (memory held and quota, device time,
//       calls, bytes, errors) and sessions as tables; an admin token shows every tenant, another
//       token its own tenant. --json prints the server's status document instead.
//   gpool smi [--server URL[,URL...] | --server etcd://HOST:PORT/POOL] [--token T] [--json]
//       an nvidia-smi-like table of what the token may use: devices (memory held / quota,
//       utilisation) and the tenant's processes on them (smi.h); --json as one document.
//   gpool reload [--server URL] [--token ADMIN_TOKEN | --token-file F]
//       makes the server re-read its config file's tenants as SIGHUP does; prints its summary.
// --token-file reads the token from a file (gpool/common/token_file.h), so it is not on the
// command line for `ps` to show; GPOOL_TOKEN_FILE is its default. A tls:// server is verified
// by GPOOL_TLS_CA / GPOOL_TLS_FINGERPRINT, and GPOOL_TLS_CERT / GPOOL_TLS_KEY are the client
// certificate (all commands; `run` passes them to the shim through the environment).
//   gpool servers [--pool etcd://HOST:PORT/POOL] [--json]
//       the servers registered in a pool in etcd (servers.h); the pool defaults to GPOOL_SERVER.
//   gpool server [gpool-server arguments...]
//       starts gpool-server (beside this binary, GPOOL_SERVER_BIN, the build's, or from PATH).
//   gpool info [--markdown]
//       version, where the shim, server and emulator are found, and every configuration variable
//       (gpool/common/variables.h) with its value here; --markdown prints the variables section
//       of docs/operations.md (scripts/gen-variables.sh).
//
// Installed layout: the shim is found in ../lib/gpool/client beside this binary
// (cmake/GpoolInstall.cmake); in a build tree, in the build's client-shim directory.
// Exit codes: run/server exec the program (127 when it cannot be started); status, reload and
// info 0, or 1 with a message on stderr; 2 for bad usage (the message names the bad argument).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "admin.h"
#include "config.h"
#include "gpool/common/token_file.h"
#include "gpool/protocol/frame.h"
#include "info.h"
#include "paths.h"
#include "smi.h"
#include "servers.h"
#include "status_table.h"

namespace {

using gpool::tools::env_or;

int exec_program(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  for (const auto& a : argv) raw.push_back(const_cast<char*>(a.c_str()));
  raw.push_back(nullptr);
  ::execvp(raw[0], raw.data());
  std::fprintf(stderr, "gpool: cannot start %s: %s\n", raw[0], std::strerror(errno));
  return 127;
}

int do_run(const std::string& server, const std::string& token, const std::string& token_file,
           const std::string& shim_dir, std::vector<std::string> program) {
  if (!program.empty() && program.front() == "--") program.erase(program.begin());
  if (program.empty()) {
    std::fprintf(stderr, "gpool run: no PROGRAM given (gpool run [OPTIONS] [--] PROGRAM [ARGS...])\n");
    return 2;
  }
  if (!gpool::tools::exists(shim_dir + "/libcuda.so.1")) {
    std::fprintf(stderr,
                 "gpool run: no client shim at %s/libcuda.so.1; install the gpool-client package, "
                 "build gpool_shim, or pass --shim-dir\n",
                 shim_dir.c_str());
    return 127;
  }
  ::setenv("GPOOL_SERVER", server.c_str(), 1);
  if (!token.empty()) ::setenv("GPOOL_TOKEN", token.c_str(), 1);
  if (!token_file.empty()) {
    ::unsetenv("GPOOL_TOKEN");  // the file given on the command line wins over the environment
    ::setenv("GPOOL_TOKEN_FILE", token_file.c_str(), 1);
  }
  const std::string old = env_or("LD_LIBRARY_PATH", "");
  const std::string path = old.empty() ? shim_dir : shim_dir + ":" + old;
  ::setenv("LD_LIBRARY_PATH", path.c_str(), 1);
  return exec_program(program);
}

int do_status(const std::string& server, const std::string& token, bool json_only) {
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

int do_reload(const std::string& server, const std::string& token) {
  std::string summary, error;
  if (!gpool::tools::request_reload(server, token, summary, error)) {
    std::fprintf(stderr, "gpool reload: %s\n", error.c_str());
    return 1;
  }
  std::printf("%s\n", summary.c_str());
  return 0;
}

int do_servers(const std::string& pool, bool json) {
  if (pool.rfind("etcd://", 0) != 0) {
    std::fprintf(stderr, "gpool servers: --pool (or GPOOL_SERVER) must name a pool in etcd, "
                         "etcd://HOST:PORT/POOL, not \"%s\"\n", pool.c_str());
    return 2;
  }
  std::string out, error;
  if (!gpool::tools::list_servers(pool, json, out, error)) {
    std::fprintf(stderr, "gpool servers: %s\n", error.c_str());
    return 1;
  }
  std::fputs(out.c_str(), stdout);
  return 0;
}

int do_server(const std::vector<std::string>& rest) {
  std::vector<std::string> args{gpool::tools::server_binary()};
  args.insert(args.end(), rest.begin(), rest.end());
  return exec_program(args);
}

const char* const kCommands[] = {"run", "status", "smi", "reload", "server", "servers", "info"};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"gpool: run unmodified CUDA programs on a gpool server's devices (man gpool)", "gpool"};
  app.set_version_flag("--version", gpool::tools::version_line());
  app.require_subcommand(1, 1);
  app.fallthrough();  // `gpool status --version` works as `gpool --version`

  std::string server = env_or("GPOOL_SERVER", "tcp://127.0.0.1:7070");
  std::string token = env_or("GPOOL_TOKEN", "");
  std::string admin_token = env_or("GPOOL_ADMIN_TOKEN", token);
  std::string token_file = env_or("GPOOL_TOKEN_FILE", "");
  std::string shim_dir = gpool::tools::shim_dir();
  bool json = false;
  bool markdown = false;
  std::vector<std::string> program;
  std::vector<std::string> server_args;

  CLI::App* run = app.add_subcommand("run", "run PROGRAM through the client shim on a gpool server");
  run->add_option("--server", server, "server URL (GPOOL_SERVER)")->capture_default_str();
  auto* run_token = run->add_option("--token", token, "tenant token (GPOOL_TOKEN); visible in ps: prefer --token-file");
  run->add_option("--token-file", token_file, "file holding the tenant token (GPOOL_TOKEN_FILE)")->excludes(run_token);
  run->add_option("--shim-dir", shim_dir, "directory of the client shim's libcuda.so.1 (GPOOL_SHIM_DIR)")
      ->capture_default_str();
  run->add_option("program", program, "PROGRAM [ARGS...]; put -- before a program whose options look like gpool's")
      ->required();
  run->positionals_at_end();

  CLI::App* status = app.add_subcommand("status", "show the server's sessions, tenants, memory and device time");
  status->add_option("--server", server, "server URL (GPOOL_SERVER)")->capture_default_str();
  auto* status_token = status->add_option("--token", admin_token,
                     "a tenant's token (GPOOL_ADMIN_TOKEN, else GPOOL_TOKEN); an admin's shows every tenant");
  std::string admin_token_file;
  status->add_option("--token-file", admin_token_file, "file holding the token (instead of --token)")
      ->excludes(status_token);
  status->add_flag("--json", json, "print the server's status document as JSON");

  bool smi_json = false;
  CLI::App* smi = app.add_subcommand("smi", "an nvidia-smi-like table of your devices, memory, quota and processes");
  smi->add_option("--server", server, "server URL, or several separated by commas, or a pool etcd://HOST:PORT/POOL (GPOOL_SERVER)")->capture_default_str();
  smi->add_option("--token", token, "tenant token (GPOOL_TOKEN)");
  smi->add_flag("--json", smi_json, "print one JSON document instead of the tables");

  CLI::App* reload = app.add_subcommand("reload", "make the server re-read its tenants (as SIGHUP does)");
  reload->add_option("--server", server, "server URL (GPOOL_SERVER)")->capture_default_str();
  auto* reload_token = reload->add_option("--token", admin_token, "an admin tenant's token (GPOOL_ADMIN_TOKEN, else GPOOL_TOKEN)");
  reload->add_option("--token-file", admin_token_file, "file holding the admin token (instead of --token)")
      ->excludes(reload_token);

  std::string pool = server;
  CLI::App* servers = app.add_subcommand("servers", "list the servers of a pool in etcd");
  servers->add_option("--pool", pool, "the pool, etcd://HOST:PORT/POOL (GPOOL_SERVER)")->capture_default_str();
  servers->add_flag("--json", json, "print the servers' records as a JSON array");

  CLI::App* srv = app.add_subcommand("server", "start gpool-server with the given arguments (see gpool-server --help)");
  srv->prefix_command();  // everything after `server` goes to gpool-server, --help included
  srv->set_help_flag();
  srv->fallthrough(false);

  CLI::App* info = app.add_subcommand("info", "show the version, paths and every configuration variable");
  info->add_flag("--markdown", markdown, "print the variables section of docs/operations.md");

  // CLI11 reports an unknown command as an unexpected argument; name it as a command instead.
  if (argc >= 2 && argv[1][0] != '-') {
    const std::string cmd = argv[1];
    bool known = false;
    for (const char* c : kCommands) known = known || cmd == c;
    if (!known) {
      std::fprintf(stderr, "gpool: unknown command '%s'; commands: run, status, smi, reload, server, servers, info "
                           "(gpool --help)\n", cmd.c_str());
      return 2;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (run->parsed()) {
    // An explicit --token-file wins over GPOOL_TOKEN; otherwise the environment passes through.
    const bool file_given = run->get_option("--token-file")->count() > 0;
    return do_run(server, run_token->count() > 0 ? token : std::string(),
                  file_given ? token_file : std::string(), shim_dir, program);
  }
  // status/reload: a token file (given, else GPOOL_TOKEN_FILE when no token is set) is read here.
  if (admin_token_file.empty() && admin_token.empty()) admin_token_file = token_file;
  if ((status->parsed() || reload->parsed()) && !admin_token_file.empty()) {
    std::string error, warning;
    if (!gpool::token_file::read(admin_token_file, admin_token, error, warning)) {
      std::fprintf(stderr, "gpool: %s\n", error.c_str());
      return 2;
    }
    if (!warning.empty()) std::fprintf(stderr, "gpool: warning: %s\n", warning.c_str());
  }
  if (status->parsed()) return do_status(server, admin_token, json);
  if (smi->parsed()) {
    const std::vector<std::string> servers = gpool::shim::parse_server_list(server);
    if (servers.empty()) {
      std::fprintf(stderr, "gpool smi: --server names no URL\n");
      return 2;
    }
    return gpool::tools::run_smi(servers, token, smi_json);
  }
  if (reload->parsed()) return do_reload(server, admin_token);
  if (servers->parsed()) return do_servers(pool, json);
  if (srv->parsed()) {
    for (const std::string& a : srv->remaining()) server_args.push_back(a);
    return do_server(server_args);
  }
  if (info->parsed()) {
    std::fputs((markdown ? gpool::tools::variables_markdown() : gpool::tools::info_text()).c_str(), stdout);
    return 0;
  }
  return 2;
}
