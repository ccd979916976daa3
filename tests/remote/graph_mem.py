#!/usr/bin/env python3
"""Graph memory nodes against a tenant's quota, end to end: gpool-server on the emulator backend,
tests/remote/graph_mem_probe.cc through the client shim.

Usage:
  graph_mem.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --gpool BIN
               [--library-dir DIR]... [--timeout S]

A tenant with a 64 MiB quota runs `graph_mem_probe 64`: an allocation node over the whole quota is
refused, a launch's allocation is charged while it is live and returned when cuMemFreeAsync or a
free node in another graph frees it, a launch that does not fit gets CUDA_ERROR_OUT_OF_MEMORY; the
probe exits holding a live graph allocation, and the status endpoint must then show the tenant
holding 0 bytes.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import (add_common_args, admin_status, check_built, client_env, judge,  # noqa: E402
                        launch_server, show, stop_server, check_released)

TOKEN = "tok-graphmem-7d21"
ADMIN = "tok-graphmem-admin-4a90"
QUOTA_MIB = 64


def run(args, workdir):
    config = os.path.join(workdir, "server.toml")
    with open(config, "w") as f:
        f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\n\n'
                f'[[tenant]]\nname = "alpha"\ntoken = "{TOKEN}"\nmemory_quota = "{QUOTA_MIB}MiB"\n\n'
                f'[[tenant]]\nname = "ops"\ntoken = "{ADMIN}"\nadmin = true\n')
    proc, url, log_path = launch_server(args.server, ["--config", config], args.emulator_lib, workdir)
    failures = 0
    try:
        r = subprocess.run([args.probe, str(QUOTA_MIB)], env=client_env(args, url, TOKEN),
                           capture_output=True, text=True, timeout=args.timeout)
        show(r)
        why = judge(r)
        if why:
            print("FAIL: graph_mem_probe: " + why)
            failures += 1
        # The probe exited with a live graph allocation: once its session is gone, the tenant
        # must hold nothing.
        failures += check_released(lambda: admin_status(args.gpool, url, ADMIN), "alpha")
    except Exception as e:  # noqa: BLE001 - reported as a failure with the server log below
        print(f"FAIL: {e}")
        failures += 1
    finally:
        stop_server(proc)
    if failures:
        with open(log_path) as f:
            print("----- server log (tail) -----\n" + f.read()[-4000:])
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--probe", required=True)
    p.add_argument("--gpool", required=True)
    args = p.parse_args()
    rc = check_built(args, (args.probe, "gpool-remote-graph-mem-probe"), (args.gpool, "the gpool tool"))
    if rc is not None:
        return rc
    with tempfile.TemporaryDirectory(prefix="gpool-graphmem-") as workdir:
        rc = run(args, workdir)
    print("PASS" if rc == 0 else "FAIL")
    return rc


if __name__ == "__main__":
    sys.exit(main())
