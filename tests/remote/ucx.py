#!/usr/bin/env python3
"""Runs an example through the client shim against gpool-server listening on ucx://.

Usage:
  ucx.py --server BIN --shim-dir DIR --emulator-lib LIB [--library-dir DIR]... --have-ucx ON|OFF
         [--asan-runtime LIB] [--timeout S] -- PROGRAM [ARGS...]

The server listens on ucx://127.0.0.1:0 (the bound URL read back through --url-file); the
program runs with GPOOL_SERVER set to that ucx:// URL. Each ucx:// connection starts on TCP and
switches to UCX after the Welcome (transport/src/ucx_connection.h), so the test judges the
program as a direct run is judged (exit 0, "PASS", no "FAIL") and also checks that the session
really switched: the server's session worker logs "switched to ucx" for it, and neither side
logs that the connection stayed on its tcp bootstrap socket.
Exit codes: 0 pass, 1 fail, 77 skipped (the build has no UCX: --have-ucx OFF).
"""
import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time

from run_remote import SKIP, client_env, judge, show, stop_server

SWITCHED = "switched to ucx"
STAYED = "stays on its tcp bootstrap socket"


def start_ucx_server(args, token, workdir):
    url_file = os.path.join(workdir, "url")
    env = dict(os.environ)
    env["GPOOL_EMULATOR_LIB"] = args.emulator_lib
    env.setdefault("GPOOL_LOG_LEVEL", "info")
    if args.asan_runtime:
        # UCX's memory hooks (ucm) and ASan both intercept allocations; keep UCX's out of it.
        env.setdefault("UCX_MEM_MALLOC_HOOKS", "no")
    log = open(os.path.join(workdir, "server.log"), "w")
    proc = subprocess.Popen([args.server, "--listen", "ucx://127.0.0.1:0", "--token", token,
                             "--admin-token", token + "-admin", "--url-file", url_file],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while time.time() < deadline:
        if os.path.exists(url_file):
            with open(url_file) as f:
                url = f.read().strip()
            if url:
                return proc, url, log.name
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError("gpool-server did not start on ucx://; see " + log.name)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--shim-dir", required=True)
    p.add_argument("--emulator-lib", required=True)
    p.add_argument("--library-dir", action="append", default=[])
    p.add_argument("--have-ucx", required=True)
    p.add_argument("--asan-runtime")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if args.have_ucx.upper() not in ("ON", "1", "TRUE", "YES"):
        print("SKIP: this build has no UCX (pkg-config found no 'ucx'), so ucx:// is not built")
        return SKIP
    for path, what in ((args.server, "gpool-server"), (os.path.join(args.shim_dir, "libcuda.so.1"), "the shim"),
                       (args.emulator_lib, "the emulator library"), (command[0], "the example")):
        if not os.path.exists(path):
            print(f"FAIL: {what} ({path}) was not built")
            return 1
    if args.asan_runtime and not os.path.exists(args.asan_runtime):
        print(f"SKIP: the ASan runtime {args.asan_runtime} does not exist")
        return SKIP
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="gpool-remote-ucx-") as workdir:
        try:
            server, url, log_path = start_ucx_server(args, token, workdir)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        why = None
        try:
            if not url.startswith("ucx://"):
                why = f"the server reports its listener as {url}, not a ucx:// URL"
            else:
                env = client_env(args, url, token)
                env.setdefault("GPOOL_LOG_LEVEL", "info")
                if args.asan_runtime:
                    env.setdefault("UCX_MEM_MALLOC_HOOKS", "no")
                r = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
                show(r)
                why = judge(r)
                if why is None and STAYED in r.stderr:
                    why = "the client says the connection stayed on tcp"
        finally:
            stop_server(server)
            with open(log_path) as f:
                log = f.read()
            print("----- server log -----\n" + log[-4000:] + "-----")
        if why is None and STAYED in log:
            why = "the server says the connection stayed on tcp"
        if why is None and SWITCHED not in log:
            why = f"the server log has no '{SWITCHED}' line: the session never used ucx"
    if why:
        print(f"FAIL: {why}")
        return 1
    print(f"remote ucx test passed ({url})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
