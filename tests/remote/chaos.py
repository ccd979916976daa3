#!/usr/bin/env python3
"""Chaos (issue 13, part 8): kill the client, the worker, the server and the metrics process at
random points of a copy loop, a launch loop and a module-load loop, and check after each kill
that nothing stays held and the survivors keep working. gpool-server on loopback, emulator.

Usage:
  chaos.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --gpool BIN
           [--library-dir DIR]... [--timeout S] [--seed N] [--rounds N]

Every round picks (workload, victim) from all 3 x 4 pairs in a shuffled order (a fixed seed,
so a failure replays), starts the workload as tenant "chaos", waits a random 0.1-0.6 s after
its session appears, and SIGKILLs the victim:
  client   the probe process
  worker   the session's worker (pid from the status)
  server   gpool-server itself (then a fresh server takes its place for the next round)
  metrics  the metrics process (the supervisor restarts it; the session keeps serving calls
           meanwhile, then its client is stopped by the test)
After the kill, within a few seconds:
  - the chaos client has ended (a CUDA error, not a hang) unless it was the victim;
  - the server (old or new) shows no session, no device or image bytes held by "chaos";
  - the server's open descriptors and child processes are back to their count before the round
    (the metrics process and nothing else); after a server kill, none of its children survive;
  - tenant "steady" runs a short job (probe latency 5) that passes, and /metrics answers.
Prints one CHAOS line per round and a summary; exit 0 when every round held.
"""
import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import add_common_args, check_built, client_env, launch_server, stop_server  # noqa: E402

ADMIN = "tok-admin-c4a0"
TOKENS = {"chaos": "tok-chaos-7b19", "steady": "tok-steady-e2d4"}
WORKLOADS = {
    "copy": ["hold", "32"],             # host->device and device->host copies of 32 MiB, forever
    "launch": ["burn", "600", "20000"],  # launch + synchronize of short kernels, forever
    "load": ["images", "100000", "64", "5"],  # module loads of 64 KiB PTX images, one after another
}
VICTIMS = ["client", "worker", "server", "metrics"]


