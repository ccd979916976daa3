#!/usr/bin/env python3
"""Runs the differential suite (gpool-differential) against one backend.

  run_backend.py --backend emulator|pool|real --build-dir DIR [--driver LIB] [--record FILE]
                 [--timeout S] -- BINARY [gtest flags...]

emulator  BINARY loads DIR/emulator/libcuda.so.1 (or --driver).
pool      a gpool-server (DIR/server/gpool-server) is started on a free loopback port with
          `--backend <driver>` (--driver, default the emulator's library), and BINARY loads the
          client shim (DIR/client-shim/libcuda.so.1) with GPOOL_SERVER/GPOOL_TOKEN set; the server
          is always stopped afterwards and its log printed when the run fails.
real      BINARY loads --driver, else $GPOOL_GPU_CHECK_DRIVER, else the system's libcuda.so.1;
          without a usable driver and device every test is skipped ("no real GPU: ...").
--record FILE: every check is logged as a JSON line there (compare.py diffs two such files).
Exit code: the suite's (0 all passed or skipped, 1 a failure, 2 usage).
"""
import argparse
import os
import secrets
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "remote"))
from run_remote import launch_server, stop_server  # noqa: E402  (tests/remote/run_remote.py)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", required=True, choices=["emulator", "pool", "real"])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--driver", help="the driver library under test (see the module doc)")
    p.add_argument("--record", help="write the observations (JSON lines) to this file")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("command", nargs=argparse.REMAINDER)
    a = p.parse_args()
    command = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not command:
        p.error("name the gpool-differential binary after --")
    build = os.path.abspath(a.build_dir)
    emulator = os.path.join(build, "emulator", "libcuda.so.1")
    env = dict(os.environ, GPOOL_DIFF_BACKEND=a.backend)
    if a.record:
        env["GPOOL_DIFF_RECORD"] = os.path.abspath(a.record)
    if a.backend == "emulator":
        env["GPOOL_DIFF_DRIVER"] = os.path.abspath(a.driver or emulator)
    elif a.backend == "real":
        env["GPOOL_DIFF_DRIVER"] = a.driver or os.environ.get("GPOOL_GPU_CHECK_DRIVER") or "libcuda.so.1"
    else:
        shim = os.path.join(build, "client-shim", "libcuda.so.1")
        server_bin = os.path.join(build, "server", "gpool-server")
        backend_lib = os.path.abspath(a.driver or emulator)
        for path, what in ((shim, "the client shim"), (server_bin, "gpool-server"), (backend_lib, "the server's driver")):
            if not os.path.exists(path):
                print(f"FAIL: {what} ({path}) does not exist; build it first")
                return 1
        env["GPOOL_DIFF_DRIVER"] = shim
    if a.backend != "pool":
        return subprocess.run(command, env=env, timeout=a.timeout).returncode
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="gpool-diff-") as work:
        try:
            server, url, log_path = launch_server(
                server_bin, ["--listen", "tcp://127.0.0.1:0", "--token", token, "--backend", backend_lib],
                emulator, work)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        try:
            env.update(GPOOL_SERVER=url, GPOOL_TOKEN=token)
            rc = subprocess.run(command, env=env, timeout=a.timeout).returncode
        finally:
            stop_server(server)
        if rc != 0:
            with open(log_path) as f:
                print("----- server log (last 4000 characters) -----\n" + f.read()[-4000:] + "-----")
        return rc


if __name__ == "__main__":
    sys.exit(main())
