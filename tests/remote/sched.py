#!/usr/bin/env python3
"""Remote tests for several devices and compute shares (issue 4), against a real gpool-server on
the emulator, configured through a TOML file with several tenants and the scheduler on.

Usage:
  sched.py --build-dir DIR [--library-dir DIR]... --mode device1|fault-isolation|events-metering

Modes:
  device1          the server emulates two devices (GPOOL_EMU_DEVICES=2); the probe's "device1"
                   mode selects device 1 and allocates, launches and copies back there, uses a
                   device-1 stream while device 0 is current, and device 0 on its own: every
                   result must be right.
  fault-isolation  tenant "steady" runs the probe's "latency" mode (300 launch + synchronize
                   pairs whose results are checked) while tenant "faulty" runs the fault example
                   (a kernel that faults) twice; both must pass, and the status endpoint must show
                   device time metered for "steady".
  events-metering  the scheduler meters by timing events with up to 4 launches a turn (what a GPU
                   server runs by default): tenant "steady" runs the probe's "launches" mode (many
                   launches, then one synchronize, results checked) and the fault example runs
                   under tenant "faulty"; both must pass, the server log must name the mode, and
                   the device time metered for "steady" must be above 0 and below its wall time.
Exit codes: 0 pass, 1 fail, 77 skipped (a piece is not built).

The helpers (SchedServer, client_env) are also used by bench/pool/fairness.py.
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import launch_server, stop_server  # noqa: E402

ASAN_RUNTIME = ""  # set by --asan-runtime

SKIP = 77


class SchedServer:
    """A gpool-server with the given tenants (dicts: name, weight, priority) and the scheduler on.

    Each tenant gets a random token (self.tokens[name]); an admin tenant serves the status."""

    def __init__(self, build_dir, tenants, workdir, env_extra=None, scheduler=True):
        self.build_dir = build_dir
        self.tokens = {t["name"]: secrets.token_hex(12) for t in tenants}
        self.admin_token = secrets.token_hex(12)
        config = os.path.join(workdir, "server.toml")
        with open(config, "w") as f:
            f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\n')
            f.write("scheduler = %s\n" % ("true" if scheduler else "false"))
            for t in tenants:
                f.write('\n[[tenant]]\nname = "%s"\ntoken = "%s"\ncompute_weight = %d\npriority = "%s"\n'
                        % (t["name"], self.tokens[t["name"]], t.get("weight", 1), t.get("priority", "normal")))
            f.write('\n[[tenant]]\nname = "admin"\ntoken = "%s"\nadmin = true\n' % self.admin_token)
        env = {"GPOOL_SCHED": None}  # the config decides
        env.update(env_extra or {})
        self.proc, self.url, self.log_path = launch_server(
            os.path.join(build_dir, "server", "gpool-server"), ["--config", config],
            os.path.join(build_dir, "emulator", "libcuda.so.1"), workdir, env, timeout=15)

    def status(self):
        r = subprocess.run([os.path.join(self.build_dir, "tools", "gpool"), "status", "--server", self.url,
                            "--token", self.admin_token, "--json"], capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError("gpool status failed: " + r.stderr.strip())
        return json.loads(r.stdout)

    def device_time(self, tenant, device=0):
        """Seconds of device time metered for `tenant` on `device` (status endpoint)."""
        for t in self.status().get("tenants", []):
            if t["name"] == tenant:
                for d in t.get("devices", []):
                    if d["device"] == device:
                        return d["device_time_s"]
        return 0.0

    def client_env(self, tenant, library_dirs=()):
        env = dict(os.environ)
        env["GPOOL_SERVER"] = self.url
        env["GPOOL_TOKEN"] = self.tokens[tenant]
        paths = [os.path.join(self.build_dir, "client-shim")] + list(library_dirs)
        if env.get("LD_LIBRARY_PATH"):
            paths.append(env["LD_LIBRARY_PATH"])
        env["LD_LIBRARY_PATH"] = ":".join(paths)
        if ASAN_RUNTIME:
            # ASan build: the shim is instrumented, nvcc-built examples are not (as run_remote.py).
            env["LD_PRELOAD"] = ASAN_RUNTIME + (" " + env["LD_PRELOAD"] if env.get("LD_PRELOAD") else "")
            options = ["protect_shadow_gap=0", env.get("ASAN_OPTIONS", ""), "detect_leaks=0"]
            env["ASAN_OPTIONS"] = ":".join(o for o in options if o)
        return env

    def stop(self):
        stop_server(self.proc)
        if os.environ.get("GPOOL_SCHED_KEEP_LOG"):
            subprocess.run(["cp", self.log_path, os.environ["GPOOL_SCHED_KEEP_LOG"]])


def shim_dir_ok(build_dir):
    return os.path.exists(os.path.join(build_dir, "client-shim", "libcuda.so.1"))


def judge(stdout, rc):
    lines = stdout.splitlines()
    if rc != 0:
        return "exit code %d" % rc
    if "PASS" not in lines:
        return "no PASS line"
    if any(l.startswith("FAIL") for l in lines):
        return "a FAIL line"
    return None


def run_device1(args, workdir):
    server = SchedServer(args.build_dir, [{"name": "alice"}], workdir, {"GPOOL_EMU_DEVICES": "2"})
    try:
        r = subprocess.run([args.probe, "device1"], env=server.client_env("alice", args.library_dir),
                           capture_output=True, text=True, timeout=args.timeout)
        print(r.stdout + r.stderr)
        why = judge(r.stdout, r.returncode)
        if why is None and "devices 2" not in r.stdout.splitlines():
            why = "the client does not see 2 devices"
        if why:
            print("FAIL: probe device1: " + why + "; server log " + server.log_path)
            return 1
        print("PASS: device 1 of 2 gives the right results")
        return 0
    finally:
        server.stop()


def run_fault_isolation(args, workdir):
    fault = os.path.join(args.examples_dir, "fault")
    if not os.path.exists(fault):
        print("SKIP: the fault example is not built (%s)" % fault)
        return SKIP
    server = SchedServer(args.build_dir, [{"name": "steady"}, {"name": "faulty"}], workdir)
    try:
        steady = subprocess.Popen([args.probe, "latency", "300"], env=server.client_env("steady", args.library_dir),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        faults = []
        for _ in range(2):
            faults.append(subprocess.run([fault], env=server.client_env("faulty", args.library_dir),
                                         capture_output=True, text=True, timeout=args.timeout))
        out, err = steady.communicate(timeout=args.timeout)
        failed = False
        for i, r in enumerate(faults):
            why = judge(r.stdout, r.returncode)
            if why:
                print("FAIL: fault example run %d: %s\n%s%s" % (i + 1, why, r.stdout, r.stderr))
                failed = True
        why = judge(out, steady.returncode)
        if why:
            print("FAIL: the other tenant's session: %s\n%s%s" % (why, out, err))
            failed = True
        metered = server.device_time("steady")
        if metered <= 0:
            print("FAIL: no device time metered for tenant steady (status %s)" % json.dumps(server.status()))
            failed = True
        if failed:
            print("server log: " + server.log_path)
            return 1
        print(out.strip())
        print("PASS: a faulting kernel of one tenant left the other's session correct "
              "(device time metered for steady: %.3f s)" % metered)
        return 0
    finally:
        server.stop()


def run_events_metering(args, workdir):
    fault = os.path.join(args.examples_dir, "fault")
    if not os.path.exists(fault):
        print("SKIP: the fault example is not built (%s)" % fault)
        return SKIP
    server = SchedServer(args.build_dir, [{"name": "steady"}, {"name": "faulty"}], workdir,
                         {"GPOOL_SCHED_METERING": "events", "GPOOL_SCHED_BATCH": "4"})
    try:
        t0 = time.monotonic()
        r = subprocess.run([args.probe, "launches", "2000"], env=server.client_env("steady", args.library_dir),
                           capture_output=True, text=True, timeout=args.timeout)
        wall = time.monotonic() - t0
        f = subprocess.run([fault], env=server.client_env("faulty", args.library_dir),
                           capture_output=True, text=True, timeout=args.timeout)
        failed = False
        for name, res in (("probe launches", r), ("fault example", f)):
            why = judge(res.stdout, res.returncode)
            if why:
                print("FAIL: %s: %s\n%s%s" % (name, why, res.stdout, res.stderr))
                failed = True
        metered = server.device_time("steady")
        if not 0 < metered < wall:
            print("FAIL: device time metered for steady is %.6f s, expected in (0, %.3f) s" % (metered, wall))
            failed = True
        with open(server.log_path) as log:
            if "metering by timing events, up to 4 launches a turn" not in log.read():
                print("FAIL: the server log does not say it meters by timing events in turns of 4")
                failed = True
        if failed:
            print("server log: " + server.log_path)
            return 1
        print(r.stdout.strip())
        print("PASS: metered by timing events: %.4f s of device time for steady (client wall %.3f s); "
              "the faulting tenant got its error" % (metered, wall))
        return 0
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", required=True)
    p.add_argument("--library-dir", action="append", default=[])
    p.add_argument("--mode", required=True, choices=["device1", "fault-isolation", "events-metering"])
    p.add_argument("--timeout", type=float, default=120)
    p.add_argument("--asan-runtime", default="", help="libasan.so to preload into clients (ASan builds)")
    args = p.parse_args()
    global ASAN_RUNTIME
    ASAN_RUNTIME = args.asan_runtime
    args.build_dir = os.path.abspath(args.build_dir)
    args.probe = os.path.join(args.build_dir, "tests", "remote", "gpool-remote-probe")
    args.examples_dir = os.path.join(args.build_dir, "examples")
    needed = [args.probe, os.path.join(args.build_dir, "server", "gpool-server"),
              os.path.join(args.build_dir, "emulator", "libcuda.so.1"), os.path.join(args.build_dir, "tools", "gpool")]
    missing = [n for n in needed if not os.path.exists(n)]
    if missing or not shim_dir_ok(args.build_dir):
        print("SKIP: not built: " + ", ".join(missing or ["client-shim/libcuda.so.1"]))
        return SKIP
    with tempfile.TemporaryDirectory(prefix="gpool-sched-") as workdir:
        if args.mode == "device1":
            return run_device1(args, workdir)
        if args.mode == "events-metering":
            return run_events_metering(args, workdir)
        return run_fault_isolation(args, workdir)


if __name__ == "__main__":
    sys.exit(main())
