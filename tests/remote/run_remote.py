#!/usr/bin/env python3
"""Runs a program through the client shim against a real gpool-server on the emulator.

Usage:
  run_remote.py --server BIN --shim-dir DIR --emulator-lib LIB [--library-dir DIR]...
                [--mode example|wrong-token|two-clients|garbage-frame|kill-client|reset|kill-server]
                [--gpool BIN]
                [--expect-stdout FILE] [--asan-runtime LIB] [--timeout S] -- PROGRAM [ARGS...]

The test starts gpool-server on a free loopback port (port 0, read back through --url-file) with a
random tenant token, runs the program with LD_LIBRARY_PATH = the shim directory and
GPOOL_SERVER/GPOOL_TOKEN set, judges it, and always stops the server itself.

Modes:
  example        exit 0, a line "PASS", no line starting "FAIL" (and exact stdout with
                 --expect-stdout): the same judgement as a direct run on the emulator.
  wrong-token    the program runs with a wrong token: it must fail, and its stderr must say the
                 server refused the session because of the token.
  two-clients    two copies of the program at once; both must pass.
  garbage-frame  a raw connection sends a garbage frame, a truncated frame and an oversized frame
                 header; each must be closed by the server, and the program must still pass
                 afterwards (only the bad sessions were closed).
  kill-client    PROGRAM (the probe's "hold" mode) allocates and copies; once the status endpoint
                 (`gpool status`, --gpool) shows its memory held, it is SIGKILLed mid-copy, and
                 the status must show no session and no bytes held within 10 s.
  reset          PROGRAM (examples/device_reset --pause) prints "HELD <bytes>" while it holds
                 memory and "RESET" after cudaDeviceReset, waiting for a line on stdin each time:
                 the status endpoint must show at least <bytes> held at the first and 0 bytes held
                 (the session still open) at the second; then the program must pass.
  kill-server    PROGRAM (the probe's "wait" mode) makes sync calls in a loop; the server is
                 SIGKILLed and the program must report a CUDA error within 5 s.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import json
import os
import re
import secrets
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77


def launch_server(server_bin, server_args, emulator_lib, workdir, env_extra=None, timeout=10):
    """Starts gpool-server with `server_args` and --url-file on the emulator (on the driver
    library GPOOL_TEST_BACKEND names, when set: `--backend` is appended, so it overrides a
    --config file's), its output in workdir/server.log; `env_extra` adds to the environment
    (a value of None removes the name).
    Returns (proc, url, log_path) once the server wrote its bound URL; RuntimeError (naming the
    log) when it exits or is silent for `timeout` s."""
    url_file = os.path.join(workdir, "url")
    env = dict(os.environ)
    env["GPOOL_EMULATOR_LIB"] = emulator_lib
    env.setdefault("GPOOL_LOG_LEVEL", "info")
    # Hermetic tests: the server's emulator keeps no kernel cache under the home directory
    # unless a test asks for one (docs/testing.md, "The kernel cache in tests").
    env.setdefault("GPOOL_EMU_KERNEL_CACHE", "off")
    for name, value in (env_extra or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    log_path = os.path.join(workdir, "server.log")
    backend = os.environ.get("GPOOL_TEST_BACKEND")  # scripts/gpu-check.sh: a real driver library
    backend_args = ["--backend", backend] if backend else []
    with open(log_path, "w") as log:
        proc = subprocess.Popen([server_bin] + list(server_args) + backend_args + ["--url-file", url_file],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(url_file):
            with open(url_file) as f:
                url = f.read().strip()
            if url:
                return proc, url, log_path
        time.sleep(0.05)
    stop_server(proc)
    raise RuntimeError("gpool-server did not start; see " + log_path)


def start_server(args, token, workdir, scheme="tcp", env_extra=None):
    """gpool-server on scheme://127.0.0.1:0 with one tenant (`token`) and an admin tenant
    (`token`-admin); returns (proc, url)."""
    proc, url, _ = launch_server(args.server, ["--listen", f"{scheme}://127.0.0.1:0", "--token", token,
                                               "--admin-token", token + "-admin"],
                                 args.emulator_lib, workdir, env_extra)
    return proc, url


def add_common_args(p):
    """The options every remote test takes: the server, the shim, the emulator, extra library
    directories, the ASan runtime (ASan build) and the per-program timeout."""
    p.add_argument("--server", required=True)
    p.add_argument("--shim-dir", required=True)
    p.add_argument("--emulator-lib", required=True)
    p.add_argument("--library-dir", action="append", default=[])
    p.add_argument("--asan-runtime")
    p.add_argument("--timeout", type=float, default=120)


def check_built(args, *extra):
    """None when the server, the shim, the emulator and each (path, what) of `extra` exist and
    the ASan runtime (if named) does; else the exit code, after printing why (FAIL or SKIP)."""
    for path, what in ((args.server, "gpool-server"), (os.path.join(args.shim_dir, "libcuda.so.1"), "the shim"),
                       (args.emulator_lib, "the emulator library")) + extra:
        if not path or not os.path.exists(path):
            print(f"FAIL: {what} ({path}) was not built")
            return 1
    if args.asan_runtime and not os.path.exists(args.asan_runtime):
        print(f"SKIP: the ASan runtime {args.asan_runtime} does not exist")
        return SKIP
    return None


def program_args(args):
    """The program and its arguments after `--`."""
    return args.command[1:] if args.command[:1] == ["--"] else args.command


def stop_server(proc):
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def client_env(args, url, token):
    env = dict(os.environ)
    env["GPOOL_SERVER"] = url
    env["GPOOL_TOKEN"] = token
    paths = [args.shim_dir] + args.library_dir
    if env.get("LD_LIBRARY_PATH"):
        paths.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = ":".join(paths)
    if args.asan_runtime:
        # The shim is instrumented, the nvcc-built programs are not: preload the ASan runtime.
        # cudart keeps its allocations until exit, so leak reports would only be noise.
        env["LD_PRELOAD"] = args.asan_runtime + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
        options = ["protect_shadow_gap=0", env.get("ASAN_OPTIONS", ""), "detect_leaks=0"]
        env["ASAN_OPTIONS"] = ":".join(o for o in options if o)
    return env


def judge(result, expect_stdout=None):
    lines = result.stdout.splitlines()
    if result.returncode != 0:
        return f"exit code {result.returncode}"
    if "PASS" not in lines:
        return "no PASS line"
    if any(l.startswith("FAIL") for l in lines):
        return "a FAIL line"
    if expect_stdout is not None:
        with open(expect_stdout) as f:
            if result.stdout != f.read():
                return "stdout differs from " + expect_stdout
    return None


def show(result):
    print("----- stdout -----\n" + result.stdout + "----- stderr -----\n" + result.stderr + "-----")


def garbage_frames(url):
    host, port = url[len("tcp://"):].rsplit(":", 1)
    frames = [
        b"this is not a gpool frame at all, just bytes" * 4,                   # garbage
        struct.pack("<IHH", 0x4C4F5047, 1, 0) + b"\x00" * 8,                 # truncated header
        struct.pack("<IHHIIQII", 0x4C4F5047, 1, 0, 0xFFFFFFFF, 0xFFFF, 1 << 62, 0, 0),  # oversized
    ]
    for data in frames:
        s = socket.create_connection((host, int(port)), timeout=5)
        s.sendall(data)
        if data is frames[1]:
            s.shutdown(socket.SHUT_WR)  # the server sees the end of a truncated frame
        s.settimeout(10)
        try:
            while s.recv(4096):
                pass  # an Abort may come first; then the server must close
        except socket.timeout:
            return "the server did not close a connection that sent a bad frame"
        finally:
            s.close()
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--mode", default="example",
                   choices=["example", "wrong-token", "two-clients", "garbage-frame", "kill-client",
                            "reset", "kill-server"])
    p.add_argument("--gpool", help="the gpool tool (for the status endpoint)")
    p.add_argument("--expect-stdout")
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = program_args(args)
    extra = ((command[0] if command else "", "the program"),)
    if args.mode in ("kill-client", "reset"):
        extra += ((args.gpool, "the gpool tool"),)
    if (code := check_built(args, *extra)) is not None:
        return code
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="gpool-remote-") as workdir:
        try:
            server, url = start_server(args, token, workdir)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        try:
            if args.mode == "kill-client":
                return kill_client(args, command, url, token)
            if args.mode == "kill-server":
                return kill_server(args, command, url, token, server)
            if args.mode == "reset":
                return reset_quota(args, command, url, token)
            return run_mode(args, command, url, token)
        finally:
            stop_server(server)
            with open(os.path.join(workdir, "server.log")) as f:
                log = f.read()
            print("----- server log -----\n" + log[-4000:] + "-----")


def admin_status(gpool, url, admin_token):
    """The status endpoint's JSON document (`gpool status --json`) for an admin token."""
    r = subprocess.run([gpool, "status", "--server", url, "--token", admin_token, "--json"],
                       capture_output=True, text=True, timeout=20)
    if r.returncode != 0:
        raise RuntimeError("gpool status failed: " + r.stderr.strip())
    return json.loads(r.stdout)


def status(args, url, token):
    return admin_status(args.gpool, url, token + "-admin")


def tenant_held(st, tenant):
    """(bytes `tenant` holds on all devices, its sessions) in a status document; bytes is None
    when the tenant is not listed."""
    rows = [t for t in st.get("tenants", []) if t.get("name") == tenant]
    total = sum(d.get("bytes_held", 0) for d in rows[0]["devices"]) if rows else None
    return total, [s for s in st.get("sessions", []) if s.get("tenant") == tenant]


def wait_tenant_released(get_status, tenant, timeout=10):
    """Polls get_status() until `tenant` holds 0 bytes in no session (a client's session ends a
    moment after the client); returns the (bytes, sessions) seen last."""
    total, sessions = None, None
    deadline = time.time() + timeout
    while time.time() < deadline:
        total, sessions = tenant_held(get_status(), tenant)
        if total == 0 and not sessions:
            break
        time.sleep(0.1)
    return total, sessions


def check_released(get_status, tenant, timeout=10):
    """wait_tenant_released(), then prints whether `tenant` holds nothing once its client has
    exited; returns the number of failures (0 or 1)."""
    total, sessions = wait_tenant_released(get_status, tenant, timeout)
    ok = total == 0 and not sessions
    print(("ok: " if ok else "FAIL: ") +
          f"after the client exits the tenant holds {total} bytes in {len(sessions or [])} sessions")
    return 0 if ok else 1


def quota_probe(args, workdir, token, admin, quota_mib, probe_argv, label, released_why):
    """Runs `probe_argv` as tenant "alpha" (quota_mib MiB, `token`) on a fresh emulator server with
    an admin tenant "ops" (`admin`), then checks that once the probe's session is gone the tenant
    holds nothing (`released_why` says what the probe left behind). Returns 0 pass, 1 fail; prints
    the server log's tail on failure."""
    config = os.path.join(workdir, "server.toml")
    with open(config, "w") as f:
        f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\n\n'
                f'[[tenant]]\nname = "alpha"\ntoken = "{token}"\nmemory_quota = "{quota_mib}MiB"\n\n'
                f'[[tenant]]\nname = "ops"\ntoken = "{admin}"\nadmin = true\n')
    proc, url, log_path = launch_server(args.server, ["--config", config], args.emulator_lib, workdir)
    failures = 0
    try:
        r = subprocess.run(probe_argv, env=client_env(args, url, token), capture_output=True, text=True,
                           timeout=args.timeout)
        show(r)
        why = judge(r)
        if why:
            print(f"FAIL: {label}: {why}")
            failures += 1
        print(f"checking the tenant holds nothing once the probe is gone ({released_why})")
        failures += check_released(lambda: admin_status(args.gpool, url, admin), "alpha")
    except Exception as e:  # noqa: BLE001 - reported as a failure with the server log below
        print(f"FAIL: {e}")
        failures += 1
    finally:
        stop_server(proc)
    if failures:
        with open(log_path) as f:
            print("----- server log (tail) -----\n" + f.read()[-4000:])
    return 1 if failures else 0


