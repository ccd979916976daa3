#!/usr/bin/env python3
"""Host-to-device copies into streams held at host functions (docs/architecture.md, "Copies into a
held stream").

Usage: hostfn_copy.py --server BIN --shim-dir DIR --emulator-lib LIB [--library-dir DIR]...
                      --gpool BIN --copy PROGRAM --other PROGRAM [--timeout S]

Starts gpool-server with a small staging ring and spill budget (GPOOL_COPY_CHUNK=64k,
GPOOL_COPY_SLOTS=2, GPOOL_COPY_SPILL=1m: the ring holds 128 KiB) and tenants "held" (TOKEN),
"other" (TOKEN-other) and the admin "ops". Then:
  - `PROGRAM check` (tests/remote/hostfn_copy.cc) must PASS: async, sync and graph-launched host
    functions with 4 MiB copies behind them, and copies within the budget that must not wait;
  - `PROGRAM vanish` holds its stream at a host function that never returns, with a copy spilled
    behind it, and waits in a 4 MiB copy; the other tenant runs --other to PASS meanwhile; the
    client is SIGKILLed: its session must end and its memory be returned within 10 s, and TOKEN's
    tenant runs --other to PASS afterwards.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_remote  # noqa: E402
from hostfn import held_client_vanishes, with_server  # noqa: E402

SMALL_RING = {"GPOOL_COPY_CHUNK": "64k", "GPOOL_COPY_SLOTS": "2", "GPOOL_COPY_SPILL": "1m"}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run_remote.add_common_args(p)
    p.add_argument("--gpool", required=True)
    p.add_argument("--copy", required=True)
    p.add_argument("--other", required=True)
    args = p.parse_args()
    if (code := run_remote.check_built(args, (args.gpool, "the gpool tool"), (args.copy, "gpool-remote-hostfn-copy"),
                                       (args.other, "the example"))) is not None:
        return code
    return with_server(args, "gpool-hostfn-copy-",
                       lambda args, url, token: check(args, url, token) or vanish(args, url, token), SMALL_RING)


def check(args, url, token):
    r = subprocess.run([args.copy, "check"], env=run_remote.client_env(args, url, token), capture_output=True,
                       text=True, timeout=args.timeout)
    print(r.stdout + r.stderr[-3000:])
    if r.returncode != 0 or "PASS" not in r.stdout:
        print(f"FAIL: `{os.path.basename(args.copy)} check` exited {r.returncode}")
        return 1
    print("ok: every copy into a held stream arrived, none hung")
    return 0


def vanish(args, url, token):
    def into_copy(held):
        time.sleep(0.5)  # into the 4 MiB copy, which waits for the host function
        if held.poll() is not None:
            out, err = held.communicate()
            print(out + err)
            print("FAIL: the client did not wait in its copy")
            return False
        return True

    return held_client_vanishes(args, url, token, [args.copy, "vanish"], into_copy)


if __name__ == "__main__":
    sys.exit(main())
