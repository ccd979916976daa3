#!/usr/bin/env bash
# Generates docs/compatibility.md from what the built code reports (do not edit that file by hand;
# the hand-written notes live below in this script).
#
#   scripts/gen-compat.sh [--shim PATH] [BUILD_DIR]   builds gpool_emulator, gpool-compat,
#       gpool-ptx-ops (and gpool_shim when client-shim/ exists) in BUILD_DIR (default: build),
#       then rewrites docs/compatibility.md. Commit the result.
#   scripts/gen-compat.sh --no-build BUILD_DIR     the same with binaries already built there.
#   scripts/gen-compat.sh --check BUILD_DIR [OUT]     builds nothing: regenerates the driver
#       entry-point section from BUILD_DIR into OUT (default BUILD_DIR/docs/compatibility.md) and
#       exits 1 when the emulator column of docs/compatibility.md differs (ctest
#       docs.compatibility_current); with --shim also when the shim column differs, or when the
#       shim lacks an entry point the emulator implements that SHIM_PENDING (below) does not
#       name. Exit 2: usage error or missing binaries.
#
# Inputs: `gpool-compat LIB` (driver-abi/tools/gpool_compat.cc) prints, for a built libcuda.so.1,
# every exported entry point with its status as read from the library's gpool info table;
# `gpool-ptx-ops` (emulator/exec/tools/ptx_ops.cc) prints the opcodes the PTX executor registers.
# The client-shim column comes from BUILD_DIR/client-shim/libcuda.so.1 (or --shim PATH).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
check=0
nobuild=0
shim=""
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=1; nobuild=1 ;;
    --no-build) nobuild=1 ;;
    --shim) shift; shim="${1:?--shim needs a path}" ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) args+=("$1") ;;
  esac
  shift
done
build="${args[0]:-build}"
case "$build" in /*) ;; *) build="$root/$build" ;; esac
doc="$root/docs/compatibility.md"

if [ "$nobuild" = 0 ]; then
  targets=(gpool_emulator gpool-compat gpool-ptx-ops)
  if [ -z "$shim" ] && [ -f "$root/client-shim/CMakeLists.txt" ]; then targets+=(gpool_shim); fi
  cmake -S "$root" -B "$build" -G Ninja >/dev/null
  cmake --build "$build" -j "${GPOOL_BUILD_JOBS:-$(nproc)}" --target "${targets[@]}"
fi

compat="$build/driver-abi/gpool-compat"
emu="$build/emulator/libcuda.so.1"
ptxops="$build/emulator/exec/gpool-ptx-ops"
for f in "$compat" "$emu" "$ptxops"; do
  [ -x "$f" ] || [ -f "$f" ] || { echo "gen-compat: $f is missing; build it first (scripts/gen-compat.sh $build)" >&2; exit 2; }
done
if [ -n "$shim" ]; then
  # Named explicitly (the docs.compatibility_current test does): the shim column must be checked.
  [ -f "$shim" ] || { echo "gen-compat: $shim is missing; build gpool_shim first" >&2; exit 2; }
else
  shim="$build/client-shim/libcuda.so.1"
  [ -f "$shim" ] || shim=""
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$compat" "$emu" >"$work/emulator.md"
if [ -n "$shim" ]; then "$compat" "$shim" >"$work/shim.md"; fi
"$ptxops" >"$work/ptx_ops.tsv"
# The NVML shim's exports (nvml-shim/), when it was built: its section of the document.
nvml="$build/client-shim/libnvidia-ml.so.1"
if [ -f "$nvml" ]; then nm -D --defined-only "$nvml" | awk '$3 ~ /^nvml/ {print $3}' | sort >"$work/nvml.txt"; fi

if [ "$check" = 1 ]; then
  out="${args[1]:-$build/docs/compatibility.md}"
else
  out="$doc"
fi
mkdir -p "$(dirname "$out")"
python3 - "$work" "$out" "$check" "$doc" "$root" <<'PY'
import os
import re
import sys

work, out_path, check, doc_path = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
root = sys.argv[5]

STATUS = {  # gpool-compat's words -> the table's words
    "implemented": "yes",
    "implemented (driver-abi)": "yes (driver-abi)",
    "implemented (per-thread stream via base)": "yes (per-thread via base)",
    "not supported": "no",
}


def read_compat(path):
    rows = {}
    for line in open(path):
        m = re.match(r"^\| `([A-Za-z0-9_]+)` \| (.+) \|$", line.rstrip("\n"))
        if m:
            if m.group(2) not in STATUS:
                sys.exit(f"gen-compat: unknown status '{m.group(2)}' in {path}")
            rows[m.group(1)] = STATUS[m.group(2)]
    if not rows:
        sys.exit(f"gen-compat: no entry points in {path}")
    return rows


# API areas, first match wins (cuGraphics* before cuGraph*, cuMemcpy*/cuMemset* before cuMem*).
AREAS = [
    ("Initialization, version, errors, entry-point lookup",
     ("cuInit", "cuDriverGetVersion", "cuGetProcAddress", "cuGetExportTable", "cuGetErrorName",
      "cuGetErrorString")),
    ("Primary contexts", ("cuDevicePrimaryCtx",)),
    ("Devices", ("cuDevice", "cuDeviceGetP2P")),
    ("Contexts", ("cuCtx",)),
    ("Green contexts and device resources", ("cuGreenCtx", "cuDevResource", "cuDevSmResource")),
    ("Copies and memsets", ("cuMemcpy", "cuMemset")),
    ("Memory, pools, virtual memory, pointer attributes", ("cuMem", "cuPointer")),
    ("Streams", ("cuStream",)),
    ("Events", ("cuEvent",)),
    ("Modules, libraries, kernels, functions, linker",
     ("cuModule", "cuLibrary", "cuKernel", "cuFunc", "cuLink")),
    ("Launch and occupancy", ("cuLaunch", "cuOccupancy", "cuParam")),
    ("Graphics interop", ("cuGraphics", "cuGL", "cuEGL", "cuVDPAU", "cuWGL")),
    ("Graphs and stream capture", ("cuGraph", "cuUserObject", "cuThreadExchangeStreamCaptureMode")),
    ("Arrays, textures, surfaces", ("cuArray", "cuMipmappedArray", "cuTex", "cuSurf")),
    ("Tensor maps", ("cuTensorMap",)),
    ("IPC and external resources",
     ("cuIpc", "cuImportExternal", "cuExternal", "cuSignalExternal", "cuWaitExternal",
      "cuDestroyExternal")),
    ("Multicast", ("cuMulticast",)),
    ("Profiler, checkpoint, coredump, logs",
     ("cuProfiler", "cuCheckpoint", "cuCoredump", "cuLogs")),
]


