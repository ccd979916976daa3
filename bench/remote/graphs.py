#!/usr/bin/env python3
"""The CUDA graph benchmark of issue 12, through the pool and on the emulator directly.

A graph of NODES one-thread kernel nodes, captured from a stream, launched REPLAYS times
(gpool-bench-remote graph NODES REPLAYS), then the same kernels issued one by one. Runs ROUNDS
rounds against one server, alternating which side goes first (direct, pool; pool, direct; ...)
so that a change in the machine's load hits both sides alike, and prints a markdown table of the
minimum and median of each figure over the rounds, with every ratio taken from this one run:

    python3 bench/remote/graphs.py --build build [--nodes 100] [--replays 1000] [--rounds 5]

Messages and round trips are the server's own per-session counters (`gpool status --json`:
`calls` counts the Call frames the worker received, one per frame; `round_trips` the replies
it sent), read just before the graph loop and just after its closing cuStreamSynchronize,
every round. The load average (os.getloadavg) before and after is printed with the table.

Needs the targets gpool-server gpool_shim gpool gpool_emulator gpool-bench-remote.
"""
import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run import client_env, direct_env, records, start_server  # noqa: E402


def sched_ns(pid):
    """(CPU ns, ns runnable but waiting for a CPU, times put on a CPU) summed over every live
    thread of process `pid` (/proc/PID/task/*/schedstat)."""
    run = wait = slices = 0
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{t}/schedstat") as f:
                fields = f.read().split()
            run += int(fields[0])
            wait += int(fields[1])
            slices += int(fields[2])
        except OSError:
            pass  # the thread ended meanwhile
    return run, wait, slices


def counts(build, url, token, client_pid):
    """(calls, round trips, pids of the worker processes) of the sessions of process
    `client_pid` (an earlier round's session may still be ending)."""
    r = subprocess.run([os.path.join(build, "tools", "gpool"), "status", "--server", url, "--token",
                        token + "-admin", "--json"], capture_output=True, text=True, check=True)
    sessions = [s for s in json.loads(r.stdout)["sessions"] if s["client_pid"] == client_pid]
    if not sessions:
        sys.exit(f"no session of process {client_pid} in gpool status")
    return (sum(s["calls"] for s in sessions), sum(s["round_trips"] for s in sessions),
            [s["pid"] for s in sessions])


