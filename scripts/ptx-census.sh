#!/usr/bin/env bash
# PTX coverage census of NVIDIA's math libraries: which instruction forms of the PTX they embed
# the emulator refuses, per library and per image. Not run in CI: it reads ~1.3 GB of libraries
# (about 1 GB of PTX) on one core and takes about 5 minutes on the shared 2-core development
# machine (cuBLAS 20-35 s, cuBLASLt 90 s, cuFFT 95 s, cuSPARSE 55 s, cuSOLVER 30 s, cuRAND 4 s).
#
#   scripts/ptx-census.sh [--update-docs] [--reuse] [BUILD_DIR]
#
# BUILD_DIR (default: build) must hold emulator/exec/gpool-ptx-census (`cmake --build build
# --target gpool-ptx-census`). Each library under CUDA_LIB (default /usr/local/cuda/lib64) is
# streamed through the tool (emulator/exec/tools/ptx_census.cc: it walks every fatbin container,
# takes the PTX the default 13.0 device would JIT, parses and lowers it with the runtime's own
# parser and lowering, and removes each refused form to find the next). Results go to WORK
# (default /tmp/ptxtables/census): LIB.tsv (the tool's records), images.md (every image that is
# not fully supported, with its refused forms and counts), forms.md (how many instructions of each
# form of the tensor, async-copy, warp and atomic families each library holds) and summary.md (per
# library, then per refused form). Refused images' PTX is kept in WORK/ptx for inspection.
# --update-docs replaces the text between the census markers of docs/emulator.md with summary.md;
# --reuse skips the run and summarises the LIB.tsv files already in WORK.
# Exit status: 0, 2 on a usage error or a missing tool.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
update=0
reuse=0
while [ $# -gt 0 ]; do
  case "$1" in
    --update-docs) update=1; shift ;;
    --reuse) reuse=1; shift ;;
    -*) echo "usage: $0 [--update-docs] [--reuse] [BUILD_DIR]" >&2; exit 2 ;;
    *) break ;;
  esac
done
build="${1:-$root/build}"
tool="$build/emulator/exec/gpool-ptx-census"
[ "$reuse" = 1 ] || [ -x "$tool" ] || { echo "ptx-census: no $tool; build the gpool-ptx-census target first" >&2; exit 2; }
libdir="${CUDA_LIB:-/usr/local/cuda/lib64}"
work="${WORK:-/tmp/ptxtables/census}"
mkdir -p "$work/ptx"
libs=(libcublas.so.13 libcublasLt.so.13 libcufft.so.12 libcurand.so.10 libcusparse.so.12 libcusolver.so.12)

for lib in "${libs[@]}"; do
  [ "$reuse" = 1 ] && break
  [ -f "$libdir/$lib" ] || { echo "ptx-census: $libdir/$lib not found, skipped" >&2; continue; }
  start=$(date +%s)
  "$tool" --dump "$work/ptx" "$libdir/$lib" >"$work/$lib.tsv"
  echo "$lib: $(( $(date +%s) - start )) s" >&2
done

python3 - "$work" "${libs[@]}" <<'EOF'
import collections, os, sys
work, libs = sys.argv[1], sys.argv[2:]
images, forms = {}, collections.defaultdict(lambda: [0, 0, ""])  # (lib, form) -> images, count, why
per_image = collections.defaultdict(list)
uses = collections.defaultdict(dict)  # (opcode, form) -> {lib: instructions}
for lib in libs:
    path = os.path.join(work, lib + ".tsv")
    if not os.path.exists(path):
        continue
    st = images.setdefault(lib, collections.Counter())
    for line in open(path):
        f = line.rstrip("\n").split("\t")
        kind, where = f[0], (lib, int(f[2]), int(f[3]))
        if kind == "image":
            st["images"] += 1
            st["bytes"] += int(f[4])
            st["kernels"] += int(f[5])
            st["instructions"] += int(f[6])
            st[f[7]] += 1
        elif kind == "use":
            u = uses[(f[4].split(".")[0], f[4])]
            u[lib] = u.get(lib, 0) + int(f[5])
        else:
            key = (lib, ("unparsed " if kind == "parse" else "") + f[4] if kind != "other" else "(other) " + f[6][:80])
            forms[key][0] += 1
            forms[key][1] += int(f[5])
            forms[key][2] = forms[key][2] or f[6]
            per_image[where].append((key[1], int(f[5])))

