#!/usr/bin/env python3
"""Public library images (issue 11, item 4; server/src/public_images.h): gpool-server on loopback
with the emulator backend and `public_images` naming one nvcc-built program, whose fatbin stands
in for a toolkit library's.

Usage:
  public_images.py --server BIN --shim-dir DIR --emulator-lib LIB --gpool BIN --examples-dir DIR
                   [--wire BIN] [--library-dir DIR]... [--timeout S] --mode MODE

Modes:
  tenants  public_images = [examples/vector_add], an image_cache_dir. Once the index is ready
           (admin status), vector_add run by tenant alice and then by tenant bob: neither sends
           image bytes (image_upload_bytes stays 0) and each has a public image load. Then
           matmul_tiled (not public) by alice and then by bob: each uploads it (bob is not served
           alice's private image, which alice's cache folder holds).
  wire     the same server; gpool-remote-public-images-wire (--wire) sends ModuleLoad calls by
           hash: the public image by hash alone, a forged size, bytes that do not match their
           hash, another session's private image by hash alone (tests/remote/public_images_wire.cc).
  cublas   public_images = [the toolkit's libcublas.so.*, libcublasLt.so.*] (from the first
           --library-dir), and
           gpool-bench-cublas-start (--cublas, NVIDIA's cuBLAS: cublasCreate, a checked 64x64
           cublasSgemm) run by alice and by bob: each finds the library's images in the index
           (the shim's hash of an image cudart hands the driver is the hash of the container in
           the file) and sends no image bytes.
  config   public_images naming a path that does not exist: the server refuses to start and
           says which key; a value that is not an array of strings is refused naming the key.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import glob
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import add_common_args, check_built  # noqa: E402
from tenant_server import TenantServer, run_mode  # noqa: E402

SKIP = 77


class Server(TenantServer):
    """Tenants alice and bob; `top` holds the public_images keys."""

    def __init__(self, args, workdir, top):
        super().__init__(args, workdir, {"alice": "", "bob": ""}, top, tag="61b3")

    def wait_index(self, timeout=60):
        deadline = time.time() + timeout
        while time.time() < deadline:
            p = self.status().get("public_images", {})
            if p.get("state") == "ready":
                return p
            time.sleep(0.1)
        raise RuntimeError("the public image index was not ready within %d s" % timeout)


def counters(t):
    return t["image_uploads"], t["image_upload_bytes"], t["public_image_loads"]


def mode_tenants(args, workdir):
    public = os.path.join(args.examples_dir, "vector_add")
    private = os.path.join(args.examples_dir, "matmul_tiled")
    cache = os.path.join(workdir, "cache")
    srv = Server(args, workdir, f'image_cache_dir = "{cache}"\npublic_images = ["{public}"]\n')
    try:
        idx = srv.wait_index()
        print("index: " + json.dumps(idx))
        ok = idx["images"] >= 1 and idx["files"] == 1
        if not ok:
            print("FAIL: expected vector_add's images in the index")
        for who in ("alice", "bob"):
            r = srv.run(who, public)
            if r.returncode != 0 or "PASS" not in r.stdout:
                print(f"FAIL: vector_add as {who}: {r.stdout}{r.stderr}")
                return 1
            up, up_bytes, pub = counters(srv.tenant(who))
            print(f"vector_add (public) as {who}: {up} uploads, {up_bytes} bytes, {pub} public loads")
            if up_bytes != 0 or pub < 1:
                print(f"FAIL: {who} sent the public image's bytes or did not load it from the index")
                ok = False
        for who in ("alice", "bob"):
            before = counters(srv.tenant(who))
            r = srv.run(who, private)
            if r.returncode != 0 or "PASS" not in r.stdout:
                print(f"FAIL: matmul_tiled as {who}: {r.stdout}{r.stderr}")
                return 1
            after = counters(srv.tenant(who))
            print(f"matmul_tiled (private) as {who}: {after[0] - before[0]} uploads, {after[1] - before[1]} bytes, "
                  f"{after[2] - before[2]} public loads")
            if after[1] - before[1] <= 0 or after[2] != before[2]:
                print(f"FAIL: {who} did not upload the private image itself")
                ok = False
        files = [os.path.relpath(os.path.join(d, f), cache) for d, _, fs in os.walk(cache) for f in fs]
        print("cache: " + json.dumps(sorted(files)))
        if len({os.path.dirname(f) for f in files}) != 2:
            print("FAIL: expected the private image in each tenant's own folder (and no public image there)")
            ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def mode_wire(args, workdir):
    public = os.path.join(args.examples_dir, "vector_add")
    private = os.path.join(args.examples_dir, "matmul_tiled")
    srv = Server(args, workdir, f'public_images = ["{public}"]\n')
    try:
        srv.wait_index()
        r = srv.run("alice", args.wire, public, private)
        print(r.stdout + r.stderr)
        log = open(srv.log).read()
        ok = r.returncode == 0 and "PASS" in r.stdout
        for needle in ("that image has", "do not have the hash the call named"):
            if needle not in log:
                print(f"FAIL: the server log does not say why ('{needle}')")
                ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def mode_cublas(args, workdir):
    libdir = args.library_dir[0] if args.library_dir else "/usr/local/cuda/lib64"
    # cublasSgemm runs cuBLASLt's kernels too: both libraries are public.
    libs = []
    for pattern in ("libcublas.so.*", "libcublasLt.so.*"):
        libs += sorted(f for f in glob.glob(os.path.join(libdir, pattern)) if not os.path.islink(f))[:1]
    if len(libs) != 2:
        print(f"SKIP: no libcublas.so.* and libcublasLt.so.* in {libdir}")
        return SKIP
    srv = Server(args, workdir, "public_images = [%s]\n" % ", ".join(f'"{lib}"' for lib in libs))
    try:
        idx = srv.wait_index(timeout=120)
        print(f"index of {', '.join(libs)}: " + json.dumps(idx))
        ok = True
        for who in ("alice", "bob"):
            r = srv.run(who, args.cublas)
            if r.returncode != 0 or "PASS" not in r.stdout:
                print(f"FAIL: the cuBLAS program as {who}: {r.stdout}{r.stderr[-3000:]}")
                return 1
            up, up_bytes, pub = counters(srv.tenant(who))
            print(f"cuBLAS start as {who}: {up} uploads, {up_bytes} bytes, {pub} public loads")
            if pub < 1 or up_bytes != 0:
                print(f"FAIL: {who} sent cuBLAS's images instead of loading them from the index")
                ok = False
        return 0 if ok else 1
    finally:
        srv.stop()


def mode_config(args, workdir):
    ok = True
    for top, needle in (('public_images = ["/nonexistent/gpool-public"]\n', "public_images: /nonexistent/gpool-public does not exist"),
                        ('public_images = "/usr"\n', "public_images must be an array")):
        try:
            srv = Server(args, workdir, top)
            srv.stop()
            print(f"FAIL: the server started with {top.strip()}")
            ok = False
        except RuntimeError:
            log = open(os.path.join(workdir, "server.log")).read()
            if needle not in log:
                print(f"FAIL: the refusal of {top.strip()} does not say '{needle}':\n{log[-2000:]}")
                ok = False
            else:
                print(f"ok: {top.strip()} refused: {needle}")
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--gpool", required=True)
    p.add_argument("--examples-dir", required=True)
    p.add_argument("--wire")
    p.add_argument("--cublas")
    p.add_argument("--mode", required=True, choices=["tenants", "wire", "cublas", "config"])
    args = p.parse_args()
    extra = ((args.gpool, "the gpool tool"), (os.path.join(args.examples_dir, "vector_add"), "examples/vector_add"),
             (os.path.join(args.examples_dir, "matmul_tiled"), "examples/matmul_tiled"))
    if args.mode == "wire":
        extra += ((args.wire, "gpool-remote-public-images-wire"),)
    if args.mode == "cublas":
        extra += ((args.cublas, "gpool-bench-cublas-start"),)
    rc = check_built(args, *extra)
    if rc is not None:
        return rc
    modes = {"tenants": mode_tenants, "wire": mode_wire, "cublas": mode_cublas, "config": mode_config}
    return run_mode(modes[args.mode], args)


if __name__ == "__main__":
    sys.exit(main())