def run(bench, env, nodes, replays, between=None):
    """Runs the graph mode; `between(pid)` is called before and after the graph loop."""
    proc = subprocess.Popen([bench, "graph", str(nodes), str(replays)], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    proc.stdout.readline()
    before = between(proc.pid) if between else None
    pids = [proc.pid] + (before[2] if between else [])
    sched0 = [sched_ns(p) for p in pids]
    proc.stdin.write("go\n")
    proc.stdin.flush()
    graph = json.loads(proc.stdout.readline())
    sched1 = [sched_ns(p) for p in pids]
    after = between(proc.pid) if between else None
    proc.stdin.write("next\n")
    proc.stdin.flush()
    rest = records(proc.stdout.read())
    if proc.wait(timeout=600) != 0:
        sys.exit("gpool-bench-remote graph failed: " + json.dumps(rest))
    eager = next(r for r in rest if r["bench"] == "eager")
    eager["overlap_sync_wait_s"] = next(r for r in rest if r["bench"] == "overlap")["sync_wait_s"]
    msgs = (after[0] - before[0], after[1] - before[1]) if between else None
    # CPU of the graph phase, and time runnable but waiting for a CPU: the benchmark process,
    # plus the server's worker process through the pool. Read from outside, so they include a
    # little of the stdin/stdout handshake around the loop.
    graph["cpu_s"] = sum(b[0] - a[0] for a, b in zip(sched0, sched1)) * 1e-9
    graph["runq_s"] = sum(b[1] - a[1] for a, b in zip(sched0, sched1)) * 1e-9
    graph["slices"] = sum(b[2] - a[2] for a, b in zip(sched0, sched1))
    return {"graph": graph, "eager": eager, "msgs": msgs}


def loadavg():
    return "%.1f %.1f %.1f" % os.getloadavg()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--replays", type=int, default=1000)
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    build = os.path.abspath(a.build)
    bench = os.path.join(build, "bench", "remote", "gpool-bench-remote")
    token = secrets.token_hex(16)
    load_before = loadavg()
    direct, pool = [], []
    with tempfile.TemporaryDirectory() as workdir:
        server, url = start_server(build, token, workdir)
        try:
            for rnd in range(a.rounds):
                sides = [("direct", lambda: direct.append(run(bench, direct_env(build), a.nodes, a.replays))),
                         ("pool", lambda: pool.append(run(bench, client_env(build, url, token), a.nodes, a.replays,
                                                          lambda pid: counts(build, url, token, pid))))]
                for _, go in (sides if rnd % 2 == 0 else sides[::-1]):
                    go()
        finally:
            server.terminate()
            server.wait(timeout=30)
    load_after = loadavg()

    def fig(runs, part, key):
        v = [r[part][key] for r in runs]
        return min(v), statistics.median(v)

    def paired(num, den):  # per-round ratio num/den (same round), min and median
        v = [x / y for x, y in zip(num, den)]
        return min(v), statistics.median(v)

    n, r = a.nodes, a.replays
    msgs = sorted({p_["msgs"] for p_ in pool})
    dg = fig(direct, "graph", "total_wall_s")
    pg = fig(pool, "graph", "total_wall_s")
    de = fig(direct, "eager", "total_wall_s")
    pe = fig(pool, "eager", "total_wall_s")
    rp = paired([x["graph"]["total_wall_s"] for x in pool], [x["graph"]["total_wall_s"] for x in direct])
    re = paired([x["eager"]["total_wall_s"] for x in pool], [x["graph"]["total_wall_s"] for x in pool])
    print(f"graph of {n} kernel nodes, {r} launches + 1 stream sync; {a.rounds} rounds, direct and pool "
          f"alternating; load average before {load_before}, after {load_after}\n")
    print("| figure | min | median |\n| --- | --- | --- |")
    print(f"| calls (= messages) the server received for the loop, every round | "
          f"{', '.join(str(m[0]) for m in msgs)} | |")
    print(f"| round trips for the loop, every round | {', '.join(str(m[1]) for m in msgs)} | |")
    cg = fig(pool, "graph", "client_cpu_ns_per_graph_launch")
    print(f"| client CPU per graph launch, pool (target ≤ 2 µs) | {cg[0]/1e3:.2f} µs | {cg[1]/1e3:.2f} µs |")
    # The launches queued since the last write go out in the closing synchronisation's write.
    ct = [x["graph"]["total_cpu_s"] * 1e9 / r for x in pool]
    print(f"| the same with the closing synchronisation (which writes the queued launches) | "
          f"{min(ct)/1e3:.2f} µs | {statistics.median(ct)/1e3:.2f} µs |")
    print(f"| replay wall time, emulator directly | {dg[0]:.3f} s | {dg[1]:.3f} s |")
    print(f"| replay wall time, through the pool | {pg[0]:.3f} s | {pg[1]:.3f} s |")
    print(f"| ratio pool / direct, min over min and median over median (target ≤ 1.1×) | "
          f"{pg[0]/dg[0]:.2f}× | {pg[1]/dg[1]:.2f}× |")
    print(f"| ratio pool / direct of the same round | {rp[0]:.2f}× | {rp[1]:.2f}× |")
    dc = fig(direct, "graph", "cpu_s")
    pc = fig(pool, "graph", "cpu_s")
    print(f"| replay CPU time, emulator directly (the process) | {dc[0]:.3f} s | {dc[1]:.3f} s |")
    print(f"| replay CPU time, through the pool (client + server worker) | {pc[0]:.3f} s | {pc[1]:.3f} s |")
    print(f"| ratio of CPU time pool / direct | {pc[0]/dc[0]:.2f}× | {pc[1]/dc[1]:.2f}× |")
    dq = fig(direct, "graph", "runq_s")
    pq = fig(pool, "graph", "runq_s")
    print(f"| time its threads were runnable but waiting for a CPU, directly | {dq[0]:.3f} s | {dq[1]:.3f} s |")
    print(f"| time its threads were runnable but waiting for a CPU, through the pool | {pq[0]:.3f} s | {pq[1]:.3f} s |")
    ds = fig(direct, "graph", "slices")
    ps = fig(pool, "graph", "slices")
    print(f"| times its threads were put on a CPU (wake-ups, preemptions), directly | {ds[0]} | {ds[1]:.0f} |")
    print(f"| times its threads were put on a CPU, through the pool | {ps[0]} | {ps[1]:.0f} |")
    print(f"| the same {n * r} launches one by one, emulator directly | {de[0]:.3f} s | {de[1]:.3f} s |")
    print(f"| the same {n * r} launches one by one, through the pool | {pe[0]:.3f} s | {pe[1]:.3f} s |")
    print(f"| ratio one by one / graph through the pool, same round | {re[0]:.2f}× | {re[1]:.2f}× |")
    ce = fig(pool, "eager", "client_cpu_ns_per_launch")
    print(f"| client CPU per launch one by one, pool | {ce[0]/1e3:.2f} µs | {ce[1]/1e3:.2f} µs |")
    do = fig(direct, "eager", "overlap_sync_wait_s")
    po = fig(pool, "eager", "overlap_sync_wait_s")
    print(f"| wait in cuStreamSynchronize after 10 graph launches and 50 ms of host sleep, directly | "
          f"{do[0]*1e3:.2f} ms | {do[1]*1e3:.2f} ms |")
    print(f"| wait in cuStreamSynchronize after 10 graph launches and 50 ms of host sleep, through the pool | "
          f"{po[0]*1e3:.2f} ms | {po[1]*1e3:.2f} ms |")
    ok = all(x["eager"]["counter_ok"] for x in direct + pool)
    print(f"| kernel counter checked, every run | {ok} | |")


if __name__ == "__main__":
    main()
