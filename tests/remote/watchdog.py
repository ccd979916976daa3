#!/usr/bin/env python3
"""Sessions end when their client does, and stuck workers are ended (issue 13, part 5):
gpool-server on loopback with the emulator backend and the scheduler on.

Usage:
  watchdog.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --gpool BIN
              [--library-dir DIR]... [--timeout S] --mode client-killed|stopped|max-kernel
              [--long-over ucx --have-ucx ON|OFF]

Modes:
  client-killed  tenant "long" launches one kernel that runs for minutes (probe burn); once it
                 runs, the client is SIGKILLed. Its session must be gone from the status (slot,
                 bytes and device turn free) within 1 s, and tenant "short"'s job (probe latency,
                 launches + synchronizes) started right after the kill must not take more than
                 1 s longer than the same job alone. Before the fix the slot stayed held 22 s and
                 the short job took 10 s.
  stopped        tenant "long"'s worker is SIGSTOPped while its client waits for a reply (probe
                 burn: launch + synchronize of short kernels in a loop). The status must show the session "stuck";
                 after watchdog_ms the worker is ended, the client gets a CUDA error and the
                 server's reason on stderr, the status lists it under "ended", and nothing stays held.
                 Before the fix the client waited forever and the status showed nothing.
  max-kernel     tenant "capped" (max_kernel_ms = 700) launches the minutes-long kernel: the
                 session is ended about 0.7 s in, the client gets an error naming max_kernel_ms.
  --long-over ucx  the long client connects over ucx:// (the server listens on both; the short
                 job and the status use tcp://): a UCX session's data path is not its socket, but
                 its TCP bootstrap socket stays open for the session, and the supervisor watches
                 that for the hang-up. Before, a killed UCX client's session was not ended at all
                 while its kernel ran. Skipped (77) in a build without UCX.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import add_common_args, check_built, client_env, launch_server, stop_server  # noqa: E402

SKIP = 77
TOKENS = {"long": "tok-long-8c1f", "short": "tok-short-27ad", "capped": "tok-capped-5e90"}
ADMIN = "tok-admin-41bb"
LONG_ITERS = "4000000000"  # one burn launch of this many iterations a thread runs for minutes


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(workdir, watchdog_ms, ucx_port=None):
    path = os.path.join(workdir, "server.toml")
    listen = '"tcp://127.0.0.1:0"' + (f', "ucx://127.0.0.1:{ucx_port}"' if ucx_port else "")
    with open(path, "w") as f:
        f.write(f'listen = [{listen}]\nbackend = "emulator"\nscheduler = true\n'
                f'watchdog_ms = {watchdog_ms}\n')
        for name, tok in TOKENS.items():
            f.write(f'[[tenant]]\nname = "{name}"\ntoken = "{tok}"\nmemory_quota = "256MiB"\n')
            if name == "capped":
                f.write("max_kernel_ms = 700\n")
        f.write(f'[[tenant]]\nname = "ops"\ntoken = "{ADMIN}"\nadmin = true\n')
    return path


class Harness:
    def __init__(self, args, workdir, watchdog_ms=3000):
        self.args = args
        ucx_port = free_port() if args.long_over == "ucx" else None
        cfg = write_config(workdir, watchdog_ms, ucx_port)
        self.proc, self.url, self.log = launch_server(args.server, ["--config", cfg], args.emulator_lib, workdir)
        # The first listener (tcp://) is what --url-file reports; the long client may use ucx://.
        self.long_url = f"ucx://127.0.0.1:{ucx_port}" if ucx_port else self.url

    def status(self):
        r = subprocess.run([self.args.gpool, "status", "--server", self.url, "--token", ADMIN, "--json"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("gpool status failed: " + r.stderr)
        return json.loads(r.stdout)

    def sessions_of(self, tenant):
        return [s for s in self.status()["sessions"] if s["tenant"] == tenant]

    def held(self, tenant):
        for t in self.status()["tenants"]:
            if t["name"] == tenant:
                return sum(d["bytes_held"] for d in t["devices"]), t["sessions"]
        return 0, 0

    def client(self, tenant, *probe_args, url=None):
        return subprocess.Popen([self.args.probe] + list(probe_args),
                                env=client_env(self.args, url or self.url, TOKENS[tenant]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_line(self, proc, prefix, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line:
                return False
            if line.startswith(prefix):
                return True
        return False

    def stop(self):
        stop_server(self.proc)


def short_job(h):
    t0 = time.perf_counter()
    p = h.client("short", "latency", "20")
    out, err = p.communicate(timeout=h.args.timeout)
    took = time.perf_counter() - t0
    if p.returncode != 0 or "PASS" not in out:
        raise RuntimeError(f"the short job failed (exit {p.returncode}):\n{out}\n{err}")
    return took


def client_killed(h):
    alone = min(short_job(h) for _ in range(2))
    print(f"short job alone: {alone * 1000:.0f} ms")
    long = h.client("long", "burn", "600", LONG_ITERS, url=h.long_url)
    if not h.wait_line(long, "BURNING"):
        print("FAIL: the long client did not start burning")
        return 1
    time.sleep(1.0)  # the kernel runs now (the launch was sent right after BURNING)
    if len(h.sessions_of("long")) != 1:
        print("FAIL: the long session is not in the status: " + json.dumps(h.status()))
        return 1
    long.kill()
    killed = time.perf_counter()
    long.wait()
    freed = None
    while time.perf_counter() - killed < 5:
        if not h.sessions_of("long") and h.held("long") == (0, 0):
            freed = time.perf_counter() - killed
            break
        time.sleep(0.02)
    if freed is None:  # (before the short job, which would wait for the held device turn)
        print("FAIL: 5 s after the kill the long session still holds: " + json.dumps(h.status()))
        return 1
    took = short_job(h)
    print(f"slot, memory and session of the killed client released {freed * 1000:.0f} ms after the kill")
    print(f"short job right after the kill: {took * 1000:.0f} ms (alone {alone * 1000:.0f} ms)")
    ok = True
    limit = 2.0 if h.args.asan_runtime else 1.0  # the sanitizer build runs everything slower
    if freed > limit:
        print(f"FAIL: the killed client's session was released after more than {limit:.0f} s")
        ok = False
    if took > alone + limit:
        print(f"FAIL: the short job was delayed by more than {limit:.0f} s")
        ok = False
    log = open(h.log).read()
    if "client disconnected" not in log:
        print("FAIL: the server log does not say why it ended the worker")
        ok = False
    return 0 if ok else 1


def stopped(h):
    waiter = h.client("long", "burn", "600", "100000")  # short kernels, launch + synchronize
    if not h.wait_line(waiter, "BURNING"):
        print("FAIL: the waiting client did not start")
        return 1
    sess = h.sessions_of("long")
    if len(sess) != 1:
        print("FAIL: no session for the waiting client: " + json.dumps(h.status()))
        return 1
    pid = sess[0]["pid"]
    os.kill(pid, signal.SIGSTOP)
    stopped_at = time.perf_counter()
    saw_stuck = False
    while time.perf_counter() - stopped_at < 2.5:
        s = h.sessions_of("long")
        if s and s[0]["state"] == "stuck":
            table = subprocess.run([h.args.gpool, "status", "--server", h.url, "--token", ADMIN],
                                   capture_output=True, text=True, timeout=30).stdout
            saw_stuck = "stuck" in table  # the operator's table shows it too (STATE column)
            if not saw_stuck:
                print("FAIL: `gpool status` does not show the stuck session:\n" + table)
            print(f"status shows the session stuck {time.perf_counter() - stopped_at:.1f} s after SIGSTOP "
                  f"(heartbeat_age_s {s[0]['heartbeat_age_s']})")
            break
        time.sleep(0.1)
    try:
        out, err = waiter.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        waiter.kill()
        os.kill(pid, signal.SIGKILL)
        print("FAIL: the client still waits 15 s after its worker was stopped")
        return 1
    ended_after = time.perf_counter() - stopped_at
    st = h.status()
    ok = True
    if not saw_stuck:
        print("FAIL: the status never showed the stopped worker's session as stuck")
        ok = False
    if "returned CUDA_ERROR" not in out:
        print("FAIL: the client did not get a CUDA error:\n" + out)
        ok = False
    if "stopped answering" not in err:
        print("FAIL: the client's stderr does not give the server's reason:\n" + err)
        ok = False
    ended = [e for e in st.get("ended", []) if e["tenant"] == "long"]
    if not ended or "stopped answering" not in ended[0]["reason"]:
        print("FAIL: the status does not list the ended session with its reason: " + json.dumps(st))
        ok = False
    if h.sessions_of("long") or h.held("long") != (0, 0):
        print("FAIL: the stopped worker's session still holds: " + json.dumps(st))
        ok = False
    print(f"the client got its error {ended_after:.1f} s after SIGSTOP (watchdog_ms 3000); "
          f"client stderr: {[l for l in err.splitlines() if 'stopped answering' in l][:1]}")
    return 0 if ok else 1


def max_kernel(h):
    p = h.client("capped", "burn", "600", LONG_ITERS)
    if not h.wait_line(p, "BURNING"):
        print("FAIL: the capped client did not start burning")
        return 1
    t0 = time.perf_counter()
    try:
        out, err = p.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        print("FAIL: the capped tenant's kernel still runs 15 s after launch (max_kernel_ms = 700)")
        return 1
    took = time.perf_counter() - t0
    ok = True
    if p.returncode == 0:
        print("FAIL: the capped client succeeded")
        ok = False
    if "max_kernel_ms" not in err:
        print("FAIL: the client's stderr does not name max_kernel_ms:\n" + err)
        ok = False
    if took > 5:
        print(f"FAIL: the session ended {took:.1f} s after the launch")
        ok = False
    st = h.status()
    if h.sessions_of("capped") or h.held("capped") != (0, 0):
        print("FAIL: the capped session still holds: " + json.dumps(st))
        ok = False
    print(f"the capped session ended {took:.2f} s after its launch")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--probe", required=True)
    p.add_argument("--gpool", required=True)
    p.add_argument("--mode", required=True, choices=["client-killed", "stopped", "max-kernel"])
    p.add_argument("--long-over", choices=["tcp", "ucx"], default="tcp")
    p.add_argument("--have-ucx", default="OFF")
    args = p.parse_args()
    if args.long_over == "ucx" and args.have_ucx.upper() not in ("ON", "1", "TRUE", "YES"):
        print("SKIP: this build has no UCX (pkg-config found no 'ucx'), so ucx:// is not built")
        return SKIP
    rc = check_built(args, (args.probe, "gpool-remote-probe"), (args.gpool, "the gpool tool"))
    if rc is not None:
        return rc
    with tempfile.TemporaryDirectory() as workdir:
        h = Harness(args, workdir)
        try:
            rc = {"client-killed": client_killed, "stopped": stopped, "max-kernel": max_kernel}[args.mode](h)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL: {e}")
            rc = 1
        finally:
            h.stop()
        if rc != 0:
            print("----- server log -----\n" + open(h.log).read()[-6000:])
        else:
            print("PASS")
        return rc


if __name__ == "__main__":
    sys.exit(main())
