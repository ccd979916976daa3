#!/usr/bin/env python3
"""Runs scripts/gpu-check.sh the way CI can: short mode, the existing build, the emulator's
libcuda.so.1 as the stand-in driver; and judges its report.

  check_gpu_check.py --build-dir DIR [--mode stand-in|refuse]

stand-in  gpu-check.sh --short --no-build with GPOOL_GPU_CHECK_DRIVER = DIR/emulator/libcuda.so.1
          and OUT = a temporary directory must exit 0, print each step's duration and the report
          path, and write gpu-check-report.md with the summary and every step's section, every
          step PASS, three backend comparisons, and no difference between "real" and the
          emulator (here they are the same library).
refuse    without a stand-in and without nvidia-smi on PATH the script must refuse (exit 2) and
          say how to name a stand-in. Skipped (77) on a machine where nvidia-smi exists.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "scripts", "gpu-check.sh")
SECTIONS = ["## Summary", "## 1. Build", "## 2. Device", "## 3. Examples directly on the driver",
            "## 4. Differential suite", "## 5. Through gpool-server", "## 6. Benchmarks"]
STEPS = ["build", "device", "examples", "differential", "pool", "benches"]


def fail(why, out=""):
    print(out[-6000:])
    print("FAIL: " + why)
    return 1


def stand_in(build):
    with tempfile.TemporaryDirectory(prefix="gpool-gpucheck-") as out:
        env = dict(os.environ, OUT=out, GPOOL_GPU_CHECK_DRIVER=os.path.join(build, "emulator", "libcuda.so.1"))
        env.pop("GPOOL_TEST_BACKEND", None)
        env.pop("GPOOL_TEST_DRIVER_DIR", None)
        r = subprocess.run(["bash", SCRIPT, "--short", "--no-build", "--build-dir", build], env=env,
                           capture_output=True, text=True, timeout=900)
        text = r.stdout + r.stderr
        report_path = os.path.join(out, "gpu-check-report.md")
        if not os.path.exists(report_path):
            return fail("no report at " + report_path, text)
        report = open(report_path).read()
        print(report[-12000:])
        if r.returncode != 0:
            return fail(f"gpu-check.sh exited {r.returncode}", text)
        for s in SECTIONS:
            if s not in report:
                return fail(f"the report has no section '{s}'")
        for step in STEPS:
            if not re.search(rf"^\| {step} \| PASS \| [\d.]+ \|$", report, re.M):
                return fail(f"the summary has no PASS row with a duration for step {step}")
            if not re.search(rf"step {step}: PASS in [\d.]+ s", text):
                return fail(f"the script did not print the duration of step {step}", text)
        if "report " + report_path not in text:
            return fail("the printed summary does not name the report", text)
        comparisons = re.findall(r"^(\d+) differences between (\S+)", report, re.M)
        if len(comparisons) != 3:
            return fail(f"expected 3 backend comparisons, found {len(comparisons)}")
        if comparisons[0] != ("0", "real"):
            return fail(f"real (the emulator as stand-in) differs from the emulator: {comparisons[0]}")
        for needle in ("ratio to the process baseline", "H2D / direct", "warm attach / cold context creation",
                       "shares_events"):
            if needle not in report:
                return fail(f"the benchmark section lacks '{needle}'")
    print("gpu-check passed with the emulator as the stand-in driver")
    return 0


def refuse(build):
    if shutil.which("nvidia-smi"):
        print("SKIP: nvidia-smi exists here; the refusal is for machines without a GPU")
        return 77
    with tempfile.TemporaryDirectory(prefix="gpool-gpucheck-") as out:
        env = dict(os.environ, OUT=out)
        env.pop("GPOOL_GPU_CHECK_DRIVER", None)
        r = subprocess.run(["bash", SCRIPT, "--short", "--no-build", "--build-dir", build], env=env,
                           capture_output=True, text=True, timeout=120)
        text = r.stdout + r.stderr
        print(text)
        if r.returncode != 2:
            return fail(f"expected exit 2 (refused), got {r.returncode}")
        if "GPOOL_GPU_CHECK_DRIVER" not in r.stderr:
            return fail("the refusal does not say how to name a stand-in driver")
        report = open(os.path.join(out, "gpu-check-report.md")).read()
        if "refused" not in report or "## 3." in report:
            return fail("the report should record the refusal and stop before the examples")
    print("gpu-check refused to run without a GPU or a stand-in")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build-dir", required=True)
    p.add_argument("--mode", default="stand-in", choices=["stand-in", "refuse"])
    a = p.parse_args()
    build = os.path.abspath(a.build_dir)
    return stand_in(build) if a.mode == "stand-in" else refuse(build)


if __name__ == "__main__":
    sys.exit(main())
