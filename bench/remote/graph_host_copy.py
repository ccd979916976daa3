#!/usr/bin/env python3
"""A graph with host copy nodes of BYTES (one host-to-device, one device-to-host), launched
REPLAYS times with a synchronisation after each, through the pool and on the emulator directly
(gpool-bench-remote graph_host_copy BYTES REPLAYS; server/src/worker_graph_host_copy.h).

Runs ROUNDS rounds against one server, alternating which side goes first, and prints the
minimum and median wall and client CPU time per launch of each side and the pool/direct ratios
(and, for reference, the same bytes moved by a cuMemcpyHtoD and a cuMemcpyDtoH),
all from this one run, with the load average before and after:

    python3 bench/remote/graph_host_copy.py --build build [--bytes 1048576] [--replays 100] [--rounds 5]

Needs the targets gpool-server gpool_shim gpool_emulator gpool-bench-remote.
"""
import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import client_env, direct_env, records, start_server  # noqa: E402


def run(bench, env, size, replays):
    r = subprocess.run([bench, "graph_host_copy", str(size), str(replays)], env=env, capture_output=True,
                       text=True, timeout=600)
    if r.returncode != 0:
        sys.exit("gpool-bench-remote graph_host_copy failed: " + r.stderr[-2000:])
    return records(r.stdout)[0]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--bytes", type=int, default=1 << 20)
    p.add_argument("--replays", type=int, default=100)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    build = os.path.abspath(a.build)
    bench = os.path.join(build, "bench", "remote", "gpool-bench-remote")
    token = secrets.token_hex(16)
    load_before = "%.1f %.1f %.1f" % os.getloadavg()
    res = {"direct": [], "pool": []}
    with tempfile.TemporaryDirectory() as workdir:
        server, url = start_server(build, token, workdir)
        try:
            for rnd in range(a.rounds):
                order = ["direct", "pool"] if rnd % 2 == 0 else ["pool", "direct"]
                for side in order:
                    env = direct_env(build) if side == "direct" else client_env(build, url, token)
                    res[side].append(run(bench, env, a.bytes, a.replays))
        finally:
            server.kill()
    load_after = "%.1f %.1f %.1f" % os.getloadavg()

    def fig(side, key):
        v = [r[key] for r in res[side]]
        return min(v), statistics.median(v)

    print(f"graph of 2 host copy nodes of {a.bytes} bytes, {a.replays} launches x {a.rounds} rounds; "
          f"load average {load_before} -> {load_after}\n")
    print("| per launch (+ sync) | direct min / median | pool min / median | pool/direct (min, median) |")
    print("| --- | --- | --- | --- |")
    for key, name in (("wall_us_per_launch", "graph launch, wall"), ("cpu_us_per_launch", "graph launch, client CPU"),
                      ("wall_us_per_copy_pair", "cuMemcpyHtoD + DtoH of the same bytes, wall"),
                      ("cpu_us_per_copy_pair", "cuMemcpyHtoD + DtoH, client CPU")):
        d, q = fig("direct", key), fig("pool", key)
        print(f"| {name} | {d[0]:.0f} / {d[1]:.0f} us | {q[0]:.0f} / {q[1]:.0f} us | "
              f"{q[0] / d[0]:.2f}x, {q[1] / d[1]:.2f}x |")


if __name__ == "__main__":
    main()
