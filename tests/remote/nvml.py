#!/usr/bin/env python3
"""gpool's NVML (libnvidia-ml.so.1, nvml-shim/) against a real gpool-server on the emulator, from C
(tests/remote/nvml_probe.c, linked against the library) and from Python through ctypes, as
monitoring scripts use NVML; and `gpool smi`, which shows the same view.

The server (2 emulated devices) has tenants alpha (64 MiB quota per device), bravo (no quota,
only physical device 1) and an admin. A second process of alpha allocates through the CUDA shim
(the probe's "tenant" mode); NVML must show it as memory used and as a running process of alpha,
and nothing of it to bravo.

Usage:
  nvml.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --nvml-probe BIN --gpool BIN
          [--library-dir DIR]... [--timeout S] --mode c|python|smi
Modes:
  c       the C program: count, names, UUIDs, PCI ids, handles by UUID/bus id, memory view
          (total = quota, used = held) before and after the other process allocates, its pid in
          the running processes, bravo's view, CUDA_VISIBLE_DEVICES (an NVML UUID or index names
          the same device for the CUDA shim), reference counting, and the error paths: no
          server (NVML_ERROR_DRIVER_NOT_LOADED), wrong token (NVML_ERROR_NO_PERMISSION), bad
          index, forged handle, unimplemented call (NOT_SUPPORTED, logged once).
  python  the same facts through ctypes: nvmlInit_v2, nvmlDeviceGetCount_v2, ..._v2 handles,
          nvmlDeviceGetMemoryInfo_v2 with its version field, processes _v3, errors.
  smi     `gpool smi` and `gpool smi --json`: devices, memory used of quota, processes.
  util    with the server's scheduler on: nvmlDeviceGetUtilizationRates reports a non-zero busy
          share while another process of the tenant launches kernels in a loop, and 0 once it
          has been idle for two sample periods.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import launch_server, stop_server  # noqa: E402

SKIP = 77
MiB = 1 << 20
TOKENS = {"alpha": "tok-nvml-alpha", "bravo": "tok-nvml-bravo", "ops": "tok-nvml-ops"}

CONFIG = f"""listen = ["tcp://127.0.0.1:0"]
backend = "emulator"

[[tenant]]
name = "alpha"
token = "{TOKENS['alpha']}"
memory_quota = "64MiB"

[[tenant]]
name = "bravo"
token = "{TOKENS['bravo']}"
devices = [1]

