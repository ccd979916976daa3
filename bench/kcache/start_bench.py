#!/usr/bin/env python3
"""Cold and warm start of NVIDIA's libraries on the gpool emulator (a benchmark, not a test).

Runs library_start (bench/kcache/library_start.cu) several rounds, each round three ways:
  cold  a new, empty kernel cache directory (GPOOL_EMU_KERNEL_CACHE_DIR)
  warm  the same directory again (the parses the cold run stored)
  off   GPOOL_EMU_KERNEL_CACHE=off
and prints, per way, the median over the rounds of
  - first result: ms from just before the process was started to its first result
    (the program's "first ..." line; the start time travels in GPOOL_BENCH_SPAWN_NS),
  - process CPU: user + system seconds of the whole process,
  - emulator load CPU: the CPU ms the emulator's module loads spent (image, parse, program),
    summed from its debug log,
then the warm/cold ratios of the three, from this one run.

Usage: start_bench.py [--build DIR] [--rounds N] [--program PATH] [-- ARGS for library_start]
       (default ARGS: sgemm 64; e.g. `-- lt 64`, `-- fft`, `-- sgemm 1024`)
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

FIRST = re.compile(r"^first .*?\s+([0-9.]+) ms$", re.M)
LOAD = re.compile(r"module load: .*CPU ms: image ([0-9.]+), parse ([0-9.]+), program ([0-9.]+), rest ([0-9.]+)")


def run_once(program, args, env):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(env)
    env["GPOOL_BENCH_SPAWN_NS"] = str(time.monotonic_ns())
    p = subprocess.run([program] + args, env=env, capture_output=True, text=True)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0 or "PASS" not in p.stdout:
        sys.exit(f"start_bench: {program} {' '.join(args)} failed ({p.returncode}):\n{p.stdout}\n{p.stderr[-3000:]}")
    m = FIRST.search(p.stdout)
    if not m:
        sys.exit(f"start_bench: no 'first ...' line in:\n{p.stdout}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    load = sum(sum(float(x) for x in g) for g in LOAD.findall(p.stderr))
    parse = sum(float(g[1]) for g in LOAD.findall(p.stderr))
    return float(m.group(1)), cpu * 1e3, load, parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--program", default=None)
    ap.add_argument("args", nargs="*")
    a = ap.parse_args()
    args = a.args or ["sgemm", "64"]
    build = os.path.abspath(a.build)
    program = a.program or os.path.join(build, "bench", "kcache", "library_start")
    env = dict(os.environ)
    env["LD_LIBRARY_PATH"] = os.path.join(build, "emulator") + ":" + env.get("LD_LIBRARY_PATH", "")
    env.setdefault("GPOOL_EMU_CC", "13.0")
    env["GPOOL_LOG_LEVEL"] = "debug"
    env.pop("GPOOL_EMU_KERNEL_CACHE", None)
    results = {"cold": [], "warm": [], "off": []}
    for _ in range(a.rounds):
        d = tempfile.mkdtemp(prefix="gpool-kcache-bench-")
        try:
            e = dict(env, GPOOL_EMU_KERNEL_CACHE_DIR=d)
            results["cold"].append(run_once(program, args, e))
            results["warm"].append(run_once(program, args, e))
            results["off"].append(run_once(program, args, dict(env, GPOOL_EMU_KERNEL_CACHE="off")))
        finally:
            shutil.rmtree(d, ignore_errors=True)
    print(f"library_start {' '.join(args)}, {a.rounds} rounds, GPOOL_EMU_CC={env['GPOOL_EMU_CC']}, "
          f"{os.cpu_count()} CPUs; medians")
    print(f"{'':6} {'first result ms':>16} {'process CPU ms':>15} {'emulator load CPU ms':>21} {'of which parse':>15}")
    med = {}
    for k, rows in results.items():
        med[k] = [statistics.median(r[i] for r in rows) for i in range(4)]
        print(f"{k:6} {med[k][0]:16.1f} {med[k][1]:15.1f} {med[k][2]:21.1f} {med[k][3]:15.1f}")
    c, w = med["cold"], med["warm"]
    ratio = lambda x, y: (x / y) if y else float("nan")
    print(f"warm/cold: first result {ratio(w[0], c[0]):.2f}, process CPU {ratio(w[1], c[1]):.2f}, "
          f"emulator load CPU {ratio(w[2], c[2]):.2f}")


if __name__ == "__main__":
    main()
