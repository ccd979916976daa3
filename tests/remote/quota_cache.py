#!/usr/bin/env python3
"""Quota without holes and the image cache (issue 13, parts 3 and 4): gpool-server on loopback
with the emulator backend.

Usage:
  quota_cache.py --server BIN --shim-dir DIR --emulator-lib LIB --probe BIN --gpool BIN
                 [--library-dir DIR]... [--timeout S] --mode MODE

Modes:
  globals        a tenant with a 128 MiB quota loads a module with a 1 GiB __device__ array: it gets
                 CUDA_ERROR_OUT_OF_MEMORY; 64 MiB of globals count in cuMemGetInfo, against
                 allocations and in the status until unloaded (probe global_quota); a session that
                 ends holding globals leaves nothing held. Before: the 1 GiB array loaded, and
                 status and cudaMemGetInfo showed nothing held.
  upload         a 256 MiB invalid upload: with image_memory = 64MiB it is refused with
                 CUDA_ERROR_OUT_OF_MEMORY and the worker's peak memory (VmHWM) rises by less than
                 32 MiB; with 1 GiB it is received once (the peak rises by less than 2.25 x 256 MiB:
                 the worker's copy and the driver's while it parses; before, about 790 MB) and
                 refused as an invalid image; the tenant's image_bytes is
                 0 afterwards.
  globals-nvcc   the same finding as reported: examples/big_global (nvcc-built, cudart loads its
                 fatbin) under a 128 MiB quota gets cudaErrorMemoryAllocation, the server logs the
                 refusal, nothing stays held.
  cache-tenants  with an image_cache_dir: tenant A's second session loads A's image by hash alone
                 (few bytes in); tenant B, sending the same hash, must upload the bytes itself;
                 invalid images are not kept on disk; the folder of each tenant holds only its own.
  cache-bound    image_cache_max_bytes = 1 MiB: after 3 rounds of 2 images of 300 KiB the folder
                 holds at most 1 MiB, the most recently used images stay and the oldest went.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import add_common_args, check_built  # noqa: E402
from tenant_server import TenantServer, run_mode  # noqa: E402

SKIP = 77
MIB = 1 << 20


class Server(TenantServer):
    """Runs and starts the probe (--probe) as the client program."""

    def __init__(self, args, workdir, tenants, top=""):
        super().__init__(args, workdir, tenants, top, tag="5c7e")

    def run(self, tenant, *probe_args):
        return super().run(tenant, self.args.probe, *probe_args)

    def start(self, tenant, *probe_args):
        return super().start(tenant, self.args.probe, *probe_args)


def wait_line(proc, prefix, timeout=120):
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if line.startswith(prefix):
            return line.strip(), seen
    return None, seen


def held(t):
    return sum(d["bytes_held"] for d in t["devices"])


def wait_released(srv, name, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        t = srv.tenant(name)
        if t["sessions"] == 0 and held(t) == 0 and t["image_bytes"] == 0:
            return True
        time.sleep(0.05)
    return False


def mode_globals(args, workdir):
    srv = Server(args, workdir, {"small": 'memory_quota = "128MiB"\n'})
    try:
        p = srv.start("small", "global_quota", 128)
        line, seen = wait_line(p, "HOLDING")
        if line is None:
            p.kill()
            out, err = p.communicate()
            print("FAIL: the probe did not reach HOLDING:\n" + "".join(seen) + out + err)
            return 1
        t = srv.tenant("small")
        sess = [s for s in srv.status()["sessions"] if s["tenant"] == "small"]
        out, err = p.communicate(input="", timeout=args.timeout)
        print("".join(seen) + out)
        ok = p.returncode == 0 and "PASS" in out
        if held(t) != 32 * MIB or not sess or sess[0]["bytes_held"] != 32 * MIB:
            print(f"FAIL: with 32 MiB of module globals loaded the status shows tenant {held(t)} bytes, "
                  f"session {sess[0]['bytes_held'] if sess else None}")
            ok = False
        else:
            print("ok: the status shows the 32 MiB of globals held by the tenant and the session")
        if not wait_released(srv, "small"):
            print("FAIL: the ended session left held: " + json.dumps(srv.tenant("small")))
            ok = False
        if "globals take" not in open(srv.log).read():
            print("FAIL: the server log does not say why it refused the module")
            ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def mode_globals_nvcc(args, workdir):
    """The finding as reported: an nvcc-built program (cudart loads its fatbin) with a 1 GiB
    __device__ array under a 128 MiB quota."""
    srv = Server(args, workdir, {"small": 'memory_quota = "128MiB"\n'})
    try:
        prog = os.path.join(args.examples_dir, "big_global")
        if not os.path.exists(prog):
            print(f"FAIL: {prog} was not built")
            return 1
        r = TenantServer.run(srv, "small", prog)  # the nvcc-built program, not the probe
        print(r.stdout.strip())
        ok = "RESULT cudaErrorMemoryAllocation" in r.stdout
        if not ok:
            print(f"FAIL: the 1 GiB __device__ array under a 128 MiB quota gave: {r.stdout}{r.stderr}")
        if not wait_released(srv, "small"):
            print("FAIL: the tenant still holds: " + json.dumps(srv.tenant("small")))
            ok = False
        if "refused a module whose globals take 1073741" not in open(srv.log).read():
            print("FAIL: the server log does not give the refusal")
            ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM")


def upload_peak(srv, tenant, mib):
    p = srv.start(tenant, "upload", mib)
    line, seen = wait_line(p, "RESULT")
    if line is None:
        p.kill()
        raise RuntimeError("the upload probe printed no RESULT: " + "".join(seen) + p.stderr.read())
    wait_line(p, "HOLDING")
    sess = [s for s in srv.status()["sessions"] if s["tenant"] == tenant]
    peak = vm_hwm(sess[0]["pid"])
    image_bytes = srv.tenant(tenant)["image_bytes"]
    p.communicate(input="", timeout=60)
    return line.split()[1], peak, image_bytes


def mode_upload(args, workdir):
    srv = Server(args, workdir, {"tight": 'image_memory = "64MiB"\n', "roomy": 'image_memory = "1GiB"\n'})
    try:
        _, base, _ = upload_peak(srv, "roomy", 1)
        res_tight, peak_tight, img_tight = upload_peak(srv, "tight", 256)
        res_roomy, peak_roomy, img_roomy = upload_peak(srv, "roomy", 256)
        print(f"worker peak memory: 1 MiB upload {base / MIB:.0f} MiB; 256 MiB over image_memory=64MiB: "
              f"{res_tight}, {peak_tight / MIB:.0f} MiB; 256 MiB within 1GiB: {res_roomy}, {peak_roomy / MIB:.0f} MiB")
        ok = True
        if res_tight != "CUDA_ERROR_OUT_OF_MEMORY":
            print(f"FAIL: the upload over image_memory gave {res_tight}")
            ok = False
        if peak_tight - base > 32 * MIB:
            print(f"FAIL: the refused upload raised the worker's peak by {(peak_tight - base) / MIB:.0f} MiB")
            ok = False
        if res_roomy == "CUDA_SUCCESS":
            print("FAIL: an invalid image loaded")
            ok = False
        # The worker's one copy (charged) and the driver's own while it parses (the emulator keeps
        # the PTX text): at most 2.25 x the upload. Before: three copies in the worker (790 MB).
        if peak_roomy - base > 576 * MIB:
            print(f"FAIL: the 256 MiB upload raised the worker's peak by {(peak_roomy - base) / MIB:.0f} MiB")
            ok = False
        if img_tight != 0 or img_roomy != 0:
            print(f"FAIL: refused uploads still charged: {img_tight}, {img_roomy}")
            ok = False
        for name in ("tight", "roomy"):
            if not wait_released(srv, name):
                print("FAIL: tenant still holds: " + json.dumps(srv.tenant(name)))
                ok = False
        if "over tenant tight's image_memory" not in open(srv.log).read():
            print("FAIL: the server log does not name image_memory")
            ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def img_files(cache):
    out = {}
    for root, _, files in os.walk(cache):
        for f in files:
            if f.endswith(".img"):
                path = os.path.join(root, f)
                out[os.path.relpath(path, cache)] = os.path.getsize(path)
    return out


def tenant_bytes_in(srv, name):
    return srv.tenant(name)["bytes_in"]


def mode_cache_tenants(args, workdir):
    cache = os.path.join(workdir, "cache")
    srv = Server(args, workdir, {"alice": "", "bob": ""}, top=f'image_cache_dir = "{cache}"\n')
    try:
        ok = True
        r = srv.run("alice", "upload", 1)
        if "RESULT CUDA_SUCCESS" in r.stdout:
            print("FAIL: an invalid image loaded")
            ok = False
        if img_files(cache):
            print("FAIL: an image that did not load was kept: " + json.dumps(img_files(cache)))
            ok = False
        steps = []
        for who in ("alice", "alice", "bob"):
            before = tenant_bytes_in(srv, who)
            r = srv.run(who, "images", 1, 512, 7)
            if r.returncode != 0:
                print(f"FAIL: images as {who}: {r.stdout}{r.stderr}")
                return 1
            steps.append(tenant_bytes_in(srv, who) - before)
        print(f"bytes in: alice first {steps[0]}, alice again {steps[1]}, bob {steps[2]} (image 512 KiB)")
        if steps[0] < 512 * 1024:
            print("FAIL: alice's first load did not upload the image")
            ok = False
        if steps[1] > 64 * 1024:
            print("FAIL: alice's second session uploaded the image again (not loaded by hash from the cache)")
            ok = False
        if steps[2] < 512 * 1024:
            print("FAIL: bob loaded alice's image by its hash alone")
            ok = False
        files = img_files(cache)
        dirs = {os.path.dirname(f) for f in files}
        print("cache: " + json.dumps(files))
        if len(files) != 2 or len(dirs) != 2:
            print("FAIL: expected the image once in each tenant's own folder")
            ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def mode_cache_bound(args, workdir):
    cache = os.path.join(workdir, "cache")
    srv = Server(args, workdir, {"alice": ""}, top=f'image_cache_dir = "{cache}"\nimage_cache_max_bytes = "1MiB"\n')
    try:
        ok = True
        for seed in (1, 2, 3):
            r = srv.run("alice", "images", 2, 300, seed)
            if r.returncode != 0:
                print(f"FAIL: images seed {seed}: {r.stdout}{r.stderr}")
                return 1
            time.sleep(0.05)  # distinct modification times
        files = img_files(cache)
        total = sum(files.values())
        print(f"cache after 6 images of 300 KiB with a 1 MiB bound: {len(files)} files, {total} bytes")
        if total > MIB:
            print("FAIL: the cache holds more than image_cache_max_bytes")
            ok = False
        if len(files) < 2:
            print("FAIL: the most recent images were not kept")
            ok = False
        before = tenant_bytes_in(srv, "alice")
        r = srv.run("alice", "images", 2, 300, 3)  # the newest: still cached
        newest = tenant_bytes_in(srv, "alice") - before
        before = tenant_bytes_in(srv, "alice")
        r2 = srv.run("alice", "images", 2, 300, 1)  # the oldest: evicted, uploaded again
        oldest = tenant_bytes_in(srv, "alice") - before
        print(f"bytes in: newest images again {newest}, oldest images again {oldest}")
        if r.returncode != 0 or r2.returncode != 0:
            print("FAIL: reloading failed")
            ok = False
        if newest > 64 * 1024:
            print("FAIL: the most recently used images were evicted")
            ok = False
        if oldest < 2 * 300 * 1024:
            print("FAIL: the least recently used images were not evicted")
            ok = False
        if "evicted" not in open(srv.log).read():
            print("FAIL: the log does not record the evictions")
            ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--probe", required=True)
    p.add_argument("--gpool", required=True)
    p.add_argument("--examples-dir", default="")
    p.add_argument("--mode", required=True, choices=["globals", "globals-nvcc", "upload", "cache-tenants", "cache-bound"])
    args = p.parse_args()
    rc = check_built(args, (args.probe, "gpool-remote-probe"), (args.gpool, "the gpool tool"))
    if rc is not None:
        return rc
    modes = {"globals": mode_globals, "globals-nvcc": mode_globals_nvcc, "upload": mode_upload, "cache-tenants": mode_cache_tenants,
             "cache-bound": mode_cache_bound}
    return run_mode(modes[args.mode], args)


if __name__ == "__main__":
    sys.exit(main())
