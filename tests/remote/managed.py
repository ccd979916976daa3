#!/usr/bin/env python3
"""Managed memory (cuMemAllocManaged) through the shim, charged to the tenant's quota: gpool-server
on the emulator backend, the probe (tests/remote/probe.cc) through the client shim.

Usage:
  managed.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --gpool BIN
             [--library-dir DIR]... [--timeout S] --mode MODE

Modes:
  quota    a tenant with a 64 MiB quota runs `probe managed_quota 64`: managed allocations over
           the quota get CUDA_ERROR_OUT_OF_MEMORY, host writes reach the device and a device
           memset reaches the host; while the probe holds 32 MiB of managed memory the status
           endpoint shows the tenant holding exactly that, and 0 bytes (no session) after it exits.
  servers  two servers (GPOOL_SERVER lists both, one device each) and `probe managed_servers`: a
           managed allocation on each device is coherent with the host, and each server's status
           shows the tenant holding exactly the bytes allocated on its device.
  segv     `probe managed_segv`: after a managed allocation installed the shim's SIGSEGV handler,
           a write to read-only memory that is not managed still kills the process with SIGSEGV
           (under ASan: ASan's SEGV report), i.e. the handler chains.
  locked   `probe managed_locked`: a kernel's writes to managed memory are visible to the host
           after a synchronisation, and a host read between a launch and the next
           synchronisation kills the process with SIGSEGV after the shim's line saying why
           (no concurrent managed access: no silently wrong results).
  graph_locked  `probe managed_graph_locked`: the same for cuGraphLaunch (a graph whose kernel
           writes managed memory): correct after each synchronisation, SIGSEGV for a host read
           while the graph may run.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import (add_common_args, admin_status, check_built, client_env, launch_server,  # noqa: E402
                        stop_server, tenant_held, wait_line, check_released)

TOKEN = "tok-managed-71d2"
ADMIN = "tok-managed-admin-0e5f"
QUOTA_MIB = 64


def held(args, url):
    """(bytes the tenant alpha holds, its sessions) per the status endpoint."""
    return tenant_held(admin_status(args.gpool, url, ADMIN), "alpha")


def write_config(workdir):
    config = os.path.join(workdir, "server.toml")
    with open(config, "w") as f:
        f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\n\n'
                f'[[tenant]]\nname = "alpha"\ntoken = "{TOKEN}"\nmemory_quota = "{QUOTA_MIB}MiB"\n\n'
                f'[[tenant]]\nname = "ops"\ntoken = "{ADMIN}"\nadmin = true\n')
    return config


def start_holding(args, url, *probe_args):
    """Starts the probe with `probe_args` against `url` and reads its output until the line
    "HOLDING ..." (it then waits on stdin); returns (process, lines read). Raises if it never
    gets there."""
    client = subprocess.Popen([args.probe, *probe_args], env=client_env(args, url, TOKEN),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines, ok = wait_line(client, "HOLDING", args.timeout)
    print("----- probe (until HOLDING) -----\n" + "".join(lines) + "-----")
    if not ok:
        client.kill()
        client.wait()
        raise RuntimeError("the probe never reported HOLDING")
    return client, lines


def finish_holding(args, client):
    """Lets a start_holding() probe go on (closes its stdin) and checks that it ends with PASS;
    returns the number of failures (0 or 1)."""
    out, err = client.communicate(input="", timeout=args.timeout)
    print("----- probe (rest) -----\n" + out + "----- stderr -----\n" + err + "-----")
    if client.returncode != 0 or "PASS" not in out.splitlines():
        print(f"FAIL: probe exit code {client.returncode}")
        return 1
    return 0


def mode_quota(args, workdir):
    config = write_config(workdir)
    proc, url, log_path = launch_server(args.server, ["--config", config], args.emulator_lib, workdir)
    failures = 0
    client = None
    try:
        client, lines = start_holding(args, url, "managed_quota", str(QUOTA_MIB))
        failures += sum(1 for l in lines if l.startswith("FAIL"))
        want = int(lines[-1].split()[1])
        total, _ = held(args, url)
        ok = total == want
        print(("ok: " if ok else "FAIL: ") + f"while the client holds {want} managed bytes the tenant holds {total}")
        failures += 0 if ok else 1
        failures += finish_holding(args, client)
        # The session is gone with the client: nothing may stay held.
        failures += check_released(lambda: admin_status(args.gpool, url, ADMIN), "alpha")
    except Exception as e:  # noqa: BLE001 - reported as a failure with the server log below
        print(f"FAIL: {e}")
        failures += 1
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        stop_server(proc)
    if failures:
        with open(log_path) as f:
            print("----- server log (tail) -----\n" + f.read()[-4000:])
    return 1 if failures else 0


def mode_servers(args, workdir):
    config = write_config(workdir)
    servers = []
    failures = 0
    client = None
    try:
        for i in range(2):
            sub = os.path.join(workdir, f"s{i}")
            os.mkdir(sub)
            servers.append(launch_server(args.server, ["--config", config], args.emulator_lib, sub))
        urls = [url for _, url, _ in servers]
        client, lines = start_holding(args, ",".join(urls), "managed_servers")
        failures += sum(1 for l in lines if l.startswith("FAIL"))
        want = [int(x) for x in lines[-1].split()[1:3]]
        for i, url in enumerate(urls):
            total, _ = held(args, url)
            ok = total == want[i]
            print(("ok: " if ok else "FAIL: ") + f"server {i}: the tenant holds {total} bytes, expected {want[i]}")
            failures += 0 if ok else 1
        failures += finish_holding(args, client)
    except Exception as e:  # noqa: BLE001 - reported as a failure with the server logs below
        print(f"FAIL: {e}")
        failures += 1
    finally:
        if client is not None and client.poll() is None:
            client.kill()
            client.wait()
        for proc, _, _ in servers:
            stop_server(proc)
    if failures:
        for _, _, log_path in servers:
            with open(log_path) as f:
                print(f"----- {log_path} (tail) -----\n" + f.read()[-3000:])
    return 1 if failures else 0


def mode_segv(args, workdir):
    proc, url, log_path = launch_server(args.server, ["--config", write_config(workdir)], args.emulator_lib, workdir)
    try:
        r = subprocess.run([args.probe, "managed_segv"], env=client_env(args, url, TOKEN),
                           capture_output=True, text=True, timeout=args.timeout)
    finally:
        stop_server(proc)
    print("----- stdout -----\n" + r.stdout + "----- stderr -----\n" + r.stderr[-3000:] + "-----")
    if "WRITING" not in r.stdout.splitlines():
        print("FAIL: the probe did not get to the write (the managed part failed)")
        return 1
    if args.asan_runtime:
        ok = r.returncode != 0 and "AddressSanitizer: SEGV" in r.stderr
    else:
        ok = r.returncode == -signal.SIGSEGV
    print(("ok: " if ok else "FAIL: ") + f"the non-managed write fault ended the probe (exit {r.returncode})")
    return 0 if ok else 1


def mode_locked(args, workdir, probe_mode="managed_locked"):
    proc, url, log_path = launch_server(args.server, ["--config", write_config(workdir)], args.emulator_lib, workdir)
    try:
        r = subprocess.run([args.probe, probe_mode], env=client_env(args, url, TOKEN),
                           capture_output=True, text=True, timeout=args.timeout)
    finally:
        stop_server(proc)
    print("----- stdout -----\n" + r.stdout + "----- stderr -----\n" + r.stderr[-3000:] + "-----")
    lines = r.stdout.splitlines()
    if "TOUCHING" not in lines or any(l.startswith("FAIL") for l in lines):
        print("FAIL: the probe did not get to the read while the kernel may run")
        return 1
    said = "the host accessed managed memory while a kernel may be using it" in r.stderr
    if args.asan_runtime:
        ok = r.returncode != 0 and said
    else:
        ok = r.returncode == -signal.SIGSEGV and said
    print(("ok: " if ok else "FAIL: ") + f"the host read during the kernel ended the probe (exit "
          f"{r.returncode}, reason on stderr: {said})")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--probe", required=True)
    p.add_argument("--gpool", required=True)
    p.add_argument("--mode", required=True, choices=["quota", "servers", "segv", "locked", "graph_locked"])
    args = p.parse_args()
    rc = check_built(args, (args.probe, "gpool-remote-probe"), (args.gpool, "the gpool tool"))
    if rc is not None:
        return rc
    with tempfile.TemporaryDirectory(prefix="gpool-managed-") as workdir:
        rc = {"quota": mode_quota, "servers": mode_servers, "segv": mode_segv,
              "locked": mode_locked,
              "graph_locked": lambda a, w: mode_locked(a, w, "managed_graph_locked")}[args.mode](args, workdir)
    print("PASS" if rc == 0 else "FAIL")
    return rc


if __name__ == "__main__":
    sys.exit(main())
