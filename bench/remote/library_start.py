#!/usr/bin/env python3
"""What a cold and a warm cuBLAS start cost through the pool (issue 11, item 4), from one run.

  python3 bench/remote/library_start.py --build build [--rounds 3] [--libraries /usr/local/cuda/lib64]

The program is gpool-bench-cublas-start (bench/remote/cublas_start.cc: cublasCreate, one 64x64
cublasSgemm, the result checked on the host). The time is from process start to its line
"first_sgemm ok"; bytes are what the client sent, from the server's tenant counters (admin
status): `bytes_in` (all bulk bytes: the images and the matrices) and `image_upload_bytes`
(module images only; "n/a" on a server that does not count them). Each round runs, in turn:

  direct        the program on the emulator itself (no pool): the ratio base
  cold          a fresh gpool-server (no image cache, no public images): every image travels
  warm, cache   a server with image_cache_dir whose tenant ran the program once before: the
                images are in the tenant's cache folder and travel by hash only
  warm, public  a fresh server with public_images = --libraries, its index ready, the tenant's
                first run: the library's images are the server's own and travel by hash only
                (skipped, with a note, for a server without public_images)

Servers start outside the timed part (a fresh server is started, then the program is timed).
The emulator's device is GPOOL_EMU_CC (13.0 when unset: the CUDA 13 libraries then run from
their PTX). Reports the median and best of the rounds, and ratios to the direct run of the same
statistic.
"""
import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time


def start_server(build, token, workdir, name, extra):
    url_file = os.path.join(workdir, "url-" + name)
    env = dict(os.environ, GPOOL_EMULATOR_LIB=os.path.join(build, "emulator", "libcuda.so.1"), GPOOL_LOG_LEVEL="warn")
    env.pop("GPOOL_WARM_WORKERS", None)
    env.pop("GPOOL_PUBLIC_IMAGES", None)
    log = open(os.path.join(workdir, "server-%s.log" % name), "w")
    proc = subprocess.Popen([os.path.join(build, "server", "gpool-server"), "--listen", "tcp://127.0.0.1:0",
                             "--token", token, "--admin-token", token + "-admin", "--url-file", url_file] + extra,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(400):
        if os.path.exists(url_file) and open(url_file).read().strip():
            return proc, open(url_file).read().strip()
        if proc.poll() is not None:
            return None, open(os.path.join(workdir, "server-%s.log" % name)).read()
        time.sleep(0.05)
    proc.kill()
    sys.exit("gpool-server did not start")


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def status(build, url, token):
    r = subprocess.run([os.path.join(build, "tools", "gpool"), "status", "--server", url, "--token",
                        token + "-admin", "--json"], capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def tenant_bytes(build, url, token):
    for t in status(build, url, token)["tenants"]:
        if t["name"] == "default":
            return t["bytes_in"], t.get("image_upload_bytes")
    return 0, None


def timed(prog, env):
    """Seconds from process start to "first_sgemm ok"; the program must then pass."""
    t0 = time.monotonic()
    p = subprocess.Popen([prog], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = None
    lines = []
    for line in p.stdout:
        lines.append(line)
        if line.startswith("first_sgemm ok") and first is None:
            first = time.monotonic() - t0
    p.wait()
    if p.returncode != 0 or first is None:
        sys.exit("%s failed (%d): %s%s" % (prog, p.returncode, "".join(lines), p.stderr.read()[-3000:]))
    return first


def client_env(build, url, token):
    return dict(os.environ, GPOOL_SERVER=url, GPOOL_TOKEN=token,
                LD_LIBRARY_PATH=":".join([os.path.join(build, "client-shim"), "/usr/local/cuda/lib64"]))


def pooled(build, prog, token, url):
    before = tenant_bytes(build, url, token)
    t = timed(prog, client_env(build, url, token))
    after = tenant_bytes(build, url, token)
    images = None if after[1] is None else after[1] - before[1]
    return t, after[0] - before[0], images


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--build", default="build")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--libraries", default="/usr/local/cuda/lib64", help="public_images of the 'warm, public' server")
    p.add_argument("--program", help="default: BUILD/bench/remote/gpool-bench-cublas-start")
    a = p.parse_args()
    os.environ.setdefault("GPOOL_EMU_CC", "13.0")
    build = os.path.abspath(a.build)
    prog = os.path.abspath(a.program) if a.program else os.path.join(build, "bench", "remote", "gpool-bench-cublas-start")
    token = secrets.token_hex(16)
    rows = {"direct": [], "cold": [], "warm, cache": [], "warm, public": []}
    notes = []
    with tempfile.TemporaryDirectory() as workdir:
        direct_env = dict(os.environ, LD_LIBRARY_PATH=":".join([os.path.join(build, "emulator"), "/usr/local/cuda/lib64"]))
        cache = os.path.join(workdir, "cache")
        for r in range(a.rounds):
            rows["direct"].append((timed(prog, direct_env), 0, 0))

            proc, url = start_server(build, token, workdir, "cold%d" % r, [])
            try:
                rows["cold"].append(pooled(build, prog, token, url))
            finally:
                stop(proc)

            # The cache persists across rounds (a server restarted on the same folder): the first
            # round primes it, every round's measured run finds the images there.
            proc, url = start_server(build, token, workdir, "cache%d" % r, ["--image-cache", cache])
            try:
                if r == 0:
                    timed(prog, client_env(build, url, token))
                rows["warm, cache"].append(pooled(build, prog, token, url))
            finally:
                stop(proc)

            proc, url = start_server(build, token, workdir, "public%d" % r, ["--public-images", a.libraries])
            if proc is None:
                note = "warm, public: skipped, this server has no public_images (%s)" % url.strip().splitlines()[-1]
                if note not in notes:
                    notes.append(note)
                continue
            try:
                t0 = time.monotonic()
                while status(build, url, token).get("public_images", {}).get("state") != "ready":
                    if time.monotonic() - t0 > 300:
                        sys.exit("the public image index was not ready in 300 s")
                    time.sleep(0.2)
                idx = status(build, url, token)["public_images"]
                if r == 0:
                    notes.append("public index of %s: %d images, %.1f MB, in %d files, ready %.1f s after start" %
                                 (a.libraries, idx["images"], idx["bytes"] / 1e6, idx["files"], time.monotonic() - t0))
                rows["warm, public"].append(pooled(build, prog, token, url))
            finally:
                stop(proc)

    med = lambda v: sorted(v)[len(v) // 2]
    base_med = med([x[0] for x in rows["direct"]])
    base_best = min(x[0] for x in rows["direct"])
    print(f"{a.rounds} rounds, GPOOL_EMU_CC={os.environ['GPOOL_EMU_CC']}; time from process start to the first "
          f"cublasSgemm result, median (best); ratio to the direct run.\n")
    print("| start | time | ratio | bytes sent (all) | image bytes sent |\n| --- | --- | --- | --- | --- |")
    for name, rs in rows.items():
        if not rs:
            continue
        t = [x[0] for x in rs]
        sent = med([x[1] for x in rs])
        imgs = [x[2] for x in rs]
        img_text = "n/a" if any(i is None for i in imgs) else f"{med(imgs) / 1e6:.2f} MB"
        sent_text = "—" if name == "direct" else f"{sent / 1e6:.2f} MB"
        if name == "direct":
            img_text = "—"
        print(f"| {name} | {med(t):.2f} s ({min(t):.2f}) | {med(t) / base_med:.2f}× ({min(t) / base_best:.2f}×) | "
              f"{sent_text} | {img_text} |")
    for n in notes:
        print("\n" + n)


if __name__ == "__main__":
    main()
