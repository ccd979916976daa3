#!/usr/bin/env python3
"""Several devices and several servers through the client shim (docs/architecture.md, "Client shim").

Usage:
  shim.py --server BIN --shim-dir DIR --emulator-lib LIB --gpool BIN [--library-dir DIR]...
          [--asan-runtime LIB] [--timeout S] --mode MODE -- PROGRAM [ARGS...]

Modes (PROGRAM is gpool-remote-probe for the first two, an example for the third):
  two-devices   one server whose emulator presents 2 devices (GPOOL_EMU_DEVICES=2, inherited by
                its worker): `probe devices` must see 2 devices and compute correctly on each
                (device 1 included), and while it holds (1 << ordinal) MiB per device the
                server's status must show 1 + 2 MiB held.
  two-servers   server A with 2 devices and server B with 1, GPOOL_SERVER="A,B": the probe must
                see 3 devices (A's first), compute correctly on each, and the status of each
                server must show exactly its own devices' memory: A 1 + 2 MiB, B 4 MiB.
  two-servers-example  an unmodified cudart example with GPOOL_SERVER="A,B" must pass (cudart
                initialises every device of both servers; the example runs on device 0).
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import (add_common_args, check_built, client_env, program_args, start_server,  # noqa: E402
                        status, stop_server, wait_line)

MIB = 1 << 20


def start(args, token, workdir, name, devices):
    d = os.path.join(workdir, name)
    os.makedirs(d)
    proc, url = start_server(args, token, d, env_extra={"GPOOL_EMU_DEVICES": str(devices)})
    return proc, url, d


def held(args, url, token):
    return status(args, url, token)["bytes_held"]


def run_devices_probe(args, command, urls, token, want_devices, want_held):
    """Runs `probe devices` against urls (joined with commas); checks the device count, then the
    bytes each server holds while the probe holds, then PASS."""
    env = client_env(args, ",".join(u for u, _ in urls), token)
    proc = subprocess.Popen(command + ["devices"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines, ok = wait_line(proc, "HOLDING", args.timeout)
        print("".join(lines), end="")
        if not ok:
            proc.kill()
            out, err = proc.communicate()
            print(out + err)
            print("FAIL: the probe never reached HOLDING")
            return 1
        if f"DEVICES {want_devices}\n" not in lines:
            print(f"FAIL: the probe did not see {want_devices} devices")
            return 1
        for i in range(want_devices):
            if not any(line.startswith(f"DEVICE {i} ") and line.endswith(" ok\n") for line in lines):
                print(f"FAIL: no correct result on device {i}")
                return 1
        failed = False
        for (url, name), want in zip(urls, want_held):
            deadline = time.time() + 10
            seen = held(args, url, token)
            while seen != want and time.time() < deadline:
                time.sleep(0.1)
                seen = held(args, url, token)
            print(f"server {name} holds {seen} bytes (expected {want})")
            if seen != want:
                failed = True
        out, err = proc.communicate(input="", timeout=args.timeout)  # stdin ends: the probe frees
        print(out, end="")
        if failed:
            print("FAIL: memory landed on the wrong server\n" + err[-3000:])
            return 1
        if proc.returncode != 0 or "PASS" not in out.splitlines():
            print(f"FAIL: the probe exited {proc.returncode}\n" + err[-3000:])
            return 1
        print("remote test passed")
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_example(args, command, urls, token):
    env = client_env(args, ",".join(u for u, _ in urls), token)
    r = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
    print(r.stdout[-3000:], end="")
    if r.returncode != 0 or "PASS" not in r.stdout.splitlines():
        print(f"FAIL: the example exited {r.returncode}\n" + r.stderr[-3000:])
        return 1
    print("remote test passed")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--gpool", required=True)
    p.add_argument("--mode", required=True, choices=["two-devices", "two-servers", "two-servers-example"])
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = program_args(args)
    if (code := check_built(args, (args.gpool, "the gpool tool"), (command[0] if command else "", "the program"))) is not None:
        return code
    token = secrets.token_hex(16)
    servers = []
    with tempfile.TemporaryDirectory(prefix="gpool-shim-") as workdir:
        try:
            try:
                if args.mode == "two-devices":
                    proc, url, d = start(args, token, workdir, "a", 2)
                    servers.append((proc, d))
                    return run_devices_probe(args, command, [(url, "A")], token, 2, [3 * MIB])
                proc, url_a, d = start(args, token, workdir, "a", 2)
                servers.append((proc, d))
                proc, url_b, d = start(args, token, workdir, "b", 1)
                servers.append((proc, d))
                urls = [(url_a, "A"), (url_b, "B")]
                if args.mode == "two-servers":
                    return run_devices_probe(args, command, urls, token, 3, [3 * MIB, 4 * MIB])
                return run_example(args, command, urls, token)
            except RuntimeError as e:
                print(f"FAIL: {e}")
                return 1
        finally:
            for proc, d in servers:
                stop_server(proc)
                with open(os.path.join(d, "server.log")) as f:
                    print(f"----- server log {os.path.basename(d)} -----\n" + f.read()[-3000:] + "-----")


if __name__ == "__main__":
    sys.exit(main())
