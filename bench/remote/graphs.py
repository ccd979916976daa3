#!/usr/bin/env python3
"""The CUDA graph benchmark of issue 12, through the pool and on the emulator directly.

A graph of NODES one-thread kernel nodes, captured from a stream, launched REPLAYS times
(gpool-bench-remote graph NODES REPLAYS), then the same kernels issued one by one. Prints a
markdown table with the ratios from this one run:

    python3 bench/remote/graphs.py --build build [--nodes 100] [--replays 1000]

Needs the targets gpool-server gpool_shim gpool gpool_emulator gpool-bench-remote.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import client_env, direct_env, records, start_server  # noqa: E402


def counts(build, url, token):
    r = subprocess.run([os.path.join(build, "tools", "gpool"), "status", "--server", url, "--token",
                        token + "-admin", "--json"], capture_output=True, text=True, check=True)
    sessions = json.loads(r.stdout)["sessions"]
    return sum(s["calls"] for s in sessions), sum(s["round_trips"] for s in sessions)


def run(bench, env, nodes, replays, between=None):
    """Runs the graph mode; `between()` is called before and after the graph loop."""
    proc = subprocess.Popen([bench, "graph", str(nodes), str(replays)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    before = between() if between else None
    proc.stdin.write("go\n")
    proc.stdin.flush()
    graph = json.loads(proc.stdout.readline())
    after = between() if between else None
    proc.stdin.write("next\n")
    proc.stdin.flush()
    rest = records(proc.stdout.read())
    if proc.wait(timeout=600) != 0:
        sys.exit("gpool-bench-remote graph failed: " + json.dumps(rest))
    eager = next(r for r in rest if r["bench"] == "eager")
    return graph, eager, before, after


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--replays", type=int, default=1000)
    a = p.parse_args()
    build = os.path.abspath(a.build)
    bench = os.path.join(build, "bench", "remote", "gpool-bench-remote")
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory() as workdir:
        server, url = start_server(build, token, workdir)
        try:
            direct_graph, direct_eager, _, _ = run(bench, direct_env(build), a.nodes, a.replays)
            pool_graph, pool_eager, before, after = run(bench, client_env(build, url, token), a.nodes, a.replays,
                                                        lambda: counts(build, url, token))
        finally:
            server.terminate()
            server.wait(timeout=30)
    calls = after[0] - before[0]
    trips = after[1] - before[1]
    n, r = a.nodes, a.replays
    print(f"| graph of {n} kernel nodes, {r} launches + 1 stream sync | value |\n| --- | --- |")
    print(f"| calls the server executed for the loop (status `calls`) | {calls} |")
    print(f"| round trips for the loop (status `round_trips`) | {trips} |")
    print(f"| client CPU per graph launch, pool (target ≤ 2 µs) | {pool_graph['client_cpu_ns_per_graph_launch']/1e3:.2f} µs |")
    print(f"| replay wall time, emulator directly | {direct_graph['total_wall_s']:.3f} s |")
    print(f"| replay wall time, through the pool | {pool_graph['total_wall_s']:.3f} s |")
    print(f"| ratio pool / direct (target ≤ 1.1×) | {pool_graph['total_wall_s']/direct_graph['total_wall_s']:.2f}× |")
    print(f"| the same {n * r} launches one by one, emulator directly | {direct_eager['total_wall_s']:.3f} s |")
    print(f"| the same {n * r} launches one by one, through the pool | {pool_eager['total_wall_s']:.3f} s |")
    print(f"| ratio one by one / graph, through the pool | {pool_eager['total_wall_s']/pool_graph['total_wall_s']:.2f}× |")
    print(f"| client CPU per launch one by one, pool | {pool_eager['client_cpu_ns_per_launch']/1e3:.2f} µs |")
    print(f"| kernel counter checked (direct, pool) | {direct_eager['counter_ok']}, {pool_eager['counter_ok']} |")


if __name__ == "__main__":
    main()
