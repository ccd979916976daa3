#!/usr/bin/env python3
"""Runs the pool benchmarks (issue 4) with one command and prints a Markdown report.

  python3 bench/pool/run.py --build build [--runs 30] [--json] [--driver DIR/libcuda.so.1] [--short]

1. attach: gpool-bench-attach (bench/pool/attach_probe.cc) started --runs times in a row through
   the client shim, against gpool-server (emulator backend) with warm_workers=2 (warm: each
   session goes to a pre-attached pool worker) and with warm_workers=0 (cold: a worker is
   forked and attaches the backend per session). Each run times connect to the first
   successful cuMemAlloc (cuInit + device + primary context + 1 MiB cuMemAlloc). The status
   endpoint confirms how many sessions each server started warm and cold.
2. fairness: bench/pool/fairness.py's run(build_dir) when that file exists (compute shares under
   wall and event metering, priority latency, the metering overhead of launch batches).

3. direct: gpool-bench-attach run on the driver itself (no server): a cold CUDA context
   creation, the baseline of the warm attach.

--driver names the libcuda.so.1 under test (default: the emulator's): the servers load it
(`--backend`, and GPOOL_TEST_BACKEND for fairness.py's servers) and the direct runs find it first
on LD_LIBRARY_PATH. --short: 5 attach runs and fairness.run_short() (scripts/gpu-check.sh).
Everything is loopback on this host. Median and p90 of the attach runs, in milliseconds.
"""
import argparse
import importlib.util
import json
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def start_server(build, token, workdir, warm, driver=None):
    url_file = os.path.join(workdir, f"url-{warm}")
    env = dict(os.environ, GPOOL_EMULATOR_LIB=os.path.join(build, "emulator", "libcuda.so.1"),
               GPOOL_LOG_LEVEL="warn")
    env.pop("GPOOL_WARM_WORKERS", None)
    log = open(os.path.join(workdir, f"server-{warm}.log"), "w")
    proc = subprocess.Popen([os.path.join(build, "server", "gpool-server"), "--listen", "tcp://127.0.0.1:0",
                             "--token", token, "--admin-token", token + "-admin", "--url-file", url_file,
                             "--warm-workers", str(warm)] + (["--backend", driver] if driver else []),
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(url_file) and open(url_file).read().strip():
            return proc, open(url_file).read().strip()
        time.sleep(0.05)
    proc.kill()
    sys.exit("gpool-server did not start; see " + log.name)


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def status(build, url, token):
    r = subprocess.run([os.path.join(build, "tools", "gpool"), "status", "--server", url, "--token",
                        token + "-admin", "--json"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def wait_pool_ready(build, url, token, want, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if status(build, url, token)["pool"]["ready"] >= want:
            return True
        time.sleep(0.05)
    return False


def run_attach(probe, env):
    r = subprocess.run([probe], env=env, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        sys.exit(f"gpool-bench-attach failed: {r.stdout}{r.stderr}")
    rec = next(json.loads(l) for l in r.stdout.splitlines() if l.startswith("{"))
    return rec["total_us"] / 1000.0


def summary(totals, **extra):
    totals.sort()
    return dict(extra, runs=len(totals), median_ms=statistics.median(totals),
                p90_ms=totals[min(len(totals) - 1, int(0.9 * len(totals)))], min_ms=totals[0])


def direct_series(build, driver, runs):
    """gpool-bench-attach on the driver itself: cuInit + a cold primary context + 1 MiB."""
    probe = os.path.join(build, "bench", "pool", "gpool-bench-attach")
    paths = [os.path.dirname(driver) if driver else os.path.join(build, "emulator")]
    if os.environ.get("LD_LIBRARY_PATH"):
        paths.append(os.environ["LD_LIBRARY_PATH"])
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(paths))
    return summary([run_attach(probe, env) for _ in range(runs)], direct=True)


def attach_series(build, warm, runs, driver=None):
    token = secrets.token_hex(16)
    probe = os.path.join(build, "bench", "pool", "gpool-bench-attach")
    paths = [os.path.join(build, "client-shim")]
    if os.environ.get("LD_LIBRARY_PATH"):
        paths.append(os.environ["LD_LIBRARY_PATH"])
    with tempfile.TemporaryDirectory() as workdir:
        server, url = start_server(build, token, workdir, warm, driver)
        try:
            env = dict(os.environ, GPOOL_SERVER=url, GPOOL_TOKEN=token, LD_LIBRARY_PATH=":".join(paths))
            totals = []
            for _ in range(runs):
                if warm and not wait_pool_ready(build, url, token, warm):
                    sys.exit("the warm pool did not become ready")
                totals.append(run_attach(probe, env))
            pool = status(build, url, token)["pool"]
        finally:
            stop_server(server)
    return summary(totals, warm_workers=warm, sessions_warm=pool["warm_sessions"],
                   sessions_cold=pool["cold_sessions"])


def fairness(build, short=False):
    path = os.path.join(HERE, "fairness.py")
    if not os.path.exists(path):
        return None
    spec = importlib.util.spec_from_file_location("gpool_pool_fairness", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.run_short(build) if short else mod.run(build)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build")
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--skip-fairness", action="store_true")
    p.add_argument("--json", action="store_true", help="print the results as one JSON document")
    p.add_argument("--driver", help="the libcuda.so.1 under test (default: the emulator's)")
    p.add_argument("--short", action="store_true", help="5 attach runs and the short fairness run")
    a = p.parse_args()
    build = os.path.abspath(a.build)
    if a.short:
        a.runs = min(a.runs, 5)
    if a.driver:
        a.driver = os.path.abspath(a.driver)
        if os.path.basename(a.driver) != "libcuda.so.1":
            sys.exit("--driver must name a file called libcuda.so.1 (link one into a directory)")
        os.environ["GPOOL_TEST_BACKEND"] = a.driver  # fairness.py's servers (run_remote.launch_server)
    for need in ("server/gpool-server", "tools/gpool", "client-shim/libcuda.so.1", "emulator/libcuda.so.1",
                 "bench/pool/gpool-bench-attach"):
        if not os.path.exists(os.path.join(build, need)):
            sys.exit(f"{need} is not built in {build}")
    load_before = os.getloadavg()
    results = {"attach": [attach_series(build, 2, a.runs, a.driver), attach_series(build, 0, a.runs, a.driver),
                          direct_series(build, a.driver, a.runs)]}
    if not a.skip_fairness:
        results["fairness"] = fairness(build, a.short)
    results["load_average"] = [load_before[0], os.getloadavg()[0]]
    if a.json:
        print(json.dumps(results, indent=2))
        return
    print(f"load average (1 min) before / after: {load_before[0]:.2f} / {os.getloadavg()[0]:.2f}\n")
    print("| attach (connect to first cuMemAlloc) | runs | median | p90 | min | sessions warm / cold |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in results["attach"]:
        if r.get("direct"):
            print(f"| direct on the driver (cold context creation, no server) | {r['runs']} | {r['median_ms']:.2f} ms "
                  f"| {r['p90_ms']:.2f} ms | {r['min_ms']:.2f} ms | - |")
            continue
        kind = f"warm (warm_workers={r['warm_workers']})" if r["warm_workers"] else "cold (warm_workers=0)"
        print(f"| {kind} | {r['runs']} | {r['median_ms']:.2f} ms | {r['p90_ms']:.2f} ms | {r['min_ms']:.2f} ms "
              f"| {r['sessions_warm']} / {r['sessions_cold']} |")
    warm, direct = results["attach"][0], results["attach"][2]
    print(f"\nwarm attach / cold context creation on the driver (medians): "
          f"{warm['median_ms'] / direct['median_ms']:.2f}×")
    if results.get("fairness") is not None:
        print("\nfairness (bench/pool/fairness.py):\n")
        print("```\n" + json.dumps(results["fairness"], indent=2) + "\n```")


if __name__ == "__main__":
    main()