def wait_line(proc, prefix, timeout):
    """Reads proc's stdout until a line starts with prefix; returns the lines read."""
    lines = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if line.startswith(prefix):
            return lines, True
    return lines, False


def reset_quota(args, command, url, token):
    """--mode reset: the tenant's bytes held (status endpoint) before and after cudaDeviceReset."""
    proc = subprocess.Popen(command, env=client_env(args, url, token), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    failures, out_lines = [], []
    try:
        for prefix in ("HELD", "RESET"):
            lines, ok = wait_line(proc, prefix, args.timeout)
            out_lines += lines
            if not ok:
                failures.append(f"the program never printed {prefix}")
                break
            held = status(args, url, token)["bytes_held"]
            if prefix == "HELD":
                want = int(lines[-1].split()[1])
                good = held >= want
                print(("ok: " if good else "FAIL: ") + f"before the fault the server holds {held} bytes "
                      f"(the program allocated {want})")
            else:
                good = held == 0
                print(("ok: " if good else "FAIL: ") + f"after cudaDeviceReset the server holds {held} bytes")
            if not good:
                failures.append(f"bytes held at {prefix}: {held}")
            proc.stdin.write("\n")
            proc.stdin.flush()
        out, err = proc.communicate(timeout=args.timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        failures.append("the program timed out")
    r = subprocess.CompletedProcess(command, proc.returncode, "".join(out_lines) + out, err)
    show(r)
    if not failures and (why := judge(r)):
        failures.append(why)
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("remote test passed")
    return 0


def kill_client(args, command, url, token):
    proc = subprocess.Popen(command, env=client_env(args, url, token), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines, ok = wait_line(proc, "HOLDING", args.timeout)
        if not ok:
            proc.kill()
            out, err = proc.communicate()
            print("".join(lines) + out + err)
            print("FAIL: the client never started holding memory")
            return 1
        held = int(lines[-1].split()[1])
        deadline = time.time() + 30
        seen = 0
        while time.time() < deadline:
            st = status(args, url, token)
            seen = st["bytes_held"]
            if seen >= held:
                break
            time.sleep(0.05)
        if seen < held:
            print(f"FAIL: the status endpoint never showed the {held} bytes held (last: {seen})")
            return 1
        time.sleep(0.3)  # the client is now inside its copy loop
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        print(f"status before the kill: {held} bytes held; client SIGKILLed")
        deadline = time.time() + 10
        while time.time() < deadline:
            st = status(args, url, token)
            if st["bytes_held"] == 0 and not st["sessions"]:
                print("status after the kill: " + json.dumps(st))
                print("remote test passed")
                return 0
            time.sleep(0.1)
        print("FAIL: 10 s after the kill the server still shows: " + json.dumps(st))
        return 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def kill_server(args, command, url, token, server):
    proc = subprocess.Popen(command, env=client_env(args, url, token), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines, ok = wait_line(proc, "WAITING", args.timeout)
        if not ok:
            proc.kill()
            out, err = proc.communicate()
            print("".join(lines) + out + err)
            print("FAIL: the client never started waiting")
            return 1
        time.sleep(0.3)
        server.send_signal(signal.SIGKILL)
        killed = time.time()
        try:
            out, err = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            print(out + err)
            print("FAIL: the client still waits 30 s after the server was killed")
            return 1
        took = time.time() - killed
        print(out + "----- stderr -----\n" + err[-3000:])
        print(f"the client ended {took:.2f} s after the server was killed")
        if proc.returncode != 0 or not re.search(r"^ERROR CUDA_ERROR_\w+", out, re.M):
            print("FAIL: the client did not report a CUDA error")
            return 1
        if took > 5:
            print("FAIL: the error took more than 5 s")
            return 1
        print("remote test passed")
        return 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def run_mode(args, command, url, token):
    run = lambda tok: subprocess.run(command, env=client_env(args, url, tok), capture_output=True,
                                     text=True, timeout=args.timeout)
    if args.mode == "example":
        r = run(token)
        show(r)
        why = judge(r, args.expect_stdout)
    elif args.mode == "wrong-token":
        r = run("not-" + token)
        show(r)
        if r.returncode == 0 and "PASS" in r.stdout.splitlines():
            why = "the program passed with a wrong token"
        elif not re.search(r"refused the session \(BadCredential\).*token", r.stderr):
            why = "stderr does not say that the server refused the token"
        else:
            why = None
    elif args.mode == "two-clients":
        procs = [subprocess.Popen(command, env=client_env(args, url, token), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
        why = None
        for pr in procs:
            out, err = pr.communicate(timeout=args.timeout)
            r = subprocess.CompletedProcess(command, pr.returncode, out, err)
            show(r)
            why = why or judge(r)
    else:
        why = garbage_frames(url)
        if why is None:
            r = run(token)
            show(r)
            why = judge(r)
    if why:
        print(f"FAIL: {why}")
        return 1
    print("remote test passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