def area_of(name):
    for title, prefixes in AREAS:
        if any(name.startswith(p) for p in prefixes):
            return title
    return "Other"


def entry_section(emu, shim):
    names = sorted(emu)
    lines = ["<!-- entry-points:begin (generated; scripts/gen-compat.sh --check compares this) -->", ""]

    def counts(rows):
        c = {v: 0 for v in STATUS.values()}
        for n in names:
            c[rows.get(n, "no")] += 1
        return (f"{len(names)} entry points: {c['yes']} implemented by the backend, "
                f"{c['yes (driver-abi)']} by driver-abi, {c['yes (per-thread via base)']} "
                f"per-thread variants through the fallback, {c['no']} not supported")

    lines.append(f"**Emulator backend:** {counts(emu)}.")
    if shim is not None:
        lines.append("")
        lines.append(f"**Client shim:** {counts(shim)}.")
    lines.append("")
    lines.append("Status words: **yes** = implemented by the backend; **yes (driver-abi)** = "
                 "answered by driver-abi itself for every backend; **yes (per-thread via base)** = "
                 "a `_ptds`/`_ptsz` variant that runs the backend's base entry point with the "
                 "per-thread default stream; **no** = returns `CUDA_ERROR_NOT_SUPPORTED` and logs "
                 "its name once.")
    by_area = {}
    for n in names:
        by_area.setdefault(area_of(n), []).append(n)
    order = [t for t, _ in AREAS] + ["Other"]
    lines.append("")
    lines.append("| area | entry points | emulator: yes | emulator: no |"
                 + (" shim: yes | shim: no |" if shim is not None else ""))
    lines.append("| --- | ---: | ---: | ---: |" + (" ---: | ---: |" if shim is not None else ""))
    for title in order:
        ns = by_area.get(title)
        if not ns:
            continue
        row = f"| {title} | {len(ns)} | {sum(emu[n] != 'no' for n in ns)} | {sum(emu[n] == 'no' for n in ns)} |"
        if shim is not None:
            row += f" {sum(shim.get(n, 'no') != 'no' for n in ns)} | {sum(shim.get(n, 'no') == 'no' for n in ns)} |"
        lines.append(row)
    for title in order:
        ns = by_area.get(title)
        if not ns:
            continue
        lines += ["", f"### {title}", ""]
        if shim is not None:
            lines += ["| entry point | emulator | client shim |", "| --- | --- | --- |"]
            lines += [f"| `{n}` | {emu[n]} | {shim.get(n, 'no')} |" for n in ns]
        else:
            lines += ["| entry point | emulator |", "| --- | --- |"]
            lines += [f"| `{n}` | {emu[n]} |" for n in ns]
    lines += ["", "<!-- entry-points:end -->"]
    return "\n".join(lines) + "\n"


