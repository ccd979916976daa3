#!/usr/bin/env python3
"""Runs one example program on the gpool emulator and judges the result.

Usage:
  run_example.py --emulator-dir DIR [--library-dir DIR]... [--expect-stdout FILE]
                 [--expect-stderr REGEX] [--expect-failure REGEX] [--asan-runtime LIB]
                 [--env NAME=VALUE]... -- PROGRAM [ARGS...]

The program runs with LD_LIBRARY_PATH = emulator dir, then each --library-dir, then the caller's
LD_LIBRARY_PATH, so its dlopen("libcuda.so.1") (or its DT_NEEDED entry) finds the emulator.
It passes when it exits 0, prints a line that is exactly "PASS" and no line starting "FAIL";
with --expect-stdout its whole stdout must equal the file; with --expect-stderr its stderr must
match the regular expression (Python syntax, searched anywhere).
With --expect-failure the program must instead fail cleanly: exit 1 (not a signal), print a line
starting "FAIL", and match the regular expression in stdout or stderr (and --expect-stderr, when
given, in stderr).

GPOOL_TEST_DRIVER_DIR, when set, replaces --emulator-dir: scripts/gpu-check.sh runs the same
tests on the directory of another libcuda.so.1 (a real GPU's driver).

--asan-runtime is for the sanitizer build: the emulator library is instrumented but the nvcc-built
programs are not, so the ASan runtime has to be preloaded ahead of everything else.

Exit codes: 0 pass, 1 fail, 77 skipped (the environment cannot run the test; ctest reports SKIP).
"""
import argparse
import os
import re
import subprocess
import sys

SKIP = 77


def show(label, text):
    print(f"----- {label} -----")
    print(text if text.endswith("\n") or not text else text + "\n", end="")
    print(f"----- end of {label} -----")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emulator-dir", required=True)
    parser.add_argument("--library-dir", action="append", default=[])
    parser.add_argument("--expect-stdout")
    parser.add_argument("--expect-stderr")
    parser.add_argument("--expect-failure")
    parser.add_argument("--asan-runtime")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the program")
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no program to run")

    if os.environ.get("GPOOL_TEST_DRIVER_DIR"):
        # scripts/gpu-check.sh: the same judgement on another driver (a real GPU's).
        args.emulator_dir = os.environ["GPOOL_TEST_DRIVER_DIR"]
    emulator = os.path.join(args.emulator_dir, "libcuda.so.1")
    if not os.path.exists(emulator):
        print(f"FAIL: the emulator library {emulator} does not exist; build the gpool_emulator target first")
        return 1
    if not os.access(command[0], os.X_OK):
        print(f"FAIL: the example {command[0]} was not built; build the gpool_examples target first")
        return 1

    env = dict(os.environ)
    # Tests are hermetic: no kernel cache under the user's home, no state from one test to the
    # next, unless a test asks for it (--env GPOOL_EMU_KERNEL_CACHE=on ...; docs/testing.md).
    env.setdefault("GPOOL_EMU_KERNEL_CACHE", "off")
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--env wants NAME=VALUE, got {item!r}")
        env[name] = value
    paths = [args.emulator_dir] + args.library_dir
    if env.get("LD_LIBRARY_PATH"):
        paths.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = ":".join(paths)
    if args.asan_runtime:
        if not os.path.exists(args.asan_runtime):
            print(f"SKIP: the ASan runtime {args.asan_runtime} does not exist, so an uninstrumented "
                  "program cannot load the instrumented emulator")
            return SKIP
        env["LD_PRELOAD"] = args.asan_runtime + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
        # Defaults first, then the caller's options, then what must hold: cudart keeps its
        # allocations until exit, so leak reports would only be noise about cudart.
        options = ["protect_shadow_gap=0", env.get("ASAN_OPTIONS", ""), "detect_leaks=0"]
        env["ASAN_OPTIONS"] = ":".join(o for o in options if o)
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")

    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True,
                                errors="replace", timeout=args.timeout)
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else (e.stdout or "")
        err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else (e.stderr or "")
        show("stdout", out)
        show("stderr", err)
        print(f"FAIL: {command[0]} ran longer than {args.timeout:.0f} s")
        return 1

    show("stdout", result.stdout)
    show("stderr", result.stderr)
    problems = []
    if args.expect_failure:
        if result.returncode != 1:
            problems.append(f"exit status {result.returncode} (expected 1: a clean, reported failure)")
        if not any(line.startswith("FAIL") for line in result.stdout.splitlines()):
            problems.append("no line starting 'FAIL' in stdout")
        if not re.search(args.expect_failure, result.stdout + result.stderr):
            problems.append(f"neither stdout nor stderr matches {args.expect_failure!r}")
        if args.expect_stderr and not re.search(args.expect_stderr, result.stderr):
            problems.append(f"stderr does not match {args.expect_stderr!r}")
        for p in problems:
            print(f"FAIL: {p}")
        if problems:
            return 1
        print("integration test passed (the program failed as expected)")
        return 0
    if result.returncode != 0:
        problems.append(f"exit status {result.returncode} (expected 0)")
    lines = result.stdout.splitlines()
    if "PASS" not in lines:
        problems.append("no line 'PASS' in stdout")
    failed = [line for line in lines if line.startswith("FAIL")]
    if failed:
        problems.append("the program reported: " + failed[0])
    if args.expect_stdout:
        with open(args.expect_stdout, encoding="utf-8") as f:
            expected = f.read()
        if result.stdout != expected:
            got_lines = result.stdout.splitlines()
            want_lines = expected.splitlines()
            for i in range(max(len(got_lines), len(want_lines))):
                got = got_lines[i] if i < len(got_lines) else "<missing>"
                want = want_lines[i] if i < len(want_lines) else "<missing>"
                if got != want:
                    problems.append(f"stdout differs from {args.expect_stdout} at line {i + 1}: "
                                    f"got {got!r}, expected {want!r}")
                    break
            else:
                problems.append(f"stdout differs from {args.expect_stdout} (line endings or trailing text)")
    if args.expect_stderr and not re.search(args.expect_stderr, result.stderr):
        problems.append(f"stderr does not match {args.expect_stderr!r}")

    if problems:
        for p in problems:
            print(f"FAIL: {p}")
        return 1
    print("integration test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
