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
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import add_common_args, check_built, quota_probe  # noqa: E402

TOKEN = "tok-graphmem-7d21"
ADMIN = "tok-graphmem-admin-4a90"
QUOTA_MIB = 64


def run(args, workdir):
    return quota_probe(args, workdir, TOKEN, ADMIN, QUOTA_MIB, [args.probe, str(QUOTA_MIB)], "graph_mem_probe",
                       "the probe exited with a live graph allocation")


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
