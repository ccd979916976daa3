#!/usr/bin/env python3
"""Warm pool and operations tests (issue 4): a real gpool-server with warm workers and /metrics.

Usage:
  pool.py --server BIN --shim-dir DIR --emulator-lib LIB [--library-dir DIR]... --gpool BIN
          --probe BIN --examples-dir DIR --mode warm|metrics|status-table|worker-logs|metrics-restart

Every mode starts gpool-server (run_remote.start_server) with GPOOL_WARM_WORKERS=2 and
GPOOL_METRICS_LISTEN=127.0.0.1:0 (the bound address is read from the status endpoint) and
stops it itself.

Modes:
  warm          four clients (vector_add) one after the other, each once the pool is ready
                again: all pass, the status counts 4 warm sessions and 0 cold ones, and the
                server log says each was served by a pool worker.
  metrics       the probe holds 64 MiB and copies it back and forth: /metrics must give the
                documented series (HELP/TYPE lines), the tenant's memory held on device 0
                equal to 64 MiB, calls and bytes in/out that grow; once the probe is killed the
                memory held and the session count return to 0.
  status-table  `gpool status` (tables) shows the pool line, the tenant row, its device row
                and the session row (started warm); `--json` still prints the JSON document.
  worker-logs   the probe's forged-handle mode makes the worker log warnings during the
                session: they must be in the server's log and never in the client's stderr.
  metrics-restart  the metrics process is SIGKILLed: the supervisor starts it again on the same
                address within a few seconds, /metrics answers at the old URL, and a client
                still runs meanwhile.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import add_common_args, check_built, client_env, start_server, status, stop_server  # noqa: E402

TENANT = "default"  # the tenant --token makes


def wait_for(what, predicate, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


def metrics(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read().decode()


def series(text, name, **labels):
    """The value of one sample, or None."""
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    line_re = re.compile(r"^" + re.escape(name) + (r"\{" + re.escape(want) + r"\}" if want else "") + r" (\S+)$")
    for line in text.splitlines():
        m = line_re.match(line)
        if m:
            return float(m.group(1))
    return None


def run_example(args, url, token, name="vector_add", extra=()):
    env = client_env(args, url, token)
    env["GPOOL_LOG_LEVEL"] = "warn"
    return subprocess.run([os.path.join(args.examples_dir, name), *extra], env=env, capture_output=True,
                          text=True, timeout=120)


def mode_warm(args, url, token, log_path):
    for i in range(4):
        wait_for("two ready pool workers", lambda: status(args, url, token)["pool"]["ready"] >= 2)
        r = run_example(args, url, token)
        if r.returncode != 0 or "PASS" not in r.stdout.splitlines():
            return f"client {i} failed (exit {r.returncode}):\n{r.stdout}{r.stderr}"
    pool = status(args, url, token)["pool"]
    if pool["warm_sessions"] != 4 or pool["cold_sessions"] != 0:
        return f"expected 4 warm and 0 cold sessions, the status says {pool}"
    with open(log_path) as f:
        served = len(re.findall(r"served by pool worker \d+ \(warm\)", f.read()))
    if served != 4:
        return f"the server log names {served} sessions served by pool workers, not 4"
    return None


def mode_metrics(args, url, token, log_path):
    murl = status(args, url, token)["metrics"]
    env = client_env(args, url, token)
    proc = subprocess.Popen([args.probe, "hold", "64"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        line = proc.stdout.readline()
        if not line.startswith("HOLDING"):
            return f"the probe did not hold memory: {line!r} {proc.stderr.read() if proc.poll() is not None else ''}"
        text = metrics(murl)
        for name in ("gpool_tenant_sessions", "gpool_tenant_calls_total", "gpool_tenant_bytes_in_total",
                     "gpool_tenant_bytes_out_total", "gpool_tenant_errors_total", "gpool_tenant_memory_held_bytes",
                     "gpool_tenant_memory_quota_bytes", "gpool_tenant_device_time_seconds_total", "gpool_sessions",
                     "gpool_pool_warm_ready", "gpool_pool_sessions_total"):
            if f"# HELP {name} " not in text or f"# TYPE {name} " not in text:
                return f"/metrics lacks HELP/TYPE for {name}:\n{text}"
        held = series(text, "gpool_tenant_memory_held_bytes", tenant=TENANT, device="0")
        if held != 64 << 20:
            return f"gpool_tenant_memory_held_bytes for device 0 is {held}, expected {64 << 20}:\n{text}"
        if series(text, "gpool_tenant_sessions", tenant=TENANT) != 1 or series(text, "gpool_sessions") != 1:
            return f"expected one open session:\n{text}"
        if series(text, "gpool_pool_sessions_total", start="warm") != 1:
            return f"the session should have started warm:\n{text}"
        calls1 = series(text, "gpool_tenant_calls_total", tenant=TENANT)
        # The probe copies 64 MiB each way per iteration: bytes grow by whole copies.
        text2 = wait_for("bytes to grow", lambda: (lambda t: t if series(t, "gpool_tenant_bytes_in_total", tenant=TENANT)
                                                   >= 64 << 20 and series(t, "gpool_tenant_bytes_out_total", tenant=TENANT)
                                                   >= 64 << 20 and series(t, "gpool_tenant_calls_total", tenant=TENANT)
                                                   > calls1 else None)(metrics(murl)))
        if series(text2, "gpool_tenant_errors_total", tenant=TENANT) != 0:
            return f"the probe's calls all succeed, yet errors are counted:\n{text2}"
    finally:
        proc.kill()
        proc.wait()
    wait_for("memory to be released", lambda: series(metrics(murl), "gpool_tenant_memory_held_bytes",
                                                     tenant=TENANT, device="0") == 0)
    wait_for("the session to end", lambda: series(metrics(murl), "gpool_tenant_sessions", tenant=TENANT) == 0)
    return None


def mode_status_table(args, url, token, log_path):
    env = client_env(args, url, token)
    proc = subprocess.Popen([args.probe, "hold", "16"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        if not proc.stdout.readline().startswith("HOLDING"):
            return "the probe did not hold memory"
        r = subprocess.run([args.gpool, "status", "--server", url, "--token", token + "-admin"],
                           capture_output=True, text=True, timeout=20)
        out = r.stdout
        if r.returncode != 0:
            return f"gpool status failed: {r.stderr}"
        checks = [
            (r"^pool: \d+ of 2 warm worker\(s\) waiting", "the pool line"),
            (r"^TENANT\s+SESSIONS\s+CALLS\s+BYTES IN\s+BYTES OUT\s+ERRORS\s+OOM REFUSALS$", "the tenant header"),
            (rf"^{TENANT}\s+1\s+\d+\s+", "the tenant row with one session"),
            (r"^TENANT\s+DEVICE\s+MEMORY HELD\s+QUOTA\s+DEVICE TIME$", "the device header"),
            (rf"^{TENANT}\s+0\s+16\.0 MiB\s+unlimited\s+\d+\.\d+ s$", "the device row (16 MiB held)"),
            (rf"^\d+\s+{TENANT}\s+tcp://\S+\s+\d+\s+warm\s+16\.0 MiB", "the session row"),
        ]
        for pattern, what in checks:
            if not re.search(pattern, out, re.M):
                return f"gpool status shows no {what}:\n{out}"
        j = subprocess.run([args.gpool, "status", "--server", url, "--token", token + "-admin", "--json"],
                           capture_output=True, text=True, timeout=20)
        doc = json.loads(j.stdout)
        if [t["name"] for t in doc["tenants"]] != [TENANT] or len(doc["sessions"]) != 1:
            return f"gpool status --json: unexpected document {j.stdout}"
    finally:
        proc.kill()
        proc.wait()
    return None


def mode_worker_logs(args, url, token, log_path):
    env = client_env(args, url, token)
    r = subprocess.run([args.probe, "forged"], env=env, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        return f"the forged-handle probe failed:\n{r.stdout}{r.stderr}"
    if "gpool worker" in r.stderr or "gpool server" in r.stderr:
        return f"server-side log lines reached the client's stderr:\n{r.stderr}"
    with open(log_path) as f:
        log = f.read()
    if "which is not an allocation of this session" not in log:
        return "the worker's warnings about forged pointers are missing from the server log"
    return None


def mode_metrics_restart(args, url, token, log_path):
    murl = status(args, url, token)["metrics"]
    if "gpool_sessions" not in metrics(murl):
        return "/metrics did not answer before the kill"
    with open(log_path) as f:
        m = re.search(r"metrics on \S+ \(process (\d+)\)", f.read())
    if not m:
        return "the server log does not name the metrics process"
    os.kill(int(m.group(1)), signal.SIGKILL)
    r = run_example(args, url, token)
    if r.returncode != 0 or "PASS" not in r.stdout.splitlines():
        return f"a client failed while /metrics was down (exit {r.returncode}):\n{r.stdout}{r.stderr}"

    def restarted():
        with open(log_path) as f:
            return "metrics process restarted on " + murl in f.read()
    wait_for("the metrics process to be restarted", restarted, timeout=10)
    text = wait_for("/metrics at the old URL", lambda: _try_metrics(murl), timeout=10)
    if "# TYPE gpool_sessions " not in text:
        return f"the restarted /metrics lacks the series:\n{text}"
    if murl != status(args, url, token)["metrics"]:
        return "the status endpoint names another metrics URL after the restart"
    return None


def _try_metrics(murl):
    try:
        return metrics(murl)
    except OSError:
        return None


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--gpool", required=True)
    p.add_argument("--probe", required=True)
    p.add_argument("--examples-dir", required=True)
    p.add_argument("--mode", required=True, choices=["warm", "metrics", "status-table", "worker-logs", "metrics-restart"])
    args = p.parse_args()
    if (code := check_built(args, (args.gpool, "the gpool tool"), (args.probe, "the probe"),
                            (os.path.join(args.examples_dir, "vector_add"), "the vector_add example"))) is not None:
        return code
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix="gpool-pool-") as workdir:
        try:
            server, url = start_server(args, token, workdir, env_extra={
                "GPOOL_WARM_WORKERS": "2", "GPOOL_METRICS_LISTEN": "127.0.0.1:0", "GPOOL_LOG_LEVEL": "info"})
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        log_path = os.path.join(workdir, "server.log")
        try:
            fn = {"warm": mode_warm, "metrics": mode_metrics, "status-table": mode_status_table,
                  "worker-logs": mode_worker_logs, "metrics-restart": mode_metrics_restart}[args.mode]
            error = fn(args, url, token, log_path)
        except (RuntimeError, subprocess.TimeoutExpired, OSError, ValueError, KeyError) as e:
            error = f"{type(e).__name__}: {e}"
        finally:
            stop_server(server)
            with open(log_path) as f:
                print("----- server log -----\n" + f.read()[-4000:] + "-----")
    if error:
        print("FAIL: " + error)
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
