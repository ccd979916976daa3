#!/usr/bin/env python3
"""Checks compare.py on two small hand-written observation logs: a changed error code, a
changed value, a check one run stopped before, a machine value and a test one run skipped.
Exit 0 pass, 1 fail."""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def line(backend, test, what, result, value=None):
    r = {"backend": backend, "test": test, "what": what, "result": result}
    if value is not None:
        r["value"] = value
    return json.dumps(r) + "\n"


def main():
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "a.jsonl"), os.path.join(d, "b.jsonl")
        with open(a, "w") as f:
            f.write(line("emulator", "T.Same", "x#0", "CUDA_SUCCESS"))
            f.write(line("emulator", "T.Code", "alloc#0", "CUDA_SUCCESS"))
            f.write(line("emulator", "T.Value", "v#0", "value", 7))
            f.write(line("emulator", "T.Stopped", "first#0", "CUDA_SUCCESS"))
            f.write(line("emulator", "T.Stopped", "second#0", "CUDA_SUCCESS"))
            f.write(line("emulator", "T.Machine", "sm count#0", "machine", 4))
            f.write(line("emulator", "T.Skipped", "y#0", "CUDA_SUCCESS"))
        with open(b, "w") as f:
            f.write(line("pool", "T.Same", "x#0", "CUDA_SUCCESS"))
            f.write(line("pool", "T.Code", "alloc#0", "CUDA_ERROR_INVALID_VALUE"))
            f.write(line("pool", "T.Value", "v#0", "value", 8))
            f.write(line("pool", "T.Stopped", "first#0", "CUDA_SUCCESS"))
            f.write(line("pool", "T.Machine", "sm count#0", "machine", 132))
        r = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), a, b], capture_output=True, text=True)
        print(r.stdout + r.stderr)
        expect = ["emulator (7 checks) vs pool (5 checks): 3 differences",
                  "T.Code: alloc#0: emulator CUDA_SUCCESS, pool CUDA_ERROR_INVALID_VALUE",
                  "T.Value: v#0: emulator 7, pool 8",
                  "T.Stopped: second#0: emulator CUDA_SUCCESS, pool (not checked)",
                  "(machine) T.Machine: sm count#0: emulator 4, pool 132",
                  "run on emulator only: T.Skipped"]
        missing = [e for e in expect if e not in r.stdout]
        if r.returncode != 1 or missing or "T.Same" in r.stdout:
            print(f"FAIL: exit {r.returncode}, missing {missing}")
            return 1
        same = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), a, a], capture_output=True, text=True)
        if same.returncode != 0 or "0 differences" not in same.stdout:
            print("FAIL: a log compared with itself must show 0 differences and exit 0\n" + same.stdout)
            return 1
        with open(b, "a") as f:
            f.write("not json\n")
        bad = subprocess.run([sys.executable, os.path.join(HERE, "compare.py"), a, b], capture_output=True, text=True)
        if bad.returncode != 2 or "b.jsonl:6" not in bad.stderr:
            print(f"FAIL: a broken log must exit 2 naming the line, got {bad.returncode}: {bad.stderr}")
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
