#!/usr/bin/env python3
"""Runs one example twice on the emulator with the kernel cache on, in a new temporary cache
directory: the first (cold) run must store its parses, the second (warm) must load them from the
cache, and both must pass with their own checks (docs/emulator.md, "Lazy loading and the kernel
cache").

Usage: kernel_cache_cold_warm.py RUNNER [run_example.py options...] -- PROGRAM [ARGS...]
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    runner, rest = sys.argv[1], sys.argv[2:]
    split = rest.index("--")
    options, command = rest[:split], rest[split:]
    cache = tempfile.mkdtemp(prefix="gpool-kcache-it-")
    try:
        env = ["--env", "GPOOL_EMU_KERNEL_CACHE=on", "--env", f"GPOOL_EMU_KERNEL_CACHE_DIR={cache}",
               "--env", "GPOOL_LOG_LEVEL=debug"]
        for label, expect in (("cold", "kernel cache: stored"), ("warm", "kernel cache: hit")):
            print(f"== {label} run", flush=True)
            rc = subprocess.call([sys.executable, runner] + options + env + ["--expect-stderr", expect] + command)
            if rc != 0:
                return rc
            entries = [f for f in os.listdir(cache) if f.endswith(".ptxast")]
            if not entries:
                print(f"FAIL: the {label} run left no entry in {cache}")
                return 1
        print("PASS")
        return 0
    finally:
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
