#!/usr/bin/env python3
"""Pre-authentication hardening, end to end (issue 13, part 1): gpool-server on loopback with
the emulator backend.

Usage:
  preauth.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --gpool BIN
             [--library-dir DIR]... [--timeout S] --mode flood|auth-rate

Modes:
  flood      64 idle TCP connections to the server port from 127.0.0.2 (over the per-source
             limit: evicted) and 16 from 127.0.0.5 (closed at the pre-auth deadline), 64 to the
             metrics port (from 127.0.0.3), each reopened as soon as the server closes it, plus
             a garbage sender (from 127.0.0.4). A legitimate client (127.0.0.1) meanwhile runs
             `gpool status` (a handshake and one call) and a probe session through the shim
             (attach, 20 launches); both must succeed, a /metrics scrape must answer, and the
             latencies with and without the flood are printed (FLOOD_* lines, for
             docs/performance.md). The check is loose (the flood may add at most 250 ms to the
             median): before the fix one idle connection held every handshake for 3 s.
  auth-rate  unknown tokens from one source: after auth_failures_burst of them its
             connections are closed unread; gpool_auth_failures_total and
             gpool_preauth_refused_total{reason="auth_rate"} count them; the server logs at
             most a few lines a second; the source may log in again once a token refills.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import client_env, launch_server, stop_server  # noqa: E402

SKIP = 77
TOKEN, ADMIN = "tok-user-51a9", "tok-admin-03be"


def config(workdir, extra=""):
    path = os.path.join(workdir, "server.toml")
    with open(path, "w") as f:
        f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\nmetrics_listen = "127.0.0.1:0"\n'
                + extra +
                f'[[tenant]]\nname = "user"\ntoken = "{TOKEN}"\n'
                f'[[tenant]]\nname = "ops"\ntoken = "{ADMIN}"\nadmin = true\n')
    return path


def gpool_status(args, url, token):
    t0 = time.perf_counter()
    r = subprocess.run([args.gpool, "status", "--server", url, "--token", token, "--json"],
                       capture_output=True, text=True, timeout=30)
    return r, (time.perf_counter() - t0) * 1000.0


def metrics_url(args, url):
    r, _ = gpool_status(args, url, ADMIN)
    if r.returncode != 0:
        raise RuntimeError("gpool status failed: " + r.stderr)
    m = re.search(r'"metrics":"(http://[^"]+)"', r.stdout)
    if not m:
        raise RuntimeError("the status names no metrics URL: " + r.stdout)
    return m.group(1)


def scrape(url, timeout=3.0):
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        body = resp.read().decode()
    return body, (time.perf_counter() - t0) * 1000.0


def metric(body, name):
    m = re.search("^" + re.escape(name) + r" (\d+)$", body, re.M)
    return int(m.group(1)) if m else None


class IdleFlood:
    """`count` idle connections from `source` to `target`, each reopened once the peer closes it."""

    def __init__(self, source, target, count):
        self.source, self.target, self.count = source, target, count
        self.stop = threading.Event()
        self.reopened = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def open_one(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(True)
        s.bind((self.source, 0))
        s.connect(self.target)
        s.setblocking(False)
        return s

    def run(self):
        socks = []
        while not self.stop.is_set():
            while len(socks) < self.count:
                try:
                    socks.append(self.open_one())
                except OSError:
                    time.sleep(0.001)
                    break
            alive = []
            for s in socks:
                try:
                    if s.recv(4096) == b"":
                        s.close()
                        self.reopened += 1
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    self.reopened += 1
                    continue
                alive.append(s)
            socks = alive
            time.sleep(0.002)
        for s in socks:
            s.close()


class GarbageFlood:
    def __init__(self, source, target):
        self.source, self.target = source, target
        self.stop = threading.Event()
        self.sent = 0
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        junk = b"GET / HTTP/1.1\r\n\r\n" + os.urandom(200)
        while not self.stop.is_set():
            try:
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                s.bind((self.source, 0))
                s.settimeout(1)
                s.connect(self.target)
                s.sendall(junk)
                s.close()
                self.sent += 1
            except OSError:
                pass
            time.sleep(0.005)


def host_port(url):
    host, port = url.split("://", 1)[1].rsplit(":", 1)
    return host, int(port.split("/", 1)[0])


def legit_round(args, url, runs, probe_runs):
    """Median ms of `runs` gpool status calls and of `probe_runs` probe sessions; (None, why) on failure."""
    status_ms, probe_ms = [], []
    for _ in range(runs):
        r, ms = gpool_status(args, url, ADMIN)
        if r.returncode != 0:
            return None, None, "gpool status failed: " + r.stderr.strip()
        status_ms.append(ms)
    for _ in range(probe_runs):
        t0 = time.perf_counter()
        r = subprocess.run([args.probe, "latency", "20"], env=client_env(args, url, TOKEN),
                           capture_output=True, text=True, timeout=args.timeout)
        probe_ms.append((time.perf_counter() - t0) * 1000.0)
        if r.returncode != 0 or "PASS" not in r.stdout.splitlines():
            return None, None, "probe session failed:\n" + r.stdout + r.stderr
    return statistics.median(status_ms), statistics.median(probe_ms), None


def mode_flood(args, workdir):
    proc, url, log = launch_server(args.server, ["--config", config(workdir)], args.emulator_lib, workdir)
    try:
        murl = metrics_url(args, url)
        legit_round(args, url, 3, 1)  # warm-up (page cache, emulator load)
        base_status, base_probe, why = legit_round(args, url, 15, 3)
        if why:
            return "without the flood: " + why
        # 64 idle from one source (over max_preauth_per_source: they evict each other), 16 from
        # another (under it: they last until the pre-auth deadline), 64 on the metrics port.
        floods = [IdleFlood("127.0.0.2", host_port(url), 64), IdleFlood("127.0.0.3", host_port(murl), 64),
                  GarbageFlood("127.0.0.4", host_port(url)), IdleFlood("127.0.0.5", host_port(url), 16)]
        for f in floods:
            f.thread.start()
        time.sleep(1.5)  # past the pre-auth deadline: the idle sockets are being reopened
        try:
            flood_status, flood_probe, why = legit_round(args, url, 15, 3)
            body, scrape_ms = scrape(murl)
        finally:
            for f in floods:
                f.stop.set()
            for f in floods:
                f.thread.join(timeout=5)
        if why:
            return "under the flood: " + why
        print(f"FLOOD_STATUS_MS base {base_status:.1f} flood {flood_status:.1f} "
              f"delta {flood_status - base_status:+.1f}")
        print(f"FLOOD_SESSION_MS base {base_probe:.1f} flood {flood_probe:.1f} "
              f"delta {flood_probe - base_probe:+.1f}")
        print(f"FLOOD_SCRAPE_MS {scrape_ms:.1f}")
        print(f"FLOOD_REOPENED server {floods[0].reopened}+{floods[3].reopened} metrics {floods[1].reopened} "
              f"garbage_sent {floods[2].sent}")
        evicted = 'gpool_preauth_evicted_total{reason="source"}'
        for name in (evicted, "gpool_preauth_timeouts_total", "gpool_preauth_errors_total", "gpool_preauth_pending"):
            print(f"{name} {metric(body, name)}")
        if proc.poll() is not None:
            return "the server died under the flood; see " + log
        if floods[0].reopened == 0 or not metric(body, evicted):
            return "64 idle connections from one source were never evicted (max_preauth_per_source)"
        if floods[3].reopened == 0 or not metric(body, "gpool_preauth_timeouts_total"):
            return "idle connections were not closed at the pre-auth deadline (gpool_preauth_timeouts_total)"
        if not metric(body, "gpool_preauth_errors_total"):
            return "gpool_preauth_errors_total did not count the garbage"
        if flood_status > base_status + 250 or flood_probe > base_probe + 250:
            return "the flood delayed the legitimate client by more than 250 ms"
        return None
    finally:
        stop_server(proc)


def mode_auth_rate(args, workdir):
    extra = "auth_failures_burst = 5\nauth_failures_per_minute = 120\n"
    proc, url, log = launch_server(args.server, ["--config", config(workdir, extra)], args.emulator_lib, workdir)
    try:
        murl = metrics_url(args, url)
        t0 = time.time()
        refused_token = closed = 0
        for i in range(40):
            r, _ = gpool_status(args, url, f"wrong-{i}")
            if r.returncode == 0:
                return "a wrong token was accepted"
            if "not known" in r.stderr:
                refused_token += 1
            else:
                closed += 1
        elapsed = time.time() - t0
        body, _ = scrape(murl)
        failures = metric(body, "gpool_auth_failures_total")
        rate_refused = metric(body, 'gpool_preauth_refused_total{reason="auth_rate"}')
        print(f"AUTH_RATE attempts 40 refused_token {refused_token} closed_unread {closed} "
              f"elapsed_s {elapsed:.2f} auth_failures_total {failures} refused_auth_rate {rate_refused}")
        allowed = 5 + int(elapsed * 2) + 1
        if failures is None or failures > allowed or failures != refused_token:
            return f"gpool_auth_failures_total {failures}: expected {refused_token} and at most {allowed}"
        if not rate_refused or rate_refused != closed:
            return f"gpool_preauth_refused_total{{reason=\"auth_rate\"}} {rate_refused}, expected {closed}"
        with open(log) as f:
            lines = [l for l in f if "unknown token" in l or "too many unknown tokens" in l]
        if len(lines) > 10 * (int(elapsed) + 2):
            return f"{len(lines)} log lines for 40 attempts in {elapsed:.1f} s: the log is not rate-limited"
        time.sleep(1.0)  # two tokens back
        r, _ = gpool_status(args, url, ADMIN)
        if r.returncode != 0:
            return "the source could not log in again after its tokens refilled: " + r.stderr
        return None
    finally:
        stop_server(proc)


def main():
    p = argparse.ArgumentParser()
    for name in ("--server", "--shim-dir", "--emulator-lib", "--probe", "--gpool"):
        p.add_argument(name, required=True)
    p.add_argument("--library-dir", action="append", default=[])
    p.add_argument("--asan-runtime")
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--mode", choices=["flood", "auth-rate"], required=True)
    args = p.parse_args()
    for path in (args.server, args.probe, args.gpool, args.emulator_lib, os.path.join(args.shim_dir, "libcuda.so.1")):
        if not os.path.exists(path):
            print(f"FAIL: {path} was not built")
            return 1
    with tempfile.TemporaryDirectory(prefix="gpool-preauth-") as workdir:
        try:
            why = (mode_flood if args.mode == "flood" else mode_auth_rate)(args, workdir)
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as e:
            why = str(e)
        if why:
            log = os.path.join(workdir, "server.log")
            if os.path.exists(log):
                with open(log) as f:
                    print("----- server.log (last 40 lines) -----\n" + "".join(f.readlines()[-40:]))
            print("FAIL: " + why)
            return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
