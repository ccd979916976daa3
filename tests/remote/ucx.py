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

from run_remote import (SKIP, add_common_args, check_built, client_env, judge, program_args, show,
                        start_server, stop_server)

SWITCHED = "switched to ucx"
STAYED = "stays on its tcp bootstrap socket"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--have-ucx", required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = program_args(args)
    if args.have_ucx.upper() not in ("ON", "1", "TRUE", "YES"):
        print("SKIP: this build has no UCX (pkg-config found no 'ucx'), so ucx:// is not built")
        return SKIP
    if (code := check_built(args, (command[0] if command else "", "the example"))) is not None:
        return code
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="gpool-remote-ucx-") as workdir:
        try:
            # UCX's memory hooks (ucm) and ASan both intercept allocations; keep UCX's out of it.
            env_extra = {"UCX_MEM_MALLOC_HOOKS": "no"} if args.asan_runtime else None
            server, url = start_server(args, token, workdir, scheme="ucx", env_extra=env_extra)
            log_path = os.path.join(workdir, "server.log")
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
