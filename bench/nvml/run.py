#!/usr/bin/env python3
"""What an NVML call costs through gpool's NVML (nvml-shim/), one run, printed as Markdown.

  python3 bench/nvml/run.py --build build [--calls 1000]

Starts gpool-server (emulator backend, one tenant) on loopback and, through ctypes on
build/client-shim/libnvidia-ml.so.1: nvmlInit_v2 (one status round trip per server, plus the
device list), then --calls nvmlDeviceGetMemoryInfo (a live query: one status-only connection and
round trip to the server each) and --calls nvmlDeviceGetName (answered from what init read).
Prints the time of each and the ratio live / cached.
"""
import argparse
import ctypes
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "remote"))
from run_remote import launch_server, stop_server  # noqa: E402


class Memory(ctypes.Structure):
    _fields_ = [("total", ctypes.c_ulonglong), ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--calls", type=int, default=1000)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    with tempfile.TemporaryDirectory() as workdir:
        proc, url, _ = launch_server(os.path.join(build, "server", "gpool-server"),
                                     ["--listen", "tcp://127.0.0.1:0", "--token", "bench-nvml"],
                                     os.path.join(build, "emulator", "libcuda.so.1"), workdir,
                                     env_extra={"GPOOL_LOG_LEVEL": "warn"})
        try:
            os.environ["GPOOL_SERVER"] = url
            os.environ["GPOOL_TOKEN"] = "bench-nvml"
            lib = ctypes.CDLL(os.path.join(build, "client-shim", "libnvidia-ml.so.1"))
            t0 = time.perf_counter()
            assert lib.nvmlInit_v2() == 0
            t1 = time.perf_counter()
            handle = ctypes.c_void_p()
            assert lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle)) == 0
            mem = Memory()
            t2 = time.perf_counter()
            for _ in range(args.calls):
                assert lib.nvmlDeviceGetMemoryInfo(handle, ctypes.byref(mem)) == 0
            t3 = time.perf_counter()
            name = ctypes.create_string_buffer(96)
            for _ in range(args.calls):
                assert lib.nvmlDeviceGetName(handle, name, 96) == 0
            t4 = time.perf_counter()
            lib.nvmlShutdown()
        finally:
            stop_server(proc)
    live = (t3 - t2) / args.calls
    cached = (t4 - t3) / args.calls
    print("| call | time |")
    print("| --- | --- |")
    print(f"| nvmlInit_v2 (first, one server) | {1e3 * (t1 - t0):.2f} ms |")
    print(f"| nvmlDeviceGetMemoryInfo (live, {args.calls} calls) | {1e6 * live:.0f} us per call |")
    print(f"| nvmlDeviceGetName (cached, {args.calls} calls) | {1e6 * cached:.2f} us per call |")
    print(f"\nlive / cached: {live / cached:.0f}x")


if __name__ == "__main__":
    main()