def table_rows(section):
    """entry point -> list of status cells, from a generated entry-point section."""
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([A-Za-z0-9_]+)` \| (.+) \|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split("|")]
    return rows


def extract_section(text):
    m = re.search(r"<!-- entry-points:begin.*?<!-- entry-points:end -->\n", text, re.S)
    return m.group(0) if m else None


emu = read_compat(os.path.join(work, "emulator.md"))
shim_path = os.path.join(work, "shim.md")
shim = read_compat(shim_path) if os.path.exists(shim_path) else None
section = entry_section(emu, shim)

# The client shim must implement every entry point the emulator implements (issue 9): a
# program that runs directly must not fail through the pool for want of one. Entry points
# another piece of in-flight work owns are listed here with that work; the check fails when the
# shim lacks one that is not listed, and when a listed one is implemented (shrink the list).
SHIM_PENDING = {
    # Entry points the emulator implements that the shim still lacks, each with the work that
    # owes it (docs/architecture.md, Open points). Empty: the shim has every one.
}


def shim_coverage(emu, shim):
    """The emulator's implemented entry points the shim lacks, split into (unlisted, listed);
    and the listed ones the shim implements now."""
    missing = sorted(n for n in emu if emu[n] != "no" and shim.get(n, "no") == "no")
    unlisted = [n for n in missing if n not in SHIM_PENDING]
    listed = [n for n in missing if n in SHIM_PENDING]
    done = sorted(n for n in SHIM_PENDING if shim.get(n, "no") != "no")
    return unlisted, listed, done


if check:
    with open(out_path, "w") as f:
        f.write(section)
    if shim is not None:
        unlisted, listed, done = shim_coverage(emu, shim)
        emu_yes = sum(v != "no" for v in emu.values())
        shim_yes = sum(shim.get(n, "no") != "no" for n in emu)
        print(f"client shim: {shim_yes} entry points implemented, emulator: {emu_yes}; "
              f"{len(listed)} of the emulator's are still owed by listed work: " + ", ".join(listed))
        if unlisted:
            print("the client shim lacks entry points the emulator implements (forward them, e.g. as "
                  "protocol/calls/calls.toml rows): " + ", ".join(unlisted), file=sys.stderr)
            sys.exit(1)
        if done:
            print("scripts/gen-compat.sh SHIM_PENDING lists entry points the client shim implements "
                  "now; remove them: " + ", ".join(done), file=sys.stderr)
            sys.exit(1)
    try:
        committed = extract_section(open(doc_path).read())
    except OSError:
        committed = None
    if committed is None:
        sys.exit(print(f"docs/compatibility.md has no entry-point section; run scripts/gen-compat.sh",
                       file=sys.stderr) or 1)
    # The emulator column must match exactly, and so must the client-shim column when the shim
    # was checked (--shim, as the docs.compatibility_current test passes it).
    cols = 2 if shim is not None else 1
    want = {n: tuple(cells[:cols]) for n, cells in table_rows(section).items()}
    have = {n: tuple(cells[:cols]) for n, cells in table_rows(committed).items()}
    if want != have:
        diff = sorted(set(want) ^ set(have)) + sorted(n for n in set(want) & set(have) if want[n] != have[n])
        print("docs/compatibility.md is out of date with the emulator"
              + (" and client shim" if shim is not None else "") + " built here "
              f"({len(diff)} entry points differ, e.g. {', '.join(diff[:8])}); "
              "run scripts/gen-compat.sh and commit docs/compatibility.md", file=sys.stderr)
        sys.exit(1)
    print(f"docs/compatibility.md matches the emulator's {len(want)} entry points"
          + (" and the client shim's" if shim is not None else ""))
    sys.exit(0)

# ---- PTX ----------------------------------------------------------------------------------------
ops = {}
for line in open(os.path.join(work, "ptx_ops.tsv")):
    op, fams = line.rstrip("\n").split("\t")
    ops[op] = fams

# Hand-written coverage notes, checked against emulator/exec/src/*.cc. An opcode without a note
# still appears (with "see the code"); a note for an opcode that is not registered is an error.
NOTES = {
    "abs": "integer `s16/s32/s64`; float `f16/f16x2/bf16/bf16x2/f32/f64` (`.ftz` on f32/f16)",
    "activemask": "`.b32`",
    "add": "integer 16–64 bits, `.sat.s32`, `.cc`; `f32` with `.rn/.rz/.rm/.rp`, `.ftz`, `.sat`; `f64` with `.rn/.rz/.rm/.rp`; `f16/f16x2` `.rn`, `.ftz`, `.sat`; `bf16/bf16x2` `.rn`",
    "addc": "`.cc` carry chain, `u32/s32/u64/s64`",
    "atom": "`.global`/`.shared`/generic (not `.local`); `add/min/max/and/or/xor/exch/cas` on `b32/b64/u32/u64/s32/s64`, `inc/dec` on `u32`, `add/exch/min/max` on `f32/f64`, `add` (`.noftz`) on `f16/bf16` and per half on `f16x2/bf16x2` (round to nearest even, subnormals kept), `cas` on `b16`; orderings, scopes (`.cta/.gpu/.sys/.cluster`) and `L2::` hints accepted. No other 16-bit atomics and no vector atomics. Global atomics are host atomics",
    "bar": "`bar.sync`/`bar.arrive`/`bar.red.{popc,and,or}` (`u32` or `pred` result), `.aligned`, `.cta`, named barriers with thread counts; `bar.warp.sync` (free when its lanes run together; otherwise they wait for the rest of the mask)",
    "barrier": "same forms as `bar` (`barrier.sync`, `.aligned`)",
    "bfe": "`u32/s32/u64/s64`",
    "bfi": "`b32/b64`",
    "bfind": "`u32/s32/u64/s64`, `.shiftamt`",
    "bmsk": "`.clamp/.wrap` `b32`",
    "vshl": "scalar video shift: `u32/s32` result and `a`, `u32` count, `.clamp/.wrap`, `.sat`, secondary `.add`; not `.min/.max`, operand selectors or the merge form",
    "vshr": "as `vshl` (arithmetic for an `s32` `a`); cuSPARSE's SpGEMM uses `vshr.u32.u32.u32.clamp.add`",
    "bra": "`.uni`; divergent branches run the lane groups separately and reconverge",
    "brev": "`b32/b64`",
    "brkpt": "treated as `trap`",
    "clz": "`b32/b64`",
    "cnot": "`b16/b32/b64`",
    "copysign": "`f32/f64`",
    "cvt": "every integer/float pair incl. `f16/bf16`; `tf32` from `f32` (`.rna`); packed `f16x2/bf16x2` and `e4m3x2/e5m2x2` (`.satfinite`) from two `f32`, `e4m3x2/e5m2x2` to and from `f16x2`; `.rn/.rz/.rm/.rp`, `.rni/.rzi/.rmi/.rpi`, `.sat`, `.ftz`, `.relu`, `.satfinite`; `cvt.pack.sat` `u16/s16.s32` (two sources) and `u8/s8/u4/s4/u2/s2.s32.b32` (packed above the third source's low bits)",
    "cvta": "`.to` and from `global/shared/local/const/param`",
    "div": "integer `u/s` 16–64 (division by zero gives all ones, no fault); `f32` `.approx/.full/.rn/.rz/.rm/.rp` with `.ftz`; `f64` `.rn/.rz/.rm/.rp`; no half-precision division",
    "dp2a": "`.lo/.hi`, `u32/s32` mixes",
    "dp4a": "`u32/s32` mixes",
    "elect": "`.sync`",
    "exit": "ends the thread",
    "fence": "`.sc/.acq_rel/.acquire/.release`, scopes, `.proxy.alias/.async` forms: a full host fence",
    "fma": "`.rn/.rz/.rm/.rp` on `f32` (`.ftz`, `.sat`) and `f64`; `.rn` on `f16/f16x2` (`.ftz`, `.sat`, `.relu`) and `bf16/bf16x2` (`.relu`)",
    "fns": "`b32`",
    "isspacep": "`global/shared/local/const/param`",
    "ld": "`global/shared/local/const/param` and generic, scalar 8–64-bit types, `.v2/.v4`; signed loads into a wider register sign-extend to its width (`ld.global.s32 %rd, ...`); `.nc`, `.volatile`, `.relaxed/.acquire` with scopes, cache operators and `L1::`/`L2::` hints accepted (no effect); `.v8` of 32-bit types on `.global` (one 32-byte aligned access). No other `.v8`, no 128-bit types",
    "ldu": "as `ld.global`",
    "lop3": "`b32` with any 8-bit LUT",
    "mad": "integer `.lo/.hi/.wide`, `.cc`; float forms are fused multiply-adds like `fma`",
    "mad24": "`.lo/.hi`, `u32/s32`",
    "madc": "`.lo/.hi`, `.cc` chains",
    "match": "`.any.sync`/`.all.sync` (with the optional predicate) on `b32/b64`",
    "max": "integer 16–64 bits; float all widths with `.NaN`, `.xorsign.abs`, three inputs",
    "membar": "`.cta/.gl/.sys`",
    "min": "as `max`",
    "mov": "registers, immediates, addresses of variables, special registers (see below), vector pack/unpack",
    "mul": "integer `.lo/.hi/.wide`; float as `add`",
    "mul24": "`.lo/.hi`, `u32/s32`",
    "nanosleep": "yields the warp to the block's other warps (the worker thread when all spin)",
    "neg": "integer `s16/s32/s64`; float all widths (`.ftz` on f32/f16)",
    "not": "`pred/b16/b32/b64`",
    "and": "`pred/b16/b32/b64`",
    "or": "`pred/b16/b32/b64`",
    "xor": "`pred/b16/b32/b64`",
    "wmma": "`load.a/b/c`, `mma`, `store.d`: m16n16k16/m32n8k16/m8n32k16 with f16 (f16 or f32 accumulators), bf16, s8/u8 (s32, `.satfinite`); m16n16k8 tf32; m8n8k4 f64 (`.rn/.rz/.rm/.rp`); row/col layouts, `.global/.shared`/generic, strides. Whole warp only. No sub-byte or `b1` forms",
    "mma": "`.sync.aligned` m16n8k16/m16n8k8 f16/bf16 (f32, or f16 for f16 inputs), m16n8k8/m16n8k4 tf32, m8n8k4 and m16n8k4/k8/k16 f64, m16n8k32/m16n8k16/m8n8k16 s8/u8 mixes (s32, `.satfinite`), m16n8k32/m16n8k16 `e4m3`/`e5m2` mixes (f32 or f16), m8n8k4 f16 (quad pairs, any layouts). Whole warp only. No sub-byte or `b1` forms",
    "suld": "`.b` on surface objects: `1d/2d/3d/a1d/a2d`, `b8/b16/b32/b64`, `.v2/.v4`, `.trap/.clamp/.zero`; x in bytes",
    "suq": "`width/height/depth/array_size` of a surface object",
    "sust": "`.b` as `suld`; formatted `.p` (`1d/2d/3d/a1d/a2d`, `.b32`, converted to the array's format)",
    "tex": "texture objects: `1d/2d/3d/a1d/a2d/cube/acube`, `.v4` `f32/s32/u32` results, `f32/s32` coordinates, plain, `.base`, `.level`, `.grad`, texel offsets; every address, filter and read mode, sRGB, mipmaps, seamless cubemaps, anisotropic filtering, resource views (emulator.md)",
    "tld4": "`r/g/b/a`, `2d/a2d`, texture objects, texel offsets",
    "txq": "`width/height/depth/array_size/num_mipmap_levels/normalized_coords` of a texture object",
    "ldmatrix": "`.sync.aligned.m8n8.x1/.x2/.x4{.trans}.b16`, shared or generic addresses",
    "stmatrix": "`.sync.aligned.m8n8.x1/.x2/.x4{.trans}.b16`, shared or generic addresses",
    "cp": "`cp.async.ca` (4/8/16 bytes) and `.cg` (16) `.shared.global` with src-size (zero fill) or ignore-src, cache hints accepted; copies complete at once, so `cp.async.commit_group`, `wait_group`, `wait_all` are no-ops; `cp.async.mbarrier.arrive{.noinc}`; non-tensor `cp.async.bulk` (`.mbarrier::complete_tx::bytes` into shared memory, `.bulk_group` to global, `commit_group`, `wait_group{.read}`, `prefetch.L2`), copying at once. No `cp.async.bulk.tensor`, multicast or `cp.reduce.async.bulk`",
    "mbarrier": "`init`, `inval`, `arrive` (count, `.noComplete`), `arrive_drop`, `.expect_tx`, `expect_tx`, `complete_tx`, `test_wait`/`try_wait` (`.parity`, never blocking), `pending_count`; `.b64` objects in shared memory",
    "griddepcontrol": "`.launch_dependents`, `.wait`: no-ops (a launch starts after the previous work on its stream)",
    "pmevent": "accepted, no effect",
    "popc": "`b32/b64`",
    "prefetch": "accepted, no effect",
    "prefetchu": "accepted, no effect",
    "prmt": "all modes (`.f4e/.b4e/.rc8/.ecl/.ecr/.rc16`)",
    "red": "as `atom` without a result",
    "redux": "`.sync`: `add/min/max` on `u32/s32`, `and/or/xor` on `b32`, `min/max` on `f32` (`.abs`, `.NaN`)",
    "rem": "`u/s` 16–64",
    "ret": "returns from device functions (inlined or real calls); in a kernel, ends the thread",
    "sad": "`u/s` 16–64",
    "selp": "every type",
    "set": "integer and float comparisons, `.and/.or/.xor` with a predicate, `.ftz`",
    "setp": "integer, bit and float comparisons (ordered and unordered, `.ftz` on f32/f16), `.and/.or/.xor` with a predicate, two destinations",
    "shf": "`.l/.r`, `.wrap/.clamp` on `b32` (every form)",
    "shfl": "`.up/.down/.bfly/.idx`, with or without `.sync`, on 32-bit types, optional predicate result (`d|p`, also with the bare register names of CUB's inline assembly)",
    "shl": "`b16/b32/b64`",
    "shr": "`b/u/s` 16–64",
    "slct": "every type with an `s32`/`f32` selector",
    "st": "as `ld` (`.release` instead of `.acquire`); `st.const` is refused",
    "sub": "as `add`",
    "subc": "as `addc`",
    "testp": "`.finite/.infinite/.number/.notanumber/.normal/.subnormal` on `f32/f64`",
    "trap": "ends the launch with `CUDA_ERROR_LAUNCH_FAILED` (sticky)",
    "rcp": "`f32/f64` `.rn/.rz/.rm/.rp`, `f32` `.approx` (`.ftz`), `f64` `.approx.ftz`",
    "sqrt": "`f32/f64` `.rn/.rz/.rm/.rp`, `f32` `.approx` (`.ftz`)",
    "rsqrt": "`.approx` on `f32` (`.ftz`) and `f64`",
    "sin": "`.approx` `f32` (`.ftz`)",
    "cos": "`.approx` `f32` (`.ftz`)",
    "lg2": "`.approx` `f32` (`.ftz`)",
    "ex2": "`.approx` `f32` (`.ftz`), `f16/f16x2/bf16/bf16x2`",
    "tanh": "`.approx` `f32`, `f16/f16x2/bf16/bf16x2`",
    "vshl": "`.u32/.s32` d and a, `.u32` b, `.clamp/.wrap`, `.sat`, secondary `.add/.min/.max`; no byte/half-word selectors or data merge",
    "vshr": "as `vshl`",
    "vote": "`.all/.any/.uni` (`pred`) and `.ballot` (`b32`), with or without `.sync`",
}

lines = []
add = lines.append
add("# gpool compatibility")
add("")
add("<!-- Generated by scripts/gen-compat.sh from the built emulator; do not edit by hand. The")
add("     hand-written notes live in that script. -->")
add("")
add("What the gpool emulator (`build/emulator/libcuda.so.1`) runs, and what it refuses. Anything")
add("refused fails loudly: an entry point that is not supported returns `CUDA_ERROR_NOT_SUPPORTED`")
add("and logs `<entry point> is not supported by the gpool emulator backend` once; a PTX instruction")
add("that is not supported fails the module load with `CUDA_ERROR_INVALID_PTX` and a log line naming")
add("the instruction and its PTX line. See [operations.md](operations.md) for how to run programs")
add("and [emulator.md](emulator.md) for what to expect.")
add("")
add("Regenerate with `scripts/gen-compat.sh` after changing an entry point or an opcode; the test")
add("`docs.compatibility_current` fails when the emulator or client-shim column below is out of")
add("date, and when the client shim lacks an entry point the emulator implements (unless the")
add("script's `SHIM_PENDING` list names the work that owes it).")
add("")
add("## Runtime features that are not supported")
add("")
for item in [
    "CUDA arrays, mipmapped arrays, texture and surface objects and the array sides of "
    "`cuMemcpy2D/3D` are implemented (emulator.md; through the pool as calls 430-439). Not "
    "supported: texture and surface references (`cuTexRef*`, `cuSurfRef*`: the CUDA 12+ runtime "
    "no longer uses them and the texture-object path covers the same fetches); "
    "`cuArrayGetPlane` (multi-planar NV12-type formats are not emulated); sparse and "
    "deferred-mapping arrays (so `cuArrayGetMemoryRequirements`, "
    "`cuMipmappedArrayGetMemoryRequirements` and the sparse properties answer the driver's "
    "`CUDA_ERROR_INVALID_VALUE` for every array; calls 460-463 through the pool); "
    "block-compressed resource views; depth, colour-attachment and video arrays, and the "
    "depth-compare operand of `tex`/`tld4` (the driver API has no comparison function); "
    "block-compressed and packed formats. The v1 (32-bit) array entry points are legacy forms "
    "(below).",
    "Graphs: external-semaphore nodes, device-side graph launch and "
    "device-updatable kernel nodes, non-default edge data, `CU_GRAPH_CHILD_GRAPH_OWNERSHIP_MOVE`; "
    "through the pool, a child graph node cloned from a graph holding user objects "
    "(architecture.md, \"Graphs through the pool\": user objects). Graphs and stream "
    "capture otherwise work, memory allocation/free and conditional nodes included (emulator.md, "
    "\"Graphs and stream capture\"); through the pool, copy nodes with a host side run (any size, "
    "1D/2D/3D, in child graphs, with new parameters) except inside conditional bodies "
    "(architecture.md, \"Graphs through the pool\").",
    "Shareable handles of virtual memory (`cuMemExportToShareableHandle`, "
    "`cuMemImportFromShareableHandle`), `cuMemMapArrayAsync` (sparse arrays), and multicast "
    "objects. Virtual memory management itself (`cuMemCreate`, `cuMemMap`, `cuMemSetAccess`, ...) "
    "is implemented; see operations.md.",
    "IPC: memory and event handles, interprocess events; shareable memory-pool handles.",
    "External memory and semaphores, and graphics interop (GL, EGL, VDPAU).",
    "Thread-block clusters of more than one block; green contexts; `cuCtxRecordEvent`/"
    "`cuCtxWaitEvent`; programmatic-launch and launch-completion events. Stream memory "
    "operations (`cuStreamWaitValue*`/`WriteValue*`/`BatchMemOp`) and batch memory-op graph "
    "nodes work on the emulator and through the pool (emulator.md, \"Stream memory "
    "operations\"); through the pool their word must be device memory, not mapped or page-locked "
    "host memory (`CUDA_ERROR_NOT_SUPPORTED`, architecture.md, \"Stream memory operations through "
    "the pool\").",
    "The legacy 32-bit (v1) memory entry points and `cuLaunch`/`cuLaunchGrid` (the `cuParam*` "
    "legacy launch API).",
    "SASS: images must contain PTX (`CUDA_ERROR_NO_BINARY_FOR_GPU` otherwise). This includes JIT "
    "linking: `cuLinkAddData` of a SASS-only cubin or fatbin is refused with "
    "`CUDA_ERROR_NO_BINARY_FOR_GPU` (PTX and fatbin inputs with PTX, relocatable `-rdc=true` code "
    "included, are linked).",
    "JIT link inputs `CU_JIT_INPUT_OBJECT`, `CU_JIT_INPUT_LIBRARY` (host objects, `.a` archives) "
    "and `CU_JIT_INPUT_NVVM` (`CUDA_ERROR_NOT_SUPPORTED`); the JIT options "
    "`CU_JIT_GLOBAL_SYMBOL_NAMES/ADDRESSES/COUNT` (`CUDA_ERROR_NOT_SUPPORTED`); an option number "
    "outside `CUjit_option` (`CUDA_ERROR_INVALID_VALUE`). The JIT options that change behaviour "
    "are honoured (`CU_JIT_MAX_REGISTERS`, `CU_JIT_THREADS_PER_BLOCK`, the info/error log buffers "
    "and sizes, `CU_JIT_LOG_VERBOSE`, `CU_JIT_WALL_TIME`, `CU_JIT_TARGET`); the compile-quality "
    "ones (optimisation level, fallback strategy, cache mode, debug/line info, ...) are accepted "
    "and have no effect on an interpreter. See emulator.md, \"JIT linking and JIT options\".",
    "Dynamic parallelism (CDP2) in part: device-side launches into the block's default stream, "
    "created streams, `cudaStreamFireAndForget` and `cudaStreamTailLaunch`, device-side streams, "
    "events, `cudaMemcpyAsync`/`cudaMemsetAsync` (1D), `cudaMalloc`/`cudaFree`, "
    "`cudaGetLastError`/`cudaPeekAtLastError` and `cudaGetDevice` work (emulator.md, "
    "\"Dynamic parallelism\"); the other device runtime calls (2D/3D copies and sets, "
    "`cudaDeviceGetAttribute`, `cudaFuncGetAttributes`, occupancy, ...) fail the load naming "
    "the `__cudaCDP2*` function, and CDP1 (device-side "
    "`cudaDeviceSynchronize`, removed in CUDA 12) is refused naming it.",
]:
    add(f"- {item}")
add("")
add("## CUDA libraries")
add("")
add("What is known about NVIDIA's math libraries on the emulator; emulator.md, \"CUDA libraries\",")
add("has the details and how each was checked.")
add("")
# cuRAND (libcurand.so.10): examples/curand_host.cu, curand_device.cu, curand_mtgp32.cu.
add("### cuRAND")
add("")
add("The host API runs libcurand's kernels from its `compute_121` PTX, so it needs a")
add("device of compute capability 12.1 or newer (13.0, the default): on an older device every")
add("generation call returns `CURAND_STATUS_LAUNCH_FAILURE` after the module load fails naming the")
add("PTX target. On 12.1/13.0, XORWOW, Philox4_32_10, MRG32k3a, MTGP32, Sobol32/64 and the scrambled")
add("Sobol generators give the host-side generators' values (uniform, normal, log-normal, Poisson,")
add("float and double). Known not to be practical: MT19937 (correct, but its seeding kernel")
add("`mt19937_jump_ahead` takes about two minutes of CPU time); MRG32k3a's seeding takes seconds")
add("per seed. The device API")
add("(`curand_kernel.h`) is compiled into the program and runs on any device.")
add("")
# cuBLAS routines known not to work (owned by the cuBLAS area; emulator.md, "CUDA libraries").
add("### cuBLAS")
add("")
for item in [
    "Integer `cublasGemmEx` (`CUDA_R_8I` inputs, `CUDA_R_32I` output, `CUBLAS_COMPUTE_32I`) returns "
    "`CUBLAS_STATUS_NOT_SUPPORTED` on the 13.0 device: cuBLASLt's fallback choice is an integer "
    "tensor-core kernel shipped only as SASS (`sm_75` to `sm_120`), and the emulator refuses the "
    "image (`module load failed: the image holds only SASS ...`).",
    "On a 12.0 or 12.1 device (`GPOOL_EMU_CC=12.0`/`12.1`) the level-3 routines fail loudly "
    "(`cublasSgemm`, `cublasGemmEx`: `CUBLAS_STATUS_INTERNAL_ERROR`; `cublasStrsm`: "
    "`CUBLAS_STATUS_EXECUTION_FAILED`): cuBLASLt's heuristic, which knows these devices, picks "
    "kernels shipped only as `sm_120` SASS. Level-1 routines work there. On 13.0 (the default) the "
    "same routines run from PTX.",
    "On a device older than 12.0, `cublasCreate` fails (`CUBLAS_STATUS_INTERNAL_ERROR`): "
    "`libcublas.so.13` ships PTX for `compute_120` only.",
]:
    add(f"- {item}")
add("")
# cuBLASLt (libcublasLt.so.13) on the 13.0 device, where its heuristic falls back to its
# forward-compatible algorithms (emulator.md). Each fails with a status, never a wrong result.
add("### cuBLASLt")
add("")
for item in [
    "`cublasLtMatmul` with int8 inputs (`CUBLAS_COMPUTE_32I`) and an s32 D: the heuristic's "
    "algorithm (algoId 20) lives in a fatbin that holds SASS only (sm_75 to sm_120); the load is "
    "refused (`the image holds only SASS`) and `cublasLtMatmul` returns "
    "`CUBLAS_STATUS_NOT_SUPPORTED`.",
    "int8 inputs with an s8 D, `CUBLASLT_EPILOGUE_BGRADA` with A transposed and "
    "`CUBLASLT_EPILOGUE_BGRADB` with B not transposed: `cublasLtMatmulAlgoGetHeuristic` returns "
    "`CUBLAS_STATUS_NOT_SUPPORTED` on a 13.0 device, whose architecture its heuristic does not "
    "know (the other layouts of the two bias-gradient epilogues run; whether a GPU's heuristic "
    "accepts these was not checked).",
    "fp8 inputs were not tried.",
]:
    add(f"- {item}")
# ---- CUDA library routines known not to work (owner of these two paragraphs: cuSPARSE/cuSOLVER) ----
add("### cuSPARSE and cuSOLVER")
add("")
add("Measured by loading every PTX image of `libcusparse.so.12` and `libcusolver.so.12` through the")
add("interpreter, and by running the routines (emulator.md, \"CUDA libraries\"). cuSPARSE needs a")
add("device of compute capability 12.0 or newer, cuSOLVER 12.1 or newer (the default 13.0 serves")
add("both): their own kernels are `compute_120` and `compute_121` PTX respectively.")
add("")
add("**cuSPARSE.** `cusparseSpMMOp` (with `cusparseSpMMOp_createPlan`) cannot run: its kernels")
add("(`csrmm_op_kernel`, `spmm_op_fixup_kernel`, 132 of the library's 273 images) call the")
add("user's `add_op`/`mul_op`, which the library links in at run time from LTO IR through nvJitLink,")
add("and the emulator does not take LTO IR. Every other image loads; SpMV, SpMM, SpGEMM and SpSV on")
add("CSR are tested (`examples/cusparse_spmv_spmm.cu`, `examples/cusparse_spgemm_spsv.cu`).")
add("")
add("**cuSOLVER.** Every image of the library loads (the `hseqr` kernels that `cusolverDnXgeev`")
add("uses for larger matrices read `%reserved_smem_offset_1`, now emulated; geev at n = 300 was")
add("seen correct in a probe, not in a test). getrf/getrs, potrf/potrs and syevd are tested")
add("(`examples/cusolver_dense.cu`). On a 12.0")
add("device cuSOLVER's kernels cannot load and its routines return success with wrong results (the")
add("log shows `module load failed`): use 12.1 or newer.")
add("")
add("## PTX instructions")
add("")
add("The opcodes below are the ones the executor registers (listed by `gpool-ptx-ops`, from the")
add("same tables the loader uses). A registered opcode may still refuse a type or modifier; the")
add("load then fails naming the full instruction (e.g.")
add("`unsupported instruction 'mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32' in <kernel> at PTX line N`).")
add("`call` is handled by the lowering pass itself: direct calls to device functions (inlined),")
add("recursive calls and indirect calls through function pointers (real calls with a per-thread")
add("call stack), `vprintf` (device `printf`), `__assertfail` (device `assert`), `malloc`/`free`")
add("(the context's device heap, `CU_LIMIT_MALLOC_HEAP_SIZE`) and the CDP2 device runtime calls")
add("nvcc emits for device-side launches: `__cudaCDP2GetParameterBufferV2`, `__cudaCDP2LaunchDeviceV2`,")
add("`__cudaCDP2StreamCreateWithFlags`, `__cudaCDP2StreamDestroy`, `__cudaCDP2EventCreateWithFlags`,")
add("`__cudaCDP2EventRecord`, `__cudaCDP2EventRecordWithFlags`, `__cudaCDP2StreamWaitEvent`,")
add("`__cudaCDP2EventDestroy`, `__cudaCDP2MemcpyAsync`, `__cudaCDP2MemsetAsync`, `__cudaCDP2Malloc`,")
add("`__cudaCDP2Free`, `__cudaCDP2GetLastError`,")
add("`__cudaCDP2PeekAtLastError` and `__cudaCDP2GetDevice`, and the `_ptsz` forms of the launch and")
add("event calls (emulator.md, \"Dynamic parallelism\").")
add("")
add("| opcode | family | coverage |")
add("| --- | --- | --- |")
unknown_notes = sorted(set(NOTES) - set(ops))
if unknown_notes:
    sys.exit("gen-compat: notes for opcodes that are not registered: " + ", ".join(unknown_notes))
float_unary = []
for op, fams in ops.items():
    note = NOTES.get(op)
    if note is None:
        note = "see emulator/exec/src"
        if fams == "float":
            note = "approximate/IEEE float function; see float_misc.cc for the accepted forms"
    add(f"| `{op}` | {fams} | {note} |")
add("")
add("Special registers: `%tid`, `%ntid`, `%ctaid`, `%nctaid`, `%laneid`, `%warpid`, `%nwarpid`,")
add("`%lanemask_*`, `%dynamic_smem_size`, `%total_smem_size`, `%gridid`, `%clock`, `%clock_hi`,")
add("`%clock64`, `%globaltimer`, `%globaltimer_lo/hi` (host clocks), `%reserved_smem_offset_begin/end/cap/0/1`")
add("(1 KiB of zeroed shared memory after the kernel's variables, emulator.md), `%envreg1/2` (the")
add("cooperative-launch grid barrier), and the predefined constant `WARP_SZ` (32). Approximated:")
add("`%smid` is always 0 and `%nsmid` 1; `%pm*` and other `%envreg*` read 0; cluster registers")
add("describe a cluster of one block.")
add("")
add("### Not supported")
add("")
add("These fail the load (or launch) with a message naming them:")
add("")
for item in [
    "texture forms beyond texture objects: texture references (`.texref` names, "
    "`[tex, sampler, {...}]`), the depth-compare operand (no driver API makes a depth texture "
    "object), multisample geometries, `.f16x2` results; surface reductions `sured`;",
    "matrix instructions beyond those above: `wgmma.*`, `tcgen05.*`, sub-byte/`b1` `mma` forms, "
    "fp8/sub-byte/`b1` `wmma` forms;",
    "tensor-map bulk copies (TMA): `cp.async.bulk.tensor*`, multicast bulk copies, "
    "`cp.reduce.async.bulk*`, `setmaxnreg`;",
    "thread-block clusters beyond one block: `mapa`, `barrier.cluster`, distributed shared memory;",
    "calls to external functions other than `vprintf`, `__assertfail`, `malloc`, `free` and the "
    "CDP2 calls above (`unsupported call to external function '...'`, or `unsupported call to "
    "device runtime function '__cudaCDP2...'`; an `extern` device function defined in another "
    "unit of the same image or link is resolved by the linker first);",
    "`alloca` (`alloca`/`stacksave`/`stackrestore`), `istypep`, `tensormap.*`, video instructions "
    "other than `vshl`/`vshr` (`vadd`, `vmad`, ...), and video selectors (`a.b0`) and data merges;",
]:
    add(f"- {item}")