out = []
out.append("| library | PTX images | PTX MB | kernels | instructions | fully supported | refused | incomplete |")
out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
for lib in libs:
    st = images.get(lib)
    if st is None:
        continue
    out.append(f"| `{lib}` | {st['images']} | {st['bytes'] / 1e6:.0f} | {st['kernels']} | {st['instructions']} | "
               f"{st['ok']} | {st['refused']} | {st['incomplete']} |")
out.append("")
if forms:
    out.append("| library | refused or unparsed form | images | instructions | message |")
    out.append("| --- | --- | ---: | ---: | --- |")
    for (lib, form), (n_img, n, why) in sorted(forms.items(), key=lambda kv: (kv[0][0], -kv[1][0], kv[0][1])):
        out.append(f"| `{lib}` | `{form}` | {n_img} | {n} | {why.replace('|', '/')} |")
else:
    out.append("No image of these libraries holds a form the emulator refuses.")
short = {lib: lib.split(".")[0].replace("lib", "") for lib in libs}
forms_md = ["| form | " + " | ".join(short[l] for l in libs) + " |", "| --- |" + " ---: |" * len(libs)]
for (_, form) in sorted(uses):
    forms_md.append(f"| `{form}` | " + " | ".join(str(uses[(_, form)].get(l, "")) for l in libs) + " |")
open(os.path.join(work, "forms.md"), "w").write("\n".join(forms_md) + "\n")
# The tensor-core, async-copy and warp-reduction forms the libraries use (every one has a row in
# the executor's table-driven tests): instructions per library.
docs_families = ("mma", "wmma", "ldmatrix", "stmatrix", "cp", "redux", "prmt", "griddepcontrol", "mbarrier")
out.append("")
out.append("Tensor-core, asynchronous-copy, `redux` and `prmt` forms in these images (instructions):")
out.append("")
out.append(forms_md[0])
out.append(forms_md[1])
for (op, form) in sorted(uses):
    if op in docs_families:
        out.append(f"| `{form}` | " + " | ".join(str(uses[(op, form)].get(l, "")) for l in libs) + " |")
summary = "\n".join(out) + "\n"
open(os.path.join(work, "summary.md"), "w").write(summary)
detail = ["| library | container offset | arch | refused forms (instructions) |", "| --- | ---: | ---: | --- |"]
for (lib, off, arch), items in sorted(per_image.items()):
    detail.append(f"| `{lib}` | {off} | {arch} | " + ", ".join(f"`{k}` ({n})" for k, n in items) + " |")
open(os.path.join(work, "images.md"), "w").write("\n".join(detail) + "\n")
sys.stdout.write(summary)
EOF

if [ "$update" = 1 ]; then
  doc="$root/docs/emulator.md"
  begin='<!-- BEGIN census: generated by scripts/ptx-census.sh --update-docs -->'
  end='<!-- END census -->'
  grep -qF -- "$begin" "$doc" && grep -qF -- "$end" "$doc" ||
    { echo "ptx-census: $doc lacks the BEGIN/END census markers" >&2; exit 2; }
  fresh="$(mktemp)"
  awk -v b="$begin" -v e="$end" -v t="$work/summary.md" '
    $0 == b { print; print ""; while ((getline line < t) > 0) print line; print ""; skip = 1; next }
    $0 == e { skip = 0 }
    !skip { print }' "$doc" >"$fresh"
  mv "$fresh" "$doc"
  echo "ptx-census: updated $doc" >&2
fi
