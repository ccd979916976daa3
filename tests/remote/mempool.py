#!/usr/bin/env python3
"""Memory pools created by the application (cuMemPoolCreate & co.), end to end: gpool-server on
the emulator backend, the probe (tests/remote/probe.cc) through the client shim.

Usage:
  mempool.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --gpool BIN
             [--library-dir DIR]... [--timeout S] --mode MODE

Modes:
  create   `probe pool_create`: attributes (the release threshold as the application set it),
           a pool allocation whose data round-trips, cuDeviceSetMemPool, access, trim, destroy,
           and forged pool handles / unsupported properties refused with an error.
  quota    a tenant with a 64 MiB quota runs `probe pool_quota 64`: pool allocations over the
           quota get CUDA_ERROR_OUT_OF_MEMORY, frees make room again; the probe exits holding
           32 MiB in a pool it never destroyed, and the status endpoint must then show the
           tenant holding 0 bytes and no session left.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import (add_common_args, check_built, client_env, judge, quota_probe, show,  # noqa: E402
                        start_server, stop_server)

TOKEN = "tok-mempool-4c1e"
ADMIN = "tok-mempool-admin-93b7"
QUOTA_MIB = 64


def run_probe(args, url, token, *probe_args):
    return subprocess.run([args.probe] + list(probe_args), env=client_env(args, url, token),
                          capture_output=True, text=True, timeout=args.timeout)


def mode_create(args, workdir):
    proc, url = start_server(args, TOKEN, workdir)
    try:
        r = run_probe(args, url, TOKEN, "pool_create")
        show(r)
        why = judge(r)
        if why:
            print("FAIL: probe pool_create: " + why)
            return 1
        return 0
    finally:
        stop_server(proc)


def mode_quota(args, workdir):
    return quota_probe(args, workdir, TOKEN, ADMIN, QUOTA_MIB, [args.probe, "pool_quota", str(QUOTA_MIB)],
                       "probe pool_quota", "the probe left 32 MiB allocated in a pool it never destroyed")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--probe", required=True)
    p.add_argument("--gpool", required=True)
    p.add_argument("--mode", required=True, choices=["create", "quota"])
    args = p.parse_args()
    rc = check_built(args, (args.probe, "gpool-remote-probe"), (args.gpool, "the gpool tool"))
    if rc is not None:
        return rc
    with tempfile.TemporaryDirectory(prefix="gpool-mempool-") as workdir:
        rc = {"create": mode_create, "quota": mode_quota}[args.mode](args, workdir)
    print("PASS" if rc == 0 else "FAIL")
    return rc


if __name__ == "__main__":
    sys.exit(main())
