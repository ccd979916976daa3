#!/usr/bin/env python3
"""Compute shares benchmark (issue 4): device time under weights, and a high-priority tenant's
latency beside a saturating low-priority one, on gpool-server with the emulator backend.

  fairness.py [--build-dir DIR] [--seconds S] [--iters N] [--json]

1. shares: tenants "heavy" (compute_weight 3) and "light" (compute_weight 1), scheduler on, each
   runs `gpool-remote-probe burn S N` (launch + synchronize of a busy kernel in a loop). The
   device time each was metered (status endpoint, tenants[].devices[0].device_time_s) is read
   after a warm-up and at the end; the ratio of the differences should be 3 (+-15%).
   Run twice: metered by wall time (the emulator's default) and by timing events (a GPU's).
2. latency: tenant "hi" (priority high) runs `probe latency 300` (launch + synchronize of a tiny
   kernel) alone, then beside tenant "lo" (priority low) running `probe burn`; and, for
   reference, the same pair with the scheduler off.
3. metering overhead: `probe launches 20000` (launches, then one synchronize; best of 3) with the
   scheduler off, and on with wall metering (batch 1), events (batch 1) and events (batch 8);
   printed as ratios to the scheduler-off time.
run(build_dir) returns the numbers as a dict (bench/pool/run.py calls it); run_short(build_dir)
is the quick variant (event-metered shares and the metering overhead only) for --short.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "remote"))
import sched as remote_sched  # noqa: E402  (tests/remote/sched.py: SchedServer)


def _probe(build_dir):
    return os.path.join(build_dir, "tests", "remote", "gpool-remote-probe")


def _start_burn(server, build_dir, tenant, seconds, iters):
    proc = subprocess.Popen([_probe(build_dir), "burn", str(seconds), str(iters)],
                            env=server.client_env(tenant), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("BURNING"):
        proc.kill()
        raise RuntimeError("burn client for %s did not start: %s %s" % (tenant, line, proc.stderr.read()))
    return proc


def _finish(proc, timeout):
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError("client failed (%d): %s %s" % (proc.returncode, out, err))
    return out


def shares(build_dir, seconds=25.0, iters=2000, warmup=3.0, metering="wall"):
    with tempfile.TemporaryDirectory(prefix="gpool-fair-") as work:
        server = remote_sched.SchedServer(build_dir, [{"name": "heavy", "weight": 3},
                                                      {"name": "light", "weight": 1}], work,
                                          {"GPOOL_SCHED_METERING": metering})
        try:
            procs = [_start_burn(server, build_dir, t, seconds, iters) for t in ("heavy", "light")]
            time.sleep(warmup)
            h0, l0 = server.device_time("heavy"), server.device_time("light")
            t0 = time.time()
            time.sleep(max(seconds - warmup - 1.0, 1.0))
            h1, l1 = server.device_time("heavy"), server.device_time("light")
            window = time.time() - t0
            outs = [_finish(p, seconds + 120) for p in procs]
            launches = [int(re.search(r"LAUNCHES (\d+)", o).group(1)) for o in outs]
        finally:
            server.stop()
    dh, dl = h1 - h0, l1 - l0
    return {"weights": "3:1", "metering": metering, "seconds": seconds, "window_s": round(window, 2), "iters": iters,
            "heavy_device_s": round(dh, 3), "light_device_s": round(dl, 3),
            "ratio": round(dh / dl, 3) if dl > 0 else None,
            "busy_fraction": round((dh + dl) / window, 3) if window > 0 else None,
            "launches_heavy": launches[0], "launches_light": launches[1]}


def _latency(server, build_dir, tenant, count):
    out = subprocess.run([_probe(build_dir), "latency", str(count)], env=server.client_env(tenant),
                         capture_output=True, text=True, timeout=600)
    m = re.search(r"P50_US ([\d.]+) P99_US ([\d.]+) MEAN_US ([\d.]+)", out.stdout)
    if out.returncode != 0 or m is None:
        raise RuntimeError("latency client failed: %s %s" % (out.stdout, out.stderr))
    return {"p50_us": float(m.group(1)), "p99_us": float(m.group(2)), "mean_us": float(m.group(3))}


def latency(build_dir, count=300, iters=2000, scheduler=True, neighbour=True):
    with tempfile.TemporaryDirectory(prefix="gpool-lat-") as work:
        server = remote_sched.SchedServer(build_dir, [{"name": "hi", "priority": "high"},
                                                      {"name": "lo", "priority": "low"}], work,
                                          scheduler=scheduler)
        try:
            burn = _start_burn(server, build_dir, "lo", 3600, iters) if neighbour else None
            try:
                if burn:
                    time.sleep(1.0)
                return _latency(server, build_dir, "hi", count)
            finally:
                if burn:
                    burn.kill()
                    burn.wait()
        finally:
            server.stop()


def metering_overhead(build_dir, launches=20000, rounds=3):
    """Seconds for `probe launches N` (best of `rounds`) per scheduler setting, and the ratios."""
    settings = (("scheduler off", None, None), ("wall, batch 1", "wall", "1"),
                ("events, batch 1", "events", "1"), ("events, batch 8", "events", "8"))
    out = {"launches": launches}
    for label, metering, batch in settings:
        env = {"GPOOL_SCHED_METERING": metering or "wall", "GPOOL_SCHED_BATCH": batch or "0"}
        with tempfile.TemporaryDirectory(prefix="gpool-meter-") as work:
            server = remote_sched.SchedServer(build_dir, [{"name": "a"}], work, env,
                                              scheduler=metering is not None)
            try:
                best = None
                for _ in range(rounds):
                    t0 = time.monotonic()
                    r = subprocess.run([_probe(build_dir), "launches", str(launches)],
                                       env=server.client_env("a"), capture_output=True, text=True, timeout=600)
                    took = time.monotonic() - t0
                    if r.returncode != 0:
                        raise RuntimeError("launches client failed: %s %s" % (r.stdout, r.stderr))
                    best = took if best is None else min(best, took)
            finally:
                server.stop()
        out[label] = round(best, 4)
    base = out["scheduler off"]
    out["ratios"] = {k: round(out[k] / base, 2) for k, _, _ in settings}
    return out


def run(build_dir, seconds=25.0, iters=2000):
    build_dir = os.path.abspath(build_dir)
    result = {"load_average_before": os.getloadavg()[0]}
    result["shares"] = shares(build_dir, seconds, iters)
    result["shares_events"] = shares(build_dir, seconds, iters, metering="events")
    result["metering_overhead"] = metering_overhead(build_dir)
    result["latency_alone"] = latency(build_dir, iters=iters, neighbour=False)
    result["latency_beside_low"] = latency(build_dir, iters=iters, neighbour=True)
    result["latency_beside_low_scheduler_off"] = latency(build_dir, iters=iters, scheduler=False, neighbour=True)
    result["load_average_after"] = os.getloadavg()[0]
    return result


def run_short(build_dir, seconds=6.0, iters=500, launches=2000):
    """A quick run for scripts/gpu-check.sh: the shares under event metering (the GPU's way)
    and the metering overhead, once each; no latency series."""
    build_dir = os.path.abspath(build_dir)
    result = {"load_average_before": os.getloadavg()[0], "short": True}
    result["shares_events"] = shares(build_dir, seconds, iters, warmup=min(3.0, seconds / 3), metering="events")
    result["metering_overhead"] = metering_overhead(build_dir, launches=launches, rounds=1)
    result["load_average_after"] = os.getloadavg()[0]
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "..", "build"))
    p.add_argument("--seconds", type=float, default=25.0)
    p.add_argument("--iters", type=int, default=2000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    r = run(args.build_dir, args.seconds, args.iters)
    if args.json:
        print(json.dumps(r, indent=2))
        return 0
    for s in (r["shares"], r["shares_events"]):
        print("compute shares, weights 3:1, metering %s, %.0f s (window %.1f s): device time heavy %.2f s, "
              "light %.2f s, ratio %s (target 3 +-15%%), device busy %.0f%%"
              % (s["metering"], s["seconds"], s["window_s"], s["heavy_device_s"], s["light_device_s"],
                 s["ratio"], 100 * (s["busy_fraction"] or 0)))
    m = r["metering_overhead"]
    print("%d launches then one synchronize, best of 3: " % m["launches"] +
          ", ".join("%s %.3f s (%.2fx)" % (k, m[k], m["ratios"][k]) for k in m["ratios"]))
    for key, label in (("latency_alone", "high-priority alone"),
                       ("latency_beside_low", "beside saturating low-priority (scheduler on)"),
                       ("latency_beside_low_scheduler_off", "beside saturating low-priority (scheduler off)")):
        v = r[key]
        print("launch+sync latency, %-48s p50 %8.0f us  p99 %8.0f us  mean %8.0f us"
              % (label, v["p50_us"], v["p99_us"], v["mean_us"]))
    print("load average %.2f -> %.2f" % (r["load_average_before"], r["load_average_after"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