[[tenant]]
name = "ops"
token = "{TOKENS['ops']}"
admin = true
"""


class Check:
    def __init__(self):
        self.failures = 0

    def __call__(self, ok, what):
        print(("ok: " if ok else "FAIL: ") + what, flush=True)
        if not ok:
            self.failures += 1


class Holder:
    """A second process of a tenant holding device memory through the CUDA shim."""

    def __init__(self, args, url, tenant, extra_env=None):
        env = dict(os.environ)
        env.update(extra_env or {})
        env["GPOOL_SERVER"] = url
        env["GPOOL_TOKEN"] = TOKENS[tenant]
        env["LD_LIBRARY_PATH"] = ":".join([args.shim_dir] + args.library_dir)
        self.proc = subprocess.Popen([args.probe, "tenant"], env=env, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
        first = self.proc.stdout.readline().strip()
        if first != "READY":
            self.proc.kill()
            raise RuntimeError(f"the holder did not start: {first!r} {self.proc.communicate()}")

    def cmd(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().split()

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def nvml_env(args, url, tenant, token=None):
    env = dict(os.environ)
    env["GPOOL_SERVER"] = url
    env["GPOOL_TOKEN"] = token if token is not None else TOKENS[tenant]
    env["LD_LIBRARY_PATH"] = args.shim_dir
    env.pop("GPOOL_CONFIG", None)
    return env


def run_c(args, url, tenant, mode="list", token=None, server=None):
    env = nvml_env(args, server or url, tenant, token)
    r = subprocess.run([args.nvml_probe, mode], env=env, capture_output=True, text=True, timeout=60)
    return r


def parse_list(out):
    facts = {"devices": {}, "mem": {}, "procs": []}
    for line in out.splitlines():
        w = line.split()
        if not w:
            continue
        if w[0] == "COUNT":
            facts["count"] = int(w[1])
        elif w[0] == "CUDA":
            facts["cuda"] = int(w[1])
        elif w[0] == "DEVICE":
            facts["devices"][int(w[1])] = dict(kv.split("=", 1) for kv in w[2:] if "=" in kv)
        elif w[0] == "MEM":
            facts["mem"][int(w[1])] = tuple(int(x) for x in w[2:5])
        elif w[0] == "PROC":
            facts["procs"].append((int(w[1]), int(w[2]), int(w[3])))
        elif w[0] in ("UTIL", "TEMP", "POWER", "MODE"):
            facts.setdefault(w[0].lower(), {})[int(w[1])] = w[2:]
    return facts


def mode_c(args, url, check):
    r = run_c(args, url, "alpha")
    print(r.stdout, r.stderr[-3000:], sep="\n")
    check(r.returncode == 0 and "PASS" in r.stdout, "alpha: nvml_probe list passes its own checks")
    f = parse_list(r.stdout)
    check(f.get("count") == 2, f"alpha sees the server's 2 devices: {f.get('count')}")
    check(f.get("cuda", 0) >= 12000, f"the CUDA driver version is the backend's: {f.get('cuda')}")
    uuids = [f["devices"].get(i, {}).get("UUID", "") for i in range(2)]
    check(all(u.startswith("GPU-") and len(u) == 40 for u in uuids) and uuids[0] != uuids[1],
          f"two distinct GPU-... UUIDs: {uuids}")
    check(all(f["devices"].get(i, {}).get("NAME") for i in range(2)), "each device has a name")
    check(f["mem"].get(0) == (64 * MiB, 64 * MiB, 0), f"alpha's device 0: total = quota, nothing used: {f['mem'].get(0)}")
    check(f.get("mode", {}).get(0) == ["0"], "compute mode DEFAULT")
    check(f.get("temp", {}).get(0) == ["3"] and f.get("power", {}).get(0) == ["3"],
          "temperature and power: NVML_ERROR_NOT_SUPPORTED (the server reports none)")
    check(f.get("util", {}).get(0) == ["ERR", "3"], f"utilisation without the scheduler: NOT_SUPPORTED: {f.get('util')}")
    check(r.stderr.count("nvmlDeviceGetFanSpeed is not supported") == 1,
          "an unimplemented call is logged once by name (called twice)")

    holder = Holder(args, url, "alpha")
    try:
        got = holder.cmd(f"alloc {8 * MiB}")
        check(got[:2] == ["ALLOC", "ok"], f"another alpha process allocates 8 MiB through the CUDA shim: {got}")
        r = run_c(args, url, "alpha")
        f = parse_list(r.stdout)
        check(r.returncode == 0, "alpha: nvml_probe list passes with memory held")
        check(f["mem"].get(0) == (64 * MiB, 56 * MiB, 8 * MiB), f"device 0 shows 8 MiB used of 64: {f['mem'].get(0)}")
        check(f["mem"].get(1) == (64 * MiB, 64 * MiB, 0), f"device 1 shows nothing used: {f['mem'].get(1)}")
        check((0, holder.proc.pid, 8 * MiB) in f["procs"],
              f"the holder (pid {holder.proc.pid}) is a running process on device 0 with 8 MiB: {f['procs']}")
        info = holder.cmd("info")
        check(info[0] == "MEMINFO" and int(info[1]) == 56 * MiB and int(info[2]) == 64 * MiB,
              f"the CUDA shim's cuMemGetInfo agrees (free 56 MiB of 64): {info}")
        b = run_c(args, url, "bravo")
        fb = parse_list(b.stdout)
        print(b.stdout)
        check(b.returncode == 0 and fb.get("count") == 1, f"bravo sees its one device: {fb.get('count')}")
        check(fb["devices"].get(0, {}).get("UUID") == uuids[1], "bravo's device 0 is physical device 1 (same UUID)")
        total_b = fb["mem"].get(0, (0, 0, 0))[0]
        check(total_b > 64 * MiB and fb["mem"].get(0, (0, 0, 1))[2] == 0,
              f"bravo: no quota (the device's memory), none of alpha's bytes: {fb['mem'].get(0)}")
        check(fb["procs"] == [], f"bravo sees none of alpha's processes: {fb['procs']}")
    finally:
        holder.close()

    # CUDA_VISIBLE_DEVICES names the same device for the CUDA shim as NVML's list does: a program
    # that sees only NVML's device 1 (by its UUID) allocates there, and NVML shows it on device 1.
    for spec in (uuids[1], "1"):
        holder = Holder(args, url, "alpha", {"CUDA_VISIBLE_DEVICES": spec})
        try:
            got = holder.cmd(f"alloc {2 * MiB}")
            f = parse_list(run_c(args, url, "alpha").stdout)
            check(got[:2] == ["ALLOC", "ok"] and f["mem"].get(1, (0, 0, 0))[2] == 2 * MiB and f["mem"].get(0, (0, 0, 1))[2] == 0,
                  f"CUDA_VISIBLE_DEVICES={spec}: the CUDA shim's device 0 is NVML's device 1 ({f['mem']})")
        finally:
            holder.close()
        # The server returns a session's bytes when it reaps the worker (within ~200 ms).
        deadline = time.time() + 5
        while time.time() < deadline and parse_list(run_c(args, url, "alpha").stdout)["mem"].get(1, (0, 0, 1))[2] != 0:
            time.sleep(0.1)

    r = run_c(args, url, "alpha", mode="refcount")
    print(r.stdout)
    check(r.returncode == 0 and "PASS" in r.stdout, "init/shutdown are reference counted")
    r = run_c(args, url, "alpha", mode="init", token="not-a-token")
    check(r.stdout.startswith("INIT 4 "), f"a wrong token: NVML_ERROR_NO_PERMISSION: {r.stdout.strip()}")
    r = run_c(args, url, "alpha", mode="init", server="tcp://127.0.0.1:1")
    check(r.stdout.startswith("INIT 9 "), f"no server: NVML_ERROR_DRIVER_NOT_LOADED: {r.stdout.strip()}")


def mode_python(args, url, check):
    # A monitoring script: ctypes on libnvidia-ml.so.1, found on LD_LIBRARY_PATH as usual. The
    # library reads GPOOL_SERVER / GPOOL_TOKEN at nvmlInit, so they are set before.
    os.environ["GPOOL_SERVER"] = url
    os.environ["GPOOL_TOKEN"] = TOKENS["alpha"]
    lib = ctypes.CDLL(os.path.join(args.shim_dir, "libnvidia-ml.so.1"))
    lib.nvmlErrorString.restype = ctypes.c_char_p

    class Memory2(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint), ("total", ctypes.c_ulonglong), ("reserved", ctypes.c_ulonglong),
                    ("free", ctypes.c_ulonglong), ("used", ctypes.c_ulonglong)]

    class Process(ctypes.Structure):
        _fields_ = [("pid", ctypes.c_uint), ("usedGpuMemory", ctypes.c_ulonglong),
                    ("gpuInstanceId", ctypes.c_uint), ("computeInstanceId", ctypes.c_uint)]

    class Pci(ctypes.Structure):
        _fields_ = [("busIdLegacy", ctypes.c_char * 16), ("domain", ctypes.c_uint), ("bus", ctypes.c_uint),
                    ("device", ctypes.c_uint), ("pciDeviceId", ctypes.c_uint), ("pciSubSystemId", ctypes.c_uint),
                    ("busId", ctypes.c_char * 32)]

    check(ctypes.sizeof(Memory2) == 40 and ctypes.sizeof(Process) == 24, "struct sizes as NVML's")
    # A framework loads both libraries into one process: the CUDA shim's session and NVML's
    # status-only calls live side by side.
    cuda = ctypes.CDLL(os.path.join(args.shim_dir, "libcuda.so.1"))
    cuda_count = ctypes.c_int(0)
    check(cuda.cuInit(0) == 0 and cuda.cuDeviceGetCount(ctypes.byref(cuda_count)) == 0 and cuda_count.value == 2,
          f"the CUDA shim in the same process: cuInit, {cuda_count.value} devices")
    count = ctypes.c_uint(7)
    check(lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 1, "count before init: NVML_ERROR_UNINITIALIZED")
    check(lib.nvmlInit_v2() == 0, "nvmlInit_v2")
    check(lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 0 and count.value == 2, f"2 devices: {count.value}")
    version = ctypes.create_string_buffer(80)
    check(lib.nvmlSystemGetDriverVersion(version, 80) == 0 and version.value.startswith(b"gpool-"),
          f"driver version names gpool: {version.value}")
    cuda = ctypes.c_int(0)
    check(lib.nvmlSystemGetCudaDriverVersion_v2(ctypes.byref(cuda)) == 0 and cuda.value >= 12000,
          f"CUDA driver version {cuda.value}")
    handle = ctypes.c_void_p()
    check(lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle)) == 0, "handle of device 0")
    name = ctypes.create_string_buffer(96)
    uuid = ctypes.create_string_buffer(96)
    check(lib.nvmlDeviceGetName(handle, name, 96) == 0 and name.value, f"name {name.value}")
    check(lib.nvmlDeviceGetUUID(handle, uuid, 96) == 0 and uuid.value.startswith(b"GPU-"), f"uuid {uuid.value}")
    again = ctypes.c_void_p()
    check(lib.nvmlDeviceGetHandleByUUID(uuid, ctypes.byref(again)) == 0 and again.value == handle.value,
          "the handle by UUID is the same")
    pci = Pci()
    check(lib.nvmlDeviceGetPciInfo_v3(handle, ctypes.byref(pci)) == 0 and pci.busId.startswith(b"0000"),
          f"pci bus id {pci.busId}")
    mem = Memory2()
    mem.version = ctypes.sizeof(Memory2) | (2 << 24)
    check(lib.nvmlDeviceGetMemoryInfo_v2(handle, ctypes.byref(mem)) == 0, "nvmlDeviceGetMemoryInfo_v2")
    check((mem.total, mem.used, mem.free) == (64 * MiB, 0, 64 * MiB), f"quota view before: {mem.total} {mem.used}")

    holder = Holder(args, url, "alpha")
    try:
        got = holder.cmd(f"alloc {12 * MiB}")
        check(got[:2] == ["ALLOC", "ok"], f"another process of alpha allocates 12 MiB: {got}")
        check(lib.nvmlDeviceGetMemoryInfo_v2(handle, ctypes.byref(mem)) == 0 and
              (mem.total, mem.used, mem.free) == (64 * MiB, 12 * MiB, 52 * MiB),
              f"the 12 MiB show as used: {mem.total} {mem.used} {mem.free}")
        n = ctypes.c_uint(0)
        rc = lib.nvmlDeviceGetComputeRunningProcesses_v3(handle, ctypes.byref(n), None)
        check(rc == 7 and n.value == 2, f"process count query: INSUFFICIENT_SIZE with 2: {rc} {n.value}")
        procs = (Process * 4)()
        n.value = 4
        rc = lib.nvmlDeviceGetComputeRunningProcesses_v3(handle, ctypes.byref(n), procs)
        seen = sorted((procs[i].pid, procs[i].usedGpuMemory) for i in range(n.value))
        # The holder with its 12 MiB, and this process (its CUDA session holds nothing, so it is
        # listed on device 0, where a session starts).
        check(rc == 0 and seen == sorted([(holder.proc.pid, 12 * MiB), (os.getpid(), 0)]),
              f"the running processes are the holder and this process: {rc} {seen}")
        n.value = 1
        check(lib.nvmlDeviceGetComputeRunningProcesses_v3(handle, ctypes.byref(n), procs) == 7 and n.value == 2,
              "room for 1 of 2: INSUFFICIENT_SIZE, count 2")
        pname = ctypes.create_string_buffer(256)
        check(lib.nvmlSystemGetProcessName(holder.proc.pid, pname, 256) == 0 and
              pname.value.decode() == os.path.realpath(args.probe),
              f"nvmlSystemGetProcessName names the holder's program: {pname.value}")
        check(lib.nvmlSystemGetProcessName(1, pname, 256) == 6, "a pid without a session: NOT_FOUND")
        holder.cmd(f"free {got[2]}")
        check(lib.nvmlDeviceGetMemoryInfo_v2(handle, ctypes.byref(mem)) == 0 and mem.used == 0,
              f"freed: nothing used again ({mem.used})")
    finally:
        holder.close()

    # Many threads asking in tight loops (a monitor of many devices): every live query is a
    # status-only connection, more than max_preauth_per_source (32) of them arrive within one
    # round of the server's accept loop, and none may be refused (a handshake that was answered
    # gives its place back at once; before, 40 % of these were refused).
    codes = []

    def ask():
        m = Memory2()
        m.version = ctypes.sizeof(Memory2) | (2 << 24)
        for _ in range(60):
            codes.append(lib.nvmlDeviceGetMemoryInfo_v2(handle, ctypes.byref(m)))

    threads = [threading.Thread(target=ask) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    check(len(codes) == 960 and set(codes) == {0},
          f"960 memory queries from 16 threads all succeed: {len(codes)}, {sum(1 for c in codes if c)} failed")

    bad = ctypes.c_void_p()
    check(lib.nvmlDeviceGetHandleByIndex_v2(2, ctypes.byref(bad)) == 2, "index 2: NVML_ERROR_INVALID_ARGUMENT")
    check(lib.nvmlDeviceGetName(ctypes.c_void_p(12345), name, 96) == 2, "forged handle: INVALID_ARGUMENT")
    check(lib.nvmlErrorString(3) == b"Not Supported", "nvmlErrorString(3)")
    fan = ctypes.c_uint()
    check(lib.nvmlDeviceGetFanSpeed(handle, ctypes.byref(fan)) == 3, "unimplemented: NOT_SUPPORTED")
    check(lib.nvmlShutdown() == 0 and lib.nvmlDeviceGetCount_v2(ctypes.byref(count)) == 1,
          "after shutdown: UNINITIALIZED")
    # Wrong token, in a fresh process (the library keeps its state per process).
    code = ("import ctypes,os,sys; l=ctypes.CDLL(sys.argv[1]); print(l.nvmlInit_v2())")
    env = nvml_env(args, url, "alpha", token="wrong")
    r = subprocess.run([sys.executable, "-c", code, os.path.join(args.shim_dir, "libnvidia-ml.so.1")],
                       env=env, capture_output=True, text=True, timeout=60)
    check(r.stdout.strip() == "4", f"wrong token from Python: NVML_ERROR_NO_PERMISSION ({r.stdout.strip()})")


def mode_smi(args, url, check):
    holder = Holder(args, url, "alpha")
    try:
        got = holder.cmd(f"alloc {4 * MiB}")
        check(got[:2] == ["ALLOC", "ok"], f"alpha holds 4 MiB: {got}")
        r = subprocess.run([args.gpool, "smi", "--server", url, "--token", TOKENS["alpha"]],
                           capture_output=True, text=True, timeout=30)
        print(r.stdout, r.stderr)
        check(r.returncode == 0 and "tenant alpha" in r.stdout, "gpool smi shows alpha's view")
        check("4.0 MiB" in r.stdout and "64.0 MiB (quota)" in r.stdout, "memory used of the quota")
        check(str(holder.proc.pid) in r.stdout, "the holder's pid under PROCESSES")
        r = subprocess.run([args.gpool, "smi", "--server", url, "--token", TOKENS["alpha"], "--json"],
                           capture_output=True, text=True, timeout=30)
        doc = json.loads(r.stdout)
        devs = doc["devices"]
        check(len(devs) == 2 and devs[0]["memory_used_bytes"] == 4 * MiB and devs[0]["memory_total_bytes"] == 64 * MiB,
              f"--json: 2 devices, 4 MiB used of 64: {devs}")
        check([p["pid"] for p in doc["processes"]] == [holder.proc.pid], f"--json processes: {doc['processes']}")
        r = subprocess.run([args.gpool, "smi", "--server", url, "--token", TOKENS["bravo"], "--json"],
                           capture_output=True, text=True, timeout=30)
        doc = json.loads(r.stdout)
        check(len(doc["devices"]) == 1 and doc["processes"] == [], f"bravo: one device, no processes: {doc}")
        r = subprocess.run([args.gpool, "smi", "--server", url, "--token", "wrong"],
                           capture_output=True, text=True, timeout=30)
        check(r.returncode == 1 and "refused" in r.stderr, f"wrong token: exit 1, says refused: {r.stderr.strip()}")
    finally:
        holder.close()


def load_nvml(args, url, tenant):
    os.environ["GPOOL_SERVER"] = url
    os.environ["GPOOL_TOKEN"] = TOKENS[tenant]
    lib = ctypes.CDLL(os.path.join(args.shim_dir, "libnvidia-ml.so.1"))
    return lib


class Utilization(ctypes.Structure):
    _fields_ = [("gpu", ctypes.c_uint), ("memory", ctypes.c_uint)]


def mode_util(args, url, check):
    lib = load_nvml(args, url, "alpha")
    check(lib.nvmlInit_v2() == 0, "nvmlInit_v2")
    handle = ctypes.c_void_p()
    check(lib.nvmlDeviceGetHandleByIndex_v2(0, ctypes.byref(handle)) == 0, "handle of device 0")
    env = nvml_env(args, url, "alpha")
    env["LD_LIBRARY_PATH"] = ":".join([args.shim_dir] + args.library_dir)
    burner = subprocess.Popen([args.probe, "burn", "4", "20000"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        busy = []
        for _ in range(6):
            time.sleep(0.5)
            u = Utilization()
            rc = lib.nvmlDeviceGetUtilizationRates(handle, ctypes.byref(u))
            busy.append((rc, u.gpu))
        print("while burning:", busy)
        check(all(rc in (0,) for rc, _ in busy[2:]), f"utilisation is reported with the scheduler on: {busy}")
        check(any(rc == 0 and g > 0 for rc, g in busy), f"a non-zero busy share while kernels run: {busy}")
    finally:
        out, err = burner.communicate(timeout=60)
    check(burner.returncode == 0 and "LAUNCHES" in out, f"the burner ran: {out.strip()} {err[-500:]}")
    time.sleep(2.5)
    u = Utilization()
    rc = lib.nvmlDeviceGetUtilizationRates(handle, ctypes.byref(u))
    check(rc == 0 and u.gpu == 0, f"idle for two periods: 0 % ({rc}, {u.gpu})")
    other = ctypes.c_void_p()
    check(lib.nvmlDeviceGetHandleByIndex_v2(1, ctypes.byref(other)) == 0 and
          lib.nvmlDeviceGetUtilizationRates(other, ctypes.byref(u)) == 0 and u.gpu == 0,
          f"device 1, never used, is idle: {u.gpu}")
    lib.nvmlShutdown()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--shim-dir", required=True)
    ap.add_argument("--emulator-lib", required=True)
    ap.add_argument("--probe", required=True)
    ap.add_argument("--nvml-probe", required=True)
    ap.add_argument("--gpool", required=True)
    ap.add_argument("--library-dir", action="append", default=[])
    ap.add_argument("--timeout", type=int, default=120)
    ap.add_argument("--mode", required=True, choices=["c", "python", "smi", "util"])
    ap.add_argument("--asan-runtime", default="")
    args = ap.parse_args()
    if args.asan_runtime and os.environ.get("GPOOL_NVML_TEST_PRELOADED") != "1":
        # ASan build: this Python process loads the instrumented libnvidia-ml.so.1 itself, so the
        # ASan runtime must come first; run again with it preloaded (Python's own allocations
        # are not leak-checked).
        env = dict(os.environ, GPOOL_NVML_TEST_PRELOADED="1", LD_PRELOAD=args.asan_runtime)
        env["ASAN_OPTIONS"] = ":".join(o for o in [env.get("ASAN_OPTIONS", ""), "detect_leaks=0"] if o)
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    for path in (args.server, args.emulator_lib, args.probe, args.nvml_probe, args.gpool,
                 os.path.join(args.shim_dir, "libnvidia-ml.so.1")):
        if not os.path.exists(path):
            print(f"missing {path}: build the default target first", file=sys.stderr)
            return 1
    check = Check()
    with tempfile.TemporaryDirectory() as workdir:
        config = os.path.join(workdir, "server.toml")
        with open(config, "w") as f:
            f.write(CONFIG.replace('backend = "emulator"', 'backend = "emulator"\nscheduler = true')
                    if args.mode == "util" else CONFIG)
        proc, url, log_path = launch_server(args.server, ["--config", config], args.emulator_lib, workdir,
                                            env_extra={"GPOOL_EMU_DEVICES": "2"})
        try:
            {"c": mode_c, "python": mode_python, "smi": mode_smi, "util": mode_util}[args.mode](args, url, check)
        finally:
            stop_server(proc)
            if check.failures:
                with open(log_path) as f:
                    print("--- server log ---\n" + f.read()[-4000:])
    print("PASS" if check.failures == 0 else f"FAIL ({check.failures})")
    return 0 if check.failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