class Server:
    def __init__(self, args, workdir, n):
        self.args = args
        d = os.path.join(workdir, f"server{n}")
        os.makedirs(d)
        cfg = os.path.join(d, "server.toml")
        with open(cfg, "w") as f:
            f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\nmetrics_listen = "127.0.0.1:0"\n'
                    f'image_cache_dir = "{os.path.join(workdir, "cache")}"\nwatchdog_ms = 3000\n')
            for name, tok in TOKENS.items():
                f.write(f'[[tenant]]\nname = "{name}"\ntoken = "{tok}"\nmemory_quota = "512MiB"\n')
            f.write(f'[[tenant]]\nname = "ops"\ntoken = "{ADMIN}"\nadmin = true\n')
        self.proc, self.url, self.log = launch_server(args.server, ["--config", cfg], args.emulator_lib, d)
        self.metrics_url = self.status()["metrics"]

    def status(self):
        r = subprocess.run([self.args.gpool, "status", "--server", self.url, "--token", ADMIN, "--json"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("gpool status failed: " + r.stderr)
        return json.loads(r.stdout)

    def children(self):
        pid = self.proc.pid
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return sorted(int(x) for x in f.read().split())
        except OSError:
            return []

    def fd_targets(self):
        d = f"/proc/{self.proc.pid}/fd"
        out = []
        for fd in sorted(os.listdir(d), key=int):
            try:
                out.append(f"{fd}->{os.readlink(os.path.join(d, fd))}")
            except OSError:
                pass
        return " ".join(out)

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def metrics_pid(self):
        with open(self.log) as f:
            pids = re.findall(r"metrics (?:on \S+ \(process (\d+)\)|process restarted on \S+ \(process (\d+)\))", f.read())
        last = pids[-1] if pids else ("", "")
        return int(last[0] or last[1]) if pids else None

    def scrape(self):
        with urllib.request.urlopen(self.metrics_url, timeout=3) as r:
            return r.read().decode()

    def stop(self):
        stop_server(self.proc)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def settled(srv):
    st = srv.status()
    if st["sessions"]:  # none at all: the steady tenant's last session must be reaped too
        return None
    for t in st["tenants"]:
        if t["name"] == "chaos" and (t["sessions"] != 0 or t["image_bytes"] != 0 or
                                     any(d["bytes_held"] for d in t["devices"])):
            return None
    return st


def steady_job(args, srv):
    r = subprocess.run([args.probe, "latency", "5"], env=client_env(args, srv.url, TOKENS["steady"]),
                       capture_output=True, text=True, timeout=args.timeout)
    if r.returncode != 0 or "PASS" not in r.stdout:
        raise RuntimeError(f"the steady tenant's job failed:\n{r.stdout}{r.stderr}")


def one_round(args, workdir, srv, n, workload, victim, rng):
    """Returns (server, outcome text). Raises RuntimeError on a broken guarantee."""
    steady_job(args, srv)  # warm: the worker pool / caches as in use
    wait_for("a settled server before the round", lambda: settled(srv), 10)
    fds0, kids0 = srv.fds(), len(srv.children())
    client = subprocess.Popen([args.probe] + WORKLOADS[workload], env=client_env(args, srv.url, TOKENS["chaos"]),
                              stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sess = wait_for("the chaos session", lambda: [s for s in srv.status()["sessions"] if s["tenant"] == "chaos"], 30)
    delay = rng.uniform(0.1, 0.6)
    time.sleep(delay)
    if client.poll() is not None:
        raise RuntimeError(f"the {workload} workload ended by itself: {client.stdout.read()}{client.stderr.read()}")
    t0 = time.perf_counter()
    old_kids = srv.children()
    if victim == "client":
        client.kill()
    elif victim == "worker":
        os.kill(sess[0]["pid"], signal.SIGKILL)
    elif victim == "server":
        srv.proc.kill()
        srv.proc.wait()
    elif victim == "metrics":
        os.kill(srv.metrics_pid(), signal.SIGKILL)
    if victim == "metrics":
        # Not the session's business: it must keep running while /metrics restarts; then its
        # client is stopped here so the round can check that everything is returned.
        calls0 = sess[0]["calls"]
        wait_for("/metrics back", lambda: _try(srv.scrape), 10)
        wait_for("the session to keep serving calls", lambda: [s for s in srv.status()["sessions"]
                                                               if s["tenant"] == "chaos" and s["calls"] > calls0], 10)
        if client.poll() is not None:
            raise RuntimeError("the chaos client ended when the metrics process was killed")
        client.kill()
    try:
        client.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        client.kill()
        client.communicate()
        raise RuntimeError(f"the chaos client still runs 15 s after the {victim} was killed")
    client_end = time.perf_counter() - t0
    if victim == "server":
        wait_for("the killed server's children to end", lambda: not any(alive(p) for p in old_kids), 5)
        srv = Server(args, workdir, n + 100)
        steady_job(args, srv)  # the new server's descriptors after a first session, as before the round
        wait_for("a settled new server", lambda: settled(srv), 10)
        fds0, kids0 = srv.fds(), len(srv.children())
    wait_for("nothing held by the chaos tenant", lambda: settled(srv), 5)
    freed = time.perf_counter() - t0
    try:
        wait_for("the server's descriptors back to their count", lambda: srv.fds() <= fds0, 5)
    except RuntimeError:
        raise RuntimeError(f"the server holds {srv.fds()} descriptors, {fds0} before the round: {srv.fd_targets()}")
    wait_for("the server's child processes back to their count", lambda: len(srv.children()) <= kids0, 5)
    fds1, kids1 = srv.fds(), len(srv.children())
    steady_job(args, srv)
    if "gpool_sessions" not in srv.scrape():
        raise RuntimeError("/metrics lacks gpool_sessions")
    return srv, (f"killed after {delay:.2f} s; client ended {client_end:.2f} s later; nothing held after "
                 f"{freed:.2f} s; server fds {fds0} -> {fds1}, children {kids0} -> {kids1}; steady job passed")


def _try(fn):
    try:
        return fn()
    except OSError:
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--probe", required=True)
    p.add_argument("--gpool", required=True)
    p.add_argument("--seed", type=int, default=1313)
    p.add_argument("--rounds", type=int, default=12)
    args = p.parse_args()
    rc = check_built(args, (args.probe, "gpool-remote-probe"), (args.gpool, "the gpool tool"))
    if rc is not None:
        return rc
    rng = random.Random(args.seed)
    pairs = [(w, v) for w in WORKLOADS for v in VICTIMS]
    rng.shuffle(pairs)
    plan = [pairs[i % len(pairs)] for i in range(args.rounds)]
    failures = 0
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        srv = Server(args, workdir, 0)
        try:
            for n, (workload, victim) in enumerate(plan):
                t = time.perf_counter()
                try:
                    srv, outcome = one_round(args, workdir, srv, n, workload, victim, rng)
                    print(f"CHAOS round {n} {workload} kill {victim}: ok ({outcome}; {time.perf_counter() - t:.1f} s)")
                except RuntimeError as e:
                    failures += 1
                    print(f"CHAOS round {n} {workload} kill {victim}: FAIL: {e}")
                    print("----- server log -----\n" + open(srv.log).read()[-4000:])
                    if srv.proc.poll() is not None:
                        srv = Server(args, workdir, n + 200)
        finally:
            srv.stop()
    print(f"CHAOS summary: seed {args.seed}, {len(plan)} rounds, {len(plan) - failures} held, {failures} failed, "
          f"{time.perf_counter() - start:.1f} s")
    if failures == 0:
        print("PASS")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
