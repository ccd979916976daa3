#!/usr/bin/env python3
"""A pool of gpool-servers on a real etcd (issue 14, part 2).

Usage:
  pool_etcd.py --server BIN --shim-dir DIR --emulator-lib LIB [--library-dir DIR]... --gpool BIN
               --probe BIN [--nvml-probe BIN] [--etcd BIN] --mode join-leave|death|full|devices|nvml

Each mode starts its own etcd (Debian's etcd-server) on free loopback ports with a temporary
data directory, and gpool-servers (emulator backend) registering in pool "t" with a lease TTL
of 1 s (GPOOL_REGISTRY_TTL_S); it stops everything itself. The pool is read with
`gpool servers --json`, clients are the remote probe (tests/remote/probe.cc) run through the
shim with GPOOL_SERVER=etcd://127.0.0.1:PORT/t.

Modes:
  join-leave  two servers join: both are listed with their URL, devices, memory, version; a
              client is placed on the one with more free memory; a clean stop (SIGTERM)
              revokes that server's lease, so its record is gone when it has exited, and the
              next client goes to the other.
  death       a server killed with SIGKILL stays listed until its lease expires, then is gone
              within the TTL + 3 s (etcd raises a 1 s TTL to its 2 s minimum); a client then
              still runs on the survivor.
  full        servers A and S take one session each, B more. A (most memory) holds a session;
              its record shows it full and `gpool servers` marks it. S holds the next one but
              its record is stale (TTL 30 s): a third client does not try A (full by its
              record), gets ServerBusy from S, skips it and is placed on B. With B stopped, a
              client waits (GPOOL_BUSY_WAIT_MS=1500) and fails with a message naming the wait.
  devices     GPOOL_DEVICES=2 with two one-device servers: the probe sees 2 devices, one on
              each server, and runs a kernel on both; GPOOL_DEVICES=3 fails, naming the count.
  nvml        gpool's NVML (tests/remote/nvml_probe.c) and `gpool smi` with GPOOL_SERVER=etcd://
              over servers A (one 2 GiB device) and B (two 1 GiB devices): NVML lists all three,
              server by server in the order of their URLs (the pool's key order), with each
              server's UUIDs and memory; `gpool smi --json` lists the same devices and servers.
              B killed (its record kept by a 30 s lease): both skip it, naming it, and list A's.
              The pool is named with two etcd endpoints, the first dead (the CUDA shim takes
              that GPOOL_SERVER too). A token no server knows: NO_PERMISSION, smi exit 1. etcd
              down: NVML init
              is NVML_ERROR_DRIVER_NOT_LOADED, smi exits 1; a bad pool URL or a pool beside a
              server URL is refused.
Exit codes: 0 pass, 1 fail (also when etcd-server is not installed: the message names the
package; scripts/install-deps.sh installs it).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

TOKEN = "pool-test-token"
POOL = "t"
TTL = 1
# etcd raises a lease TTL below its minimum (1.5 x the election timeout, 2 s with the defaults).
EFFECTIVE_TTL = 2


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, predicate, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = predicate()
        if v:
            return v
        time.sleep(0.05)
    raise RuntimeError("timed out waiting for " + what)


class Etcd:
    def __init__(self, binary, workdir):
        self.port = free_port()
        peer = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(workdir, "etcd.log")
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [binary, "--name", "t", "--data-dir", os.path.join(workdir, "etcd-data"),
                 "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                 "--listen-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
                 "--initial-cluster", f"t=http://127.0.0.1:{peer}"],
                stdout=log, stderr=subprocess.STDOUT)
        wait_for("etcd to answer on " + self.url, self.healthy, timeout=20)

    def healthy(self):
        if self.proc.poll() is not None:
            raise RuntimeError("etcd exited; see " + self.log)
        try:
            with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                return b"true" in r.read()
        except OSError:
            return False

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Test:
    def __init__(self, args, workdir, etcd):
        self.args = args
        self.workdir = workdir
        self.pool = f"etcd://127.0.0.1:{etcd.port}/{POOL}"
        self.servers = []

    def start_server(self, name, memory="1g", devices=1, max_sessions=8, ttl=TTL, extra_env=None):
        d = os.path.join(self.workdir, name)
        os.makedirs(d)
        config = os.path.join(d, "server.toml")
        with open(config, "w") as f:
            f.write(f"max_sessions = {max_sessions}\nregistry = \"{self.pool}\"\n")
        env = dict(os.environ, GPOOL_EMULATOR_LIB=self.args.emulator_lib, GPOOL_LOG_LEVEL="info",
                   GPOOL_REGISTRY_TTL_S=str(ttl), GPOOL_EMU_MEMORY=memory, GPOOL_EMU_DEVICES=str(devices))
        env.update(extra_env or {})
        url_file = os.path.join(d, "url")
        log_path = os.path.join(d, "server.log")
        with open(log_path, "w") as log:
            proc = subprocess.Popen([self.args.server, "--config", config, "--listen", "tcp://127.0.0.1:0",
                                     "--token", TOKEN, "--url-file", url_file],
                                    env=env, stdout=log, stderr=subprocess.STDOUT)
        url = wait_for(name + " to start (see " + log_path + ")",
                       lambda: proc.poll() is None and os.path.exists(url_file) and open(url_file).read().strip())
        self.servers.append(proc)
        wait_for(name + " to register", lambda: url in self.urls())
        return proc, url, log_path

    def listed(self):
        r = subprocess.run([self.args.gpool, "servers", "--pool", self.pool, "--json"],
                           capture_output=True, text=True, timeout=20)
        if r.returncode != 0:
            raise RuntimeError("gpool servers failed: " + r.stderr)
        return json.loads(r.stdout)

    def urls(self):
        return [s["url"] for s in self.listed()]

    def client_env(self, extra=None):
        env = dict(os.environ, GPOOL_SERVER=self.pool, GPOOL_TOKEN=TOKEN, GPOOL_LOG_LEVEL="info")
        env["LD_LIBRARY_PATH"] = ":".join([self.args.shim_dir] + self.args.library_dir +
                                          ([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
        env.update(extra or {})
        return env

    def run_client(self, extra=None, timeout=60):
        """The probe's `devices` mode to its end (stdin closed at once)."""
        return subprocess.run([self.args.probe, "devices"], env=self.client_env(extra), input="",
                              capture_output=True, text=True, timeout=timeout)

    def hold_client(self, extra=None):
        """The probe's `devices` mode, held open (stdin kept) until release(); returns once HOLDING."""
        proc = subprocess.Popen([self.args.probe, "devices"], env=self.client_env(extra),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out = []
        while True:
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError("the holding client ended early: " + "".join(out) + proc.stderr.read())
            out.append(line)
            if line.startswith("HOLDING"):
                return proc, "".join(out)

    def stop_all(self):
        for p in self.servers:
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    p.kill()


def placed_on(result_stderr, url):
    for line in result_stderr.splitlines():
        if "placed on gpool server" in line or "skipping" in line or "busy" in line:
            print("  client:", line.strip())
    return f"placed on gpool server {url}" in result_stderr


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def check_ok(r, what):
    expect(r.returncode == 0 and "PASS" in r.stdout.splitlines(),
           f"{what}: exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")


def mode_join_leave(t):
    a, url_a, log_a = t.start_server("a", memory="2g")
    b, url_b, _ = t.start_server("b", memory="1g")
    listed = {s["url"]: s for s in t.listed()}
    expect(set(listed) == {url_a, url_b}, f"pool lists {sorted(listed)}, expected {url_a} and {url_b}")
    ra = listed[url_a]
    expect(len(ra["devices"]) == 1 and ra["devices"][0]["memory_total"] == 2 << 30,
           f"A's record: {ra}")
    expect(ra["devices"][0]["uuid"].startswith("GPU-") and ra["version"] and ra["max_sessions"] == 8,
           f"A's record: {ra}")
    # The text table lists both, A first (more free memory).
    table = subprocess.run([t.args.gpool, "servers", "--pool", t.pool], capture_output=True, text=True).stdout
    expect(url_a in table and url_b in table and table.index(url_a) < table.index(url_b), "table:\n" + table)
    r = t.run_client()
    check_ok(r, "client with both servers up")
    expect(placed_on(r.stderr, url_a), "client not placed on A (more free memory):\n" + r.stderr)
    # Leave: a clean stop revokes the lease, so the record goes at once (not after the TTL): it
    # is gone by the time the server has exited, and the server says it revoked the lease.
    t0 = time.time()
    a.send_signal(signal.SIGTERM)
    a.wait(timeout=10)
    expect(url_a not in t.urls(), "A's record is still listed after its clean stop ended")
    print(f"leave: A's record removed within {time.time() - t0:.2f} s of SIGTERM (lease TTL {EFFECTIVE_TTL} s)")
    with open(log_a) as f:
        expect("(lease revoked)" in f.read(), "A's log does not say it revoked its lease")
    r = t.run_client()
    check_ok(r, "client after A left")
    expect(placed_on(r.stderr, url_b), "client not placed on B after A left:\n" + r.stderr)


def mode_death(t):
    a, url_a, _ = t.start_server("a", memory="2g")
    b, url_b, _ = t.start_server("b", memory="1g")
    t0 = time.time()
    a.kill()  # SIGKILL: no revoke; the lease must expire
    a.wait()
    expect(url_a in t.urls(), "A's record vanished at once after SIGKILL: nothing revoked it, it must expire")
    wait_for("A's record to expire", lambda: url_a not in t.urls(), timeout=EFFECTIVE_TTL + 3)
    print(f"death: A's record expired {time.time() - t0:.2f} s after SIGKILL (TTL {TTL} s)")
    r = t.run_client()
    check_ok(r, "client after A died")
    expect(placed_on(r.stderr, url_b), "client not placed on the survivor:\n" + r.stderr)


def mode_full(t):
    # A: the most memory, one session, its record refreshed every 0.33 s. S: one session, a
    # record refreshed only every 10 s (TTL 30 s), so it still looks free once it is not.
    a, url_a, _ = t.start_server("a", memory="3g", max_sessions=1)
    s, url_s, _ = t.start_server("s", memory="2g", max_sessions=1, ttl=30)
    b, url_b, _ = t.start_server("b", memory="1g")
    holders = []
    try:
        holders.append(t.hold_client()[0])  # placed on A
        wait_for("A's record to show its session (full)",
                 lambda: any(r["url"] == url_a and r["sessions"] == 1 for r in t.listed()), timeout=5)
        table = subprocess.run([t.args.gpool, "servers", "--pool", t.pool], capture_output=True, text=True).stdout
        line_a = [l for l in table.splitlines() if l.startswith(url_a)]
        expect(line_a and line_a[0].rstrip().endswith("full"), "A not marked full:\n" + table)
        # Full by its record: A is not tried; S is.
        holders.append(t.hold_client()[0])
        expect(any(r["url"] == url_s and r["sessions"] == 0 for r in t.listed()),
               "S's record already shows its session; the ServerBusy case below needs it stale")
        # A is skipped by its record, S (stale record) answers ServerBusy, B takes the client.
        r = t.run_client()
        check_ok(r, "client while A and S are full")
        expect(placed_on(r.stderr, url_b), "client not placed on B while A and S are full:\n" + r.stderr)
        expect(f"gpool server {url_s} is busy" in r.stderr and url_a not in r.stderr,
               "the client did not skip S on ServerBusy, or tried A although its record is full:\n" + r.stderr)
        # Nothing left: B stopped. The client waits its bound and says so.
        b.send_signal(signal.SIGTERM)
        b.wait(timeout=10)
        wait_for("B to leave", lambda: url_b not in t.urls(), timeout=5)
        t0 = time.time()
        r = t.run_client({"GPOOL_BUSY_WAIT_MS": "1500"})
        took = time.time() - t0
        expect(r.returncode != 0, "a client succeeded with every server full:\n" + r.stdout)
        expect("waiting up to 1500 ms" in r.stderr and "gave up after 1500 ms" in r.stderr,
               "no wait/give-up message:\n" + r.stderr)
        expect(1.2 < took < 15, f"the client gave up after {took:.1f} s, expected about 1.5 s")
        print(f"full: gave up after {took:.2f} s with GPOOL_BUSY_WAIT_MS=1500")
    finally:
        for h in holders:
            h.stdin.close()
            h.wait(timeout=30)


def mode_devices(t):
    a, url_a, _ = t.start_server("a", memory="2g")
    b, url_b, _ = t.start_server("b", memory="1g")
    r = t.run_client({"GPOOL_DEVICES": "2"})
    check_ok(r, "GPOOL_DEVICES=2")
    expect("DEVICES 2" in r.stdout.splitlines(), "the probe did not see 2 devices:\n" + r.stdout)
    expect(placed_on(r.stderr, url_a) and placed_on(r.stderr, url_b),
           "the two devices are not on the two servers:\n" + r.stderr)
    r = t.run_client({"GPOOL_DEVICES": "3"})
    expect(r.returncode != 0 and "GPOOL_DEVICES=3 asks for more devices than the pool" in r.stderr,
           "GPOOL_DEVICES=3 with 2 devices in the pool:\n" + r.stdout + r.stderr)


def mode_nvml(t):
    expect(t.args.nvml_probe, "--nvml-probe is required for --mode nvml")
    # The emulator's UUIDs hash the device name, ordinal and PCI location: two servers with the
    # same settings would report the same UUIDs (real GPUs' are unique), so the names differ.
    a, url_a, _ = t.start_server("a", memory="2g", extra_env={"GPOOL_EMU_DEVICE_NAME": "emulated A"})
    b, url_b, _ = t.start_server("b", memory="1g", devices=2, ttl=30,
                                 extra_env={"GPOOL_EMU_DEVICE_NAME": "emulated B"})
    records = {s["url"]: s for s in t.listed()}
    # Expected: every server's devices, servers in URL order (each key is the prefix + its URL).
    want = [(url, d["uuid"], d["memory_total"]) for url in sorted(records) for d in records[url]["devices"]]
    expect(len(want) == 3 and len({u for _, u, _ in want}) == 3, f"the records describe 3 distinct devices: {records}")

    # The pool named with two endpoints, the first one dead: etcd's next endpoint answers.
    pool = t.pool.replace("etcd://", f"etcd://127.0.0.1:{free_port()},", 1)
    env = t.client_env({"GPOOL_SERVER": pool})

    def nvml(env=env):
        r = subprocess.run([t.args.nvml_probe, "list"], env=env, capture_output=True, text=True,
                           timeout=60)
        devices, mem, count = {}, {}, None
        for line in r.stdout.splitlines():
            w = line.split()
            if w and w[0] == "COUNT":
                count = int(w[1])
            elif w and w[0] == "DEVICE":
                devices[int(w[1])] = dict(kv.split("=", 1) for kv in w[2:] if "=" in kv)
            elif w and w[0] == "MEM":
                mem[int(w[1])] = int(w[2])
        check_ok(r, "nvml_probe list over the pool")
        return r, count, [(devices[i]["UUID"], mem[i]) for i in range(count)]

    r, count, got = nvml()
    expect(count == 3 and got == [(u, m) for _, u, m in want],
           f"NVML over the pool lists {got}, expected {want}\n{r.stderr[-2000:]}")
    print("  NVML:", got)

    def smi():
        r = subprocess.run([t.args.gpool, "smi", "--json"], env=env, capture_output=True, text=True,
                           timeout=30)
        expect(r.returncode == 0, f"gpool smi --json over the pool: exit {r.returncode}: {r.stderr}")
        return r, [(d["server"], d["uuid"], d["memory_total_bytes"]) for d in json.loads(r.stdout)["devices"]]

    r, got = smi()
    expect(got == want, f"gpool smi lists {got}, expected {want}")
    r = subprocess.run([t.args.gpool, "smi"], env=env, capture_output=True, text=True, timeout=30)
    expect(r.returncode == 0 and url_a in r.stdout and url_b in r.stdout,
           f"gpool smi (table) over the pool names both servers:\n{r.stdout}{r.stderr}")

    # The CUDA shim takes the same two-endpoint GPOOL_SERVER (one entry, not two).
    r = t.run_client({"GPOOL_SERVER": pool})
    check_ok(r, "the probe through the shim with a two-endpoint pool URL")

    # B dies without deregistering; its record stays (30 s lease): both skip it.
    b.kill()
    b.wait(timeout=10)
    expect(url_b in t.urls(), "B's record is still listed after SIGKILL (30 s lease)")
    only_a = [(u, m) for url, u, m in want if url == url_a]
    r, count, got = nvml()
    expect(got == only_a and f"skipping the pool's server {url_b}" in r.stderr,
           f"NVML with B dead lists {got}, expected {only_a}; stderr:\n{r.stderr[-2000:]}")
    r, got = smi()
    expect([(u, m) for _, u, m in got] == only_a and f"skipping the pool's server {url_b}" in r.stderr,
           f"gpool smi with B dead lists {got}; stderr: {r.stderr}")

    # A token no server of the pool knows: NVML_ERROR_NO_PERMISSION (4); smi exit 1.
    wrong = t.client_env({"GPOOL_SERVER": pool, "GPOOL_TOKEN": "not-the-token"})
    r = subprocess.run([t.args.nvml_probe, "list"], env=wrong, capture_output=True, text=True, timeout=60)
    expect(r.returncode == 1 and "INIT 4" in r.stdout and "refused the token" in r.stderr,
           f"NVML with a wrong token: {r.stdout}{r.stderr[-2000:]}")
    r = subprocess.run([t.args.gpool, "smi"], env=wrong, capture_output=True, text=True, timeout=30)
    expect(r.returncode == 1 and "every server of the pool refused the token" in r.stderr,
           f"gpool smi with a wrong token: {r.stderr}")

    # etcd not answering: NVML_ERROR_DRIVER_NOT_LOADED (9), as without a driver; smi exit 1.
    dead = t.client_env({"GPOOL_SERVER": f"etcd://127.0.0.1:{free_port()}/t"})
    r = subprocess.run([t.args.nvml_probe, "list"], env=dead, capture_output=True, text=True, timeout=60)
    expect(r.returncode == 1 and "INIT 9" in r.stdout and "cannot read the gpool pool" in r.stderr,
           f"NVML with etcd down: {r.stdout}{r.stderr[-2000:]}")
    r = subprocess.run([t.args.gpool, "smi"], env=dead, capture_output=True, text=True, timeout=30)
    expect(r.returncode == 1 and "cannot read the gpool pool" in r.stderr, f"gpool smi with etcd down: {r.stderr}")
    # A malformed pool name and a pool beside another URL are refused, naming the problem.
    r = subprocess.run([t.args.gpool, "smi", "--server", t.pool + "!"], env=env, capture_output=True, text=True,
                       timeout=30)
    expect(r.returncode == 1 and "GPOOL_SERVER" in r.stderr, f"gpool smi with a bad pool name: {r.stderr}")
    r = subprocess.run([t.args.gpool, "smi", "--server", t.pool + "," + url_a], env=env, capture_output=True,
                       text=True, timeout=30)
    expect(r.returncode == 1 and "must be the only entry" in r.stderr, f"gpool smi with a pool and a URL: {r.stderr}")


MODES = {"join-leave": mode_join_leave, "death": mode_death, "full": mode_full, "devices": mode_devices,
         "nvml": mode_nvml}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--shim-dir", required=True)
    p.add_argument("--emulator-lib", required=True)
    p.add_argument("--library-dir", action="append", default=[])
    p.add_argument("--gpool", required=True)
    p.add_argument("--probe", required=True)
    p.add_argument("--nvml-probe", default=None)
    p.add_argument("--etcd", default=shutil.which("etcd") or "/usr/bin/etcd")
    p.add_argument("--mode", choices=sorted(MODES), required=True)
    args = p.parse_args()
    if not os.path.exists(args.etcd):
        print(f"FAIL: etcd ({args.etcd}) is not installed: install the Debian package etcd-server "
              "(scripts/install-deps.sh does)")
        return 1
    for path, what in ((args.server, "gpool-server"), (os.path.join(args.shim_dir, "libcuda.so.1"), "the shim"),
                       (args.emulator_lib, "the emulator library"), (args.gpool, "gpool"),
                       (args.probe, "gpool-remote-probe")):
        if not os.path.exists(path):
            print(f"FAIL: {what} ({path}) was not built")
            return 1
    workdir = tempfile.mkdtemp(prefix="gpool-etcd-")
    etcd = None
    t = None
    try:
        etcd = Etcd(args.etcd, workdir)
        t = Test(args, workdir, etcd)
        MODES[args.mode](t)
        print("PASS")
        return 0
    except (AssertionError, RuntimeError, subprocess.TimeoutExpired) as e:
        print(f"FAIL: {e}")
        for root, _, files in os.walk(workdir):
            for f in files:
                if f.endswith(".log"):
                    path = os.path.join(root, f)
                    print(f"--- {path} (last 30 lines)")
                    with open(path, errors="replace") as fh:
                        print("".join(fh.readlines()[-30:]))
        return 1
    finally:
        if t is not None:
            t.stop_all()
        if etcd is not None:
            etcd.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
