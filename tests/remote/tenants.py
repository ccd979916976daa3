#!/usr/bin/env python3
"""Tenant isolation and memory quotas, end to end: gpool-server started with a TOML config of
several tenants (emulator backend), clients are the probe's line-driven "tenant" mode
(tests/remote/probe.cc) through the client shim.

Usage:
  tenants.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN [--gpool BIN]
             [--library-dir DIR]... [--timeout S] --mode MODE

Modes:
  quota         tenant A (64 MiB quota) is refused over its quota on every allocation path
                (cuMemAlloc, cuMemAllocAsync, cuMemAllocPitch, cuMemCreate) with CUDA_ERROR_OUT_OF_MEMORY and
                sees its quota as the device's memory (cuMemGetInfo, cuDeviceTotalMem); tenant B
                allocates the same amounts at the same time, unaffected.
  shared        two sessions of tenant A share its one quota: what one holds, the other cannot
                get; a free in one makes room for the other; stream-ordered free returns quota.
  kill          a session of A holding 48 MiB is SIGKILLed; within 1 s another session of A sees
                the quota free again (cuMemGetInfo) and can allocate it; the status endpoint
                shows the session gone. Prints the measured time.
  reload        the config file's quota for A is raised (SIGHUP) and then lowered (`gpool reload`,
                the admin command; a broken file first, which it reports and which changes
                nothing); a live session sees each change (no session dropped), a removed
                tenant is refused.
  isolation     a device pointer of tenant A used by tenant B (memset, copy, free) gets a CUDA
                error and A's data stays intact; a non-admin token reads only its own tenant's
                status (sessions, memory held and quota) and cannot reload; max_sessions refuses
                a second session of tenant C with a clear message.
  busy          the server's max_sessions (1) is reached: a second client is refused as busy,
                says so once and retries with backoff until the first one leaves
                (GPOOL_BUSY_WAIT_MS); with GPOOL_BUSY_WAIT_MS=0 it gives up at once, saying why.
The quota mode also checks the client's one log line for its first refusal (bytes asked, held,
quota).
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import launch_server, stop_server  # noqa: E402

SKIP = 77
MiB = 1 << 20

TOKENS = {"A": "tok-alpha-7f3c", "B": "tok-bravo-91d2", "C": "tok-charlie-5be0", "ops": "tok-ops-220a"}


def config_text(quota_a="64MiB", with_b=True, max_sessions=64):
    parts = [
        f'listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\nmax_sessions = {max_sessions}\n',
        f'[[tenant]]\nname = "alpha"\ntoken = "{TOKENS["A"]}"\nmemory_quota = "{quota_a}"\n',
        f'[[tenant]]\nname = "charlie"\ntoken = "{TOKENS["C"]}"\nmax_sessions = 1\n',
        f'[[tenant]]\nname = "ops"\ntoken = "{TOKENS["ops"]}"\nadmin = true\n',
    ]
    if with_b:
        parts.insert(2, f'[[tenant]]\nname = "bravo"\ntoken = "{TOKENS["B"]}"\nmemory_quota = 268435456\n')
    return "\n".join(parts)


class Server:
    def __init__(self, args, workdir, text=None):
        self.args = args
        self.config = os.path.join(workdir, "server.toml")
        self.write_config(text or config_text())
        self.proc, self.url, self.log_path = launch_server(args.server, ["--config", self.config],
                                                           args.emulator_lib, workdir)

    def write_config(self, text):
        tmp = self.config + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, self.config)

    def reload(self, text):
        self.write_config(text)
        self.proc.send_signal(signal.SIGHUP)

    def reload_command(self, text):
        """Writes the config and runs `gpool reload` with the admin token; returns the result."""
        self.write_config(text)
        return subprocess.run([self.args.gpool, "reload", "--server", self.url, "--token", TOKENS["ops"]],
                              capture_output=True, text=True, timeout=30)

    def status(self, token):
        r = subprocess.run([self.args.gpool, "status", "--server", self.url, "--token", token, "--json"],
                           capture_output=True, text=True, timeout=20)
        return r

    def log(self):
        with open(self.log_path) as f:
            return f.read()


class Client:
    """One session: the probe in "tenant" mode, driven line by line."""

    def __init__(self, args, server, tenant, extra_env=None):
        env = dict(os.environ)
        env.update(extra_env or {})
        env["GPOOL_SERVER"] = server.url
        env["GPOOL_TOKEN"] = TOKENS[tenant]
        env["LD_LIBRARY_PATH"] = ":".join([args.shim_dir] + args.library_dir +
                                          ([env["LD_LIBRARY_PATH"]] if env.get("LD_LIBRARY_PATH") else []))
        self.name = tenant
        self.proc = subprocess.Popen([args.probe, "tenant"], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        first = self.proc.stdout.readline().strip()
        if first != "READY":
            self.proc.kill()
            out, err = self.proc.communicate()
            raise RuntimeError(f"client {tenant} did not start: {first!r} {out} {err[-2000:]}")

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if not reply:
            raise RuntimeError(f"client {self.name}: no reply to {line!r} (exit {self.proc.poll()})")
        return reply.split()

    def alloc(self, nbytes, kind="alloc"):
        r = self.cmd(f"{kind} {nbytes}")
        return int(r[2], 16) if r[1] == "ok" else r[1]

    def info(self):
        r = self.cmd("info")
        assert r[0] == "MEMINFO", r
        return int(r[1]), int(r[2])

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stderr(self):
        """The client's stderr (the shim's log); call after close()."""
        return self.proc.stderr.read()


class Check:
    def __init__(self):
        self.failures = 0

    def __call__(self, ok, what):
        print(("ok: " if ok else "FAIL: ") + what, flush=True)
        if not ok:
            self.failures += 1


def mode_quota(args, server, check):
    a = Client(args, server, "A")
    b = Client(args, server, "B")
    try:
        free, total = a.info()
        check(total == 64 * MiB and free == 64 * MiB, f"A's cuMemGetInfo shows its quota: free {free} total {total}")
        t = a.cmd("total")
        check(t[1] == str(64 * MiB), f"A's cuDeviceTotalMem is its quota: {t}")
        p1 = a.alloc(48 * MiB)
        check(isinstance(p1, int), f"A allocates 48 MiB of 64: {p1}")
        free, total = a.info()
        check(free == 16 * MiB, f"A's free memory is quota - held: {free}")
        check(a.alloc(32 * MiB) == "CUDA_ERROR_OUT_OF_MEMORY", "A's cuMemAlloc over quota -> OUT_OF_MEMORY")
        check(a.alloc(32 * MiB, "alloc_async") == "CUDA_ERROR_OUT_OF_MEMORY",
              "A's cuMemAllocAsync over quota -> OUT_OF_MEMORY")
        r = a.cmd(f"alloc_pitch {8 * 1024} {4096}")  # 32 MiB at least
        check(r[1] == "CUDA_ERROR_OUT_OF_MEMORY", f"A's cuMemAllocPitch over quota -> {r[1]}")
        # B, at the same time, is not affected by A being full.
        q1 = b.alloc(48 * MiB)
        q2 = b.alloc(32 * MiB, "alloc_async")
        r = b.cmd(f"alloc_pitch {8 * 1024} {4096}")
        check(isinstance(q1, int) and isinstance(q2, int) and r[1] == "ok",
              f"B allocates 48 + 32 + 32 MiB (cuMemAlloc, cuMemAllocAsync, cuMemAllocPitch) meanwhile: {q1} {q2} {r}")
        fb, tb = b.info()
        check(tb == 256 * MiB, f"B sees its own quota as total: {tb}")
        # Within quota, the other paths work for A and give the quota back when freed.
        p2 = a.alloc(8 * MiB, "alloc_async")
        r = a.cmd(f"alloc_pitch {1000} {2048}")
        check(isinstance(p2, int) and r[1] == "ok", f"A's cuMemAllocAsync / cuMemAllocPitch within quota: {p2} {r}")
        pitched = int(r[2], 16) if r[1] == "ok" else 0
        check(a.cmd(f"free_async {p2}") == ["FREE", "ok"], "A's cuMemFreeAsync")
        check(a.cmd(f"free {pitched}") == ["FREE", "ok"], "A frees the pitched allocation")
        # Virtual memory (cuMemCreate + cuMemMap): the same quota (A holds 48 of 64 MiB here).
        check(a.alloc(32 * MiB, "alloc_vmm") == "CUDA_ERROR_OUT_OF_MEMORY",
              "A's cuMemCreate over quota -> OUT_OF_MEMORY")
        v = a.alloc(16 * MiB, "alloc_vmm")
        check(isinstance(v, int), f"A's cuMemCreate + cuMemMap within quota: {v}")
        free, _ = a.info()
        check(free == 0, f"the mapped 16 MiB count against A's quota: free {free}")
        check(a.cmd(f"fill {v} {16 * MiB} 7") == ["FILL", "ok"] and
              a.cmd(f"check {v} {16 * MiB} 7") == ["CHECK", "ok"], "A uses its mapped memory")
        check(a.cmd(f"free_vmm {v}") == ["FREE", "ok"], "A unmaps and releases it")
        check(a.cmd(f"free {p1}") == ["FREE", "ok"], "A frees 48 MiB")
        free, _ = a.info()
        check(free == 64 * MiB, f"every byte is back in A's quota: free {free}")
        check(isinstance(a.alloc(64 * MiB), int), "A can now allocate its whole quota")
        a.close()
        log = [l for l in a.stderr().splitlines() if "CUDA_ERROR_OUT_OF_MEMORY" in l]
        want = (f"cuMemAlloc: {32 * MiB} bytes refused on device 0 with CUDA_ERROR_OUT_OF_MEMORY: this "
                f"tenant holds {48 * MiB} of the {64 * MiB} bytes it may use there")
        check(len(log) == 1 and want in log[0],
              f"A's client logs its first quota refusal once, with bytes asked, held and quota: {log}")
    finally:
        a.close()
        b.close()


def mode_shared(args, server, check):
    a1 = Client(args, server, "A")
    a2 = Client(args, server, "A")
    try:
        p = a1.alloc(40 * MiB)
        check(isinstance(p, int), f"session 1 of A holds 40 MiB: {p}")
        free, _ = a2.info()
        check(free == 24 * MiB, f"session 2 of A sees 24 MiB free: {free}")
        check(a2.alloc(40 * MiB) == "CUDA_ERROR_OUT_OF_MEMORY", "session 2 cannot take another 40 MiB")
        q = a2.alloc(20 * MiB)
        check(isinstance(q, int), "session 2 gets 20 MiB")
        check(a1.alloc(8 * MiB, "alloc_async") == "CUDA_ERROR_OUT_OF_MEMORY",
              "session 1 now cannot take 8 MiB (60 of 64 held by the two sessions)")
        check(a1.cmd(f"free {p}") == ["FREE", "ok"], "session 1 frees its 40 MiB")
        q2 = a2.alloc(40 * MiB, "alloc_async")
        check(isinstance(q2, int), f"session 2 now gets 40 MiB: {q2}")
        check(a2.cmd(f"free_async {q2}") == ["FREE", "ok"], "session 2 frees in stream order")
        free, _ = a1.info()
        check(free == 44 * MiB, f"session 1 sees the stream-ordered free returned: {free}")
    finally:
        a1.close()
        a2.close()


def mode_kill(args, server, check):
    victim = Client(args, server, "A")
    other = Client(args, server, "A")
    try:
        p = victim.alloc(48 * MiB)
        check(isinstance(p, int), "the victim session holds 48 MiB")
        free, _ = other.info()
        check(free == 16 * MiB, f"the other session of A sees 16 MiB free: {free}")
        victim.proc.send_signal(signal.SIGKILL)
        victim.proc.wait()
        killed = time.time()
        back = None
        while time.time() - killed < 5:
            free, _ = other.info()
            if free == 64 * MiB:
                back = time.time() - killed
                break
            time.sleep(0.02)
        check(back is not None and back <= 1.0,
              f"A's quota is whole again {back if back is None else round(back * 1000)} ms after the SIGKILL (limit 1000 ms)")
        print(f"MEASURED quota_return_ms {round(back * 1000) if back is not None else 'never'}")
        check(isinstance(other.alloc(64 * MiB), int), "the other session allocates the whole quota")
        r = server.status(TOKENS["ops"])
        if r.returncode == 0:
            st = json.loads(r.stdout)
            alive = [s for s in st.get("sessions", []) if s.get("tenant") == "alpha"]
            check(len(alive) == 1, f"the status shows one session of alpha left: {len(alive)}")
        else:
            check(False, "gpool status with the admin token: " + r.stderr.strip())
    finally:
        victim.close()
        other.close()


def mode_reload(args, server, check):
    a = Client(args, server, "A")
    try:
        p = a.alloc(48 * MiB)
        check(isinstance(p, int), "A holds 48 MiB of 64")
        check(a.alloc(32 * MiB) == "CUDA_ERROR_OUT_OF_MEMORY", "A is refused 32 MiB more")
        server.reload(config_text(quota_a="128MiB"))
        got, t0 = None, time.time()
        while time.time() - t0 < 5:
            free, total = a.info()
            if total == 128 * MiB:
                got = time.time() - t0
                break
            time.sleep(0.05)
        check(got is not None, f"after SIGHUP the live session sees the 128 MiB quota (after {got} s)")
        q = a.alloc(32 * MiB)
        check(isinstance(q, int), "the same session now gets 32 MiB more")
        # The second change through the admin command instead of SIGHUP: it answers only once
        # the tenants are applied, so no waiting.
        bad = server.reload_command("this is = = not toml\n")
        check(bad.returncode == 1 and "server.toml" in bad.stderr,
              f"`gpool reload` of a broken file fails and names it: {bad.stderr.strip()[:200]}")
        check(a.info()[1] == 128 * MiB, "a failed reload changes nothing (A keeps 128 MiB)")
        r = server.reload_command(config_text(quota_a="32MiB", with_b=False))
        check(r.returncode == 0 and "reloaded" in r.stdout,
              f"`gpool reload` applies the new tenants: {r.stdout.strip()} {r.stderr.strip()[:200]}")
        free, total = a.info()
        check(total == 32 * MiB and free == 0, f"lowered quota: total {total}, free {free} (80 MiB still held)")
        check(a.alloc(MiB) == "CUDA_ERROR_OUT_OF_MEMORY", "no new allocation over the lowered quota")
        check(a.cmd(f"fill {p} 4096 7") == ["FILL", "ok"], "memory held before the reload stays usable")
        try:
            Client(args, server, "B")
            check(False, "the removed tenant B must not get a session")
        except RuntimeError as e:
            check("token" in str(e), "the removed tenant B is refused: " + str(e).splitlines()[0][:160])
        check("config reload" in server.log(), "the server logged the reload")
    finally:
        a.close()


def mode_isolation(args, server, check):
    a = Client(args, server, "A")
    b = Client(args, server, "B")
    try:
        p = a.alloc(MiB)
        check(isinstance(p, int), f"A allocates 1 MiB at {p:#x}" if isinstance(p, int) else f"A alloc: {p}")
        check(a.cmd(f"fill {p} {MiB} 90") == ["FILL", "ok"], "A fills it")
        r = b.cmd(f"use {p}")
        check(r[1] != "ok", f"B using A's pointer gets a CUDA error: {r[1]}")
        r = b.cmd(f"check {p} 16 90")
        check(r[1] != "ok", f"B reading A's pointer gets a CUDA error: {r[1]}")
        r = b.cmd(f"free {p}")
        check(r[1] != "ok", f"B freeing A's pointer gets a CUDA error: {r[1]}")
        r = b.cmd(f"writeval {p} 7")
        check(r[1] != "ok", f"B's cuStreamWriteValue32 on A's pointer gets a CUDA error: {r[1]}")
        r = b.cmd(f"waitval {p} 1")
        check(r[1] != "ok", f"B's cuStreamWaitValue32 on A's pointer gets a CUDA error: {r[1]}")
        check(b.cmd("info")[0] == "MEMINFO", "B's session still works afterwards")
        check(a.cmd(f"check {p} {MiB} 90") == ["CHECK", "ok"], "A's data is intact")
        r = server.status(TOKENS["A"])
        check(r.returncode == 0, "a session tenant's token reads its own status: " + r.stderr.strip()[:160])
        if r.returncode == 0:
            doc = json.loads(r.stdout)
            tenants = [t["name"] for t in doc["tenants"]]
            peers = {s["tenant"] for s in doc["sessions"]}
            held = doc["tenants"][0]["devices"][0] if tenants else {}
            check(doc.get("tenant") == "alpha" and tenants == ["alpha"] and peers == {"alpha"},
                  f"A's status shows alpha alone: tenant {doc.get('tenant')}, tenants {tenants}, sessions of {peers}")
            check(held.get("bytes_held") == MiB and held.get("quota_bytes") == 64 * MiB,
                  f"A's status shows its memory held and quota: {held}")
        r = subprocess.run([args.gpool, "status", "--server", server.url, "--token", TOKENS["A"]],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 0 and "alpha" in r.stdout and "bravo" not in r.stdout,
              "`gpool status` with A's token prints A's own tables: " + (r.stdout + r.stderr).strip()[:200])
        r = subprocess.run([args.gpool, "reload", "--server", server.url, "--token", TOKENS["A"]],
                           capture_output=True, text=True, timeout=20)
        check(r.returncode == 1 and "admin tenant's token" in r.stderr,
              "a session tenant's token cannot reload: " + r.stderr.strip()[:200])
        r = server.status(TOKENS["ops"])
        check(r.returncode == 0 and {t["name"] for t in json.loads(r.stdout)["tenants"]} >= {"alpha", "bravo"},
              "the admin token reads every tenant's status")
        c1 = Client(args, server, "C")
        try:
            Client(args, server, "C")
            check(False, "a second session of C (max_sessions = 1) must be refused")
        except RuntimeError as e:
            check("max_sessions" in str(e), "the second session of C is refused, naming max_sessions: " +
                  [l for l in str(e).splitlines() if "max_sessions" in l][:1].__str__()[:200])
        c1.close()
        deadline = time.time() + 5
        ok = False
        while time.time() < deadline and not ok:
            try:
                Client(args, server, "C").close()
                ok = True
            except RuntimeError:
                time.sleep(0.1)
        check(ok, "after C's session ended, C can open a new one")
    finally:
        a.close()
        b.close()


def mode_busy(args, server, check):
    first = Client(args, server, "A")
    second = None
    try:
        # A second session while the server is full: refused as busy, retried until A leaves.
        env = dict(os.environ, GPOOL_SERVER=server.url, GPOOL_TOKEN=TOKENS["B"], GPOOL_BUSY_WAIT_MS="20000")
        env["LD_LIBRARY_PATH"] = ":".join([args.shim_dir] + args.library_dir)
        second = subprocess.Popen([args.probe, "tenant"], env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        time.sleep(1.0)
        check(second.poll() is None, "the second client waits while the server is busy")
        first.close()
        line = second.stdout.readline().strip()
        check(line == "READY", f"the second client starts once the first has left: {line!r}")
        second.stdin.close()
        second.wait(timeout=20)
        busy = [l for l in second.stderr.read().splitlines() if "is busy" in l]
        check(len(busy) == 1 and "retrying for up to 20000 ms" in busy[0],
              f"it said once that the server is busy and that it retries: {busy}")
        # Full again, and no waiting allowed: refused at once, saying why.
        third = Client(args, server, "A")
        try:
            t0 = time.time()
            Client(args, server, "B", {"GPOOL_BUSY_WAIT_MS": "0"})
            check(False, "with GPOOL_BUSY_WAIT_MS=0 a busy server must refuse the client")
        except RuntimeError as e:
            check("is busy" in str(e) and "giving up" in str(e) and time.time() - t0 < 10,
                  "with GPOOL_BUSY_WAIT_MS=0 the client gives up at once, saying the server is busy: " +
                  str([l for l in str(e).splitlines() if "busy" in l][:1])[:240])
        finally:
            third.close()
    finally:
        first.close()
        if second is not None and second.poll() is None:
            second.kill()
            second.wait()


MODES = {"busy": mode_busy, "quota": mode_quota, "shared": mode_shared, "kill": mode_kill, "reload": mode_reload,
         "isolation": mode_isolation}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--server", required=True)
    p.add_argument("--shim-dir", required=True)
    p.add_argument("--emulator-lib", required=True)
    p.add_argument("--probe", required=True)
    p.add_argument("--gpool", default="")
    p.add_argument("--library-dir", action="append", default=[])
    p.add_argument("--timeout", type=float, default=180)
    p.add_argument("--mode", required=True, choices=sorted(MODES))
    args = p.parse_args()
    for path in (args.server, args.emulator_lib, args.probe, args.gpool):
        if path and not os.path.exists(path):
            print(f"FAIL: {path} is missing; build it first (cmake --build <dir> --target ...)")
            return 1
    workdir = tempfile.mkdtemp(prefix="gpool-tenants-")
    server = Server(args, workdir, config_text(max_sessions=1) if args.mode == "busy" else None)
    check = Check()
    try:
        MODES[args.mode](args, server, check)
    except Exception as e:  # a broken client or server: report it as a failure with the log
        check(False, f"{type(e).__name__}: {e}")
    finally:
        stop_server(server.proc)
    if check.failures:
        print("----- server log -----\n" + server.log()[-5000:] + "-----")
        print(f"FAIL: {check.failures} check(s) failed")
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