add("")
add("## Driver entry points")
add("")
add("Every symbol of the CUDA 13 driver is exported; the table says what each does on the emulator"
    + (" and on the network client shim (`build/client-shim/libcuda.so.1`); the test"
       " `docs.compatibility_current` checks both columns." if shim is not None else "."))
add("")

# ---- NVML ---------------------------------------------------------------------------------------
# What each implemented NVML entry point answers (nvml-shim/src/*.cc). Every exported name that is
# not in nvml-shim/src/unsupported.cc's list must have a note here, and every note must name an
# export, so the section cannot drift from the library.
NVML_NOTES = {
    "nvmlInit": "reference counted; reads GPOOL_SERVER/GPOOL_TOKEN/GPOOL_CONFIG and asks each server's status (status-only Hello: no session). No server: `NVML_ERROR_DRIVER_NOT_LOADED`; refused token: `NVML_ERROR_NO_PERMISSION`",
    "nvmlInit_v2": "as `nvmlInit`",
    "nvmlInitWithFlags": "as `nvmlInit`; `NO_GPUS`/`NO_ATTACH` accepted (nothing is attached anyway), other flags `INVALID_ARGUMENT`",
    "nvmlShutdown": "drops one reference; the last one forgets the devices (later calls: `UNINITIALIZED`)",
    "nvmlErrorString": "NVML's text for every code",
    "nvmlSystemGetDriverVersion": "`gpool-<server version>` (there is no NVIDIA driver version on a pool)",
    "nvmlSystemGetNVMLVersion": "`<CUDA major>.<minor>.gpool-<server version>`",
    "nvmlSystemGetCudaDriverVersion": "the first server's backend `cuDriverGetVersion`",
    "nvmlSystemGetCudaDriverVersion_v2": "as above",
    "nvmlSystemGetProcessName": "the program (executable path from its Hello) of the tenant's session with that client pid; `NOT_FOUND` otherwise",
    "nvmlDeviceGetCount": "the tenant's devices on every listed server (server 0's first, as the CUDA shim's full list; `CUDA_VISIBLE_DEVICES` is not applied, as NVIDIA's NVML does not)",
    "nvmlDeviceGetCount_v2": "as above",
    "nvmlDeviceGetHandleByIndex": "index into that list; past the end `INVALID_ARGUMENT`",
    "nvmlDeviceGetHandleByIndex_v2": "as above",
    "nvmlDeviceGetHandleByUUID": "`GPU-...` UUID as the CUDA shim reports it (case-insensitive); unknown `NOT_FOUND`",
    "nvmlDeviceGetHandleByPciBusId": "`domain:bus:device.function` (4- or 8-digit domain) or `bus:device.function`; unknown `NOT_FOUND`, malformed `INVALID_ARGUMENT`",
    "nvmlDeviceGetHandleByPciBusId_v2": "as above",
    "nvmlDeviceGetIndex": "the handle's index",
    "nvmlDeviceGetName": "the server's `cuDeviceGetName`",
    "nvmlDeviceGetUUID": "the server's `cuDeviceGetUuid`, `GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`",
    "nvmlDeviceGetPciInfo": "the first version of the struct (bus id in the legacy form)",
    "nvmlDeviceGetPciInfo_v2": "as `_v3`",
    "nvmlDeviceGetPciInfo_v3": "domain, bus and device from the server's CUDA attributes, both bus-id strings; `pciDeviceId`/`pciSubSystemId` 0 (the driver API has none)",
    "nvmlDeviceGetCudaComputeCapability": "the server's compute capability",
    "nvmlDeviceGetMemoryInfo": "the tenant's view, asked of the server at each call: total = min(quota, device memory), used = bytes the tenant holds there (all its sessions), free = total - used",
    "nvmlDeviceGetMemoryInfo_v2": "as above, `reserved` 0; a `version` other than `nvmlMemory_v2` is `ARGUMENT_VERSION_MISMATCH`",
    "nvmlDeviceGetUtilizationRates": "`gpu`: busy share of the server's last one-second sample of metered device time (server `scheduler = true`); `memory` 0. Without the scheduler (or in the server's first second) `NOT_SUPPORTED`",
    "nvmlDeviceGetTemperature": "`NOT_SUPPORTED`: the server reports no temperature",
    "nvmlDeviceGetPowerUsage": "`NOT_SUPPORTED`: the server reports no power draw",
    "nvmlDeviceGetComputeMode": "`NVML_COMPUTEMODE_DEFAULT` (tenants share devices)",
    "nvmlDeviceGetComputeRunningProcesses": "the tenant's sessions on the device: client pid (on the client's host) and the bytes the session holds there; a session holding nothing is listed on its server's device 0. Count query and `INSUFFICIENT_SIZE` as NVML",
    "nvmlDeviceGetComputeRunningProcesses_v2": "as above, MIG ids `0xFFFFFFFF`",
    "nvmlDeviceGetComputeRunningProcesses_v3": "as above",
    "nvmlDeviceGetGraphicsRunningProcesses": "none (a pool runs compute sessions only)",
    "nvmlDeviceGetGraphicsRunningProcesses_v2": "none",
    "nvmlDeviceGetGraphicsRunningProcesses_v3": "none",
}
nvml_path = os.path.join(work, "nvml.txt")
nvml_section = ""
if os.path.exists(nvml_path):
    exported = [l.strip() for l in open(nvml_path) if l.strip()]
    src = open(os.path.join(root, "nvml-shim", "src", "unsupported.cc")).read()
    unsupported = sorted(set(re.findall(r"X\((nvml[A-Za-z0-9_]+)\)", src)) & set(exported))
    implemented = sorted(set(exported) - set(unsupported))
    missing = [n for n in implemented if n not in NVML_NOTES]
    stale = [n for n in NVML_NOTES if n not in exported]
    if missing or stale:
        sys.exit("gen-compat: NVML notes out of date: no note for " + ", ".join(missing)
                 + "; notes for names not exported: " + ", ".join(stale))
    nl = ["", "## NVML (`libnvidia-ml.so.1`)", "",
          "gpool's NVML (`build/client-shim/libnvidia-ml.so.1`, beside the CUDA shim; see",
          "[operations.md](operations.md#nvml-and-gpool-smi)) answers from the pool: the devices, memory",
          "quota and sessions of the tenant whose token it is given. Implemented:", "",
          "| entry point | answers |", "| --- | --- |"]
    nl += [f"| `{n}` | {NVML_NOTES[n]} |" for n in implemented]
    nl += ["", f"Exported but not supported ({len(unsupported)}; each returns `NVML_ERROR_NOT_SUPPORTED` and "
           "logs `<name> is not supported by gpool's NVML` once): "
           + ", ".join(f"`{n}`" for n in unsupported) + ".", ""]
    nvml_section = "\n".join(nl)

text = "\n".join(lines) + "\n" + section + nvml_section
with open(out_path, "w") as f:
    f.write(text)
print(f"wrote {out_path}: {len(emu)} entry points, {len(ops)} PTX opcodes")
PY
