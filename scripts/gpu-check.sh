#!/usr/bin/env bash
# The one prepared check for a machine with a real GPU (issue 15).
#
#   scripts/gpu-check.sh [--short] [--build-dir DIR] [--no-build]
#
# Seven steps, each timed, each written into one Markdown report:
#   1. build     the release flavour into DIR (default build/), GPOOL_BUILD_JOBS jobs (default:
#                the core count); a carried DIR is reused. --no-build: use DIR as it is.
#   2. device    GPU name, driver version and MIG mode (nvidia-smi). Without a GPU the script
#                refuses, unless GPOOL_GPU_CHECK_DRIVER=<path> names a stand-in libcuda.so.1
#                (the emulator's: build/emulator/libcuda.so.1, which is how CI runs it).
#   3. examples  every example (ctest -L integration) directly on the driver under test
#                (GPOOL_TEST_DRIVER_DIR), except the emulator-only ones.
#   4. differential  the differential suite on the real driver, the emulator and the pool
#                (shim -> gpool-server -> emulator); compare.py lists every difference.
#   5. pool      the remote suite (ctest -L remote: the examples and the probes through the
#                client shim) with gpool-server started with `--backend <driver>`
#                (GPOOL_TEST_BACKEND).
#   6. benches   bench/remote/run.py and bench/pool/run.py (with the fairness benchmark under
#                event metering), in their short modes, on the driver: forwarded vs direct,
#                null sync vs raw TCP, copies vs raw TCP and vs direct, warm attach vs a cold
#                context creation.
#   7. report    $OUT/gpu-check-report.md ($OUT, else a new temporary directory), logs beside
#                it in $OUT/gpu-check-logs/, and a short summary on stdout.
# --short (CI): a few examples and remote tests instead of all; every step still runs.
# Exit code: 0 when every step passed, 1 when one failed (the report says which), 2 when the
# machine has no GPU and no stand-in was named, or on a usage error.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
build="$root/build"
short=0
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --short) short=1 ;;
    --no-build) do_build=0 ;;
    --build-dir) build="$(realpath -m "$2")"; shift ;;
    --build-dir=*) build="$(realpath -m "${1#*=}")" ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

out="${OUT:-}"
[ -n "$out" ] || out="$(mktemp -d /tmp/gpool-gpu-check.XXXXXX)"
mkdir -p "$out/gpu-check-logs"
out="$(cd "$out" && pwd)"
logs="$out/gpu-check-logs"
report="$out/gpu-check-report.md"
work="$(mktemp -d /tmp/gpool-gpu-check-work.XXXXXX)"
trap 'rm -rf "$work"' EXIT
jobs="${GPOOL_BUILD_JOBS:-$(nproc)}"
mode="full"
[ "$short" = 1 ] && mode="short"

# Emulator-only tests: they set the emulator's own knobs (GPOOL_EMU_*) or expect its refusals.
examples_exclude='_cc75|_on_cc75|integration\.unsupported$'
remote_exclude='remote\.shim\.two_devices$|remote\.sched\.device1$'   # need GPOOL_EMU_DEVICES=2
examples_select='.'
remote_select='.'
if [ "$short" = 1 ]; then
  examples_select='^integration\.(vector_add|driver_api|streams_events)$'
  remote_select='^remote\.(vector_add|driver_api|forged_handles|vmm)$'
fi

# --- bookkeeping: each step's status and duration, and the report's sections -------------------
declare -a step_names step_status step_secs
section() {  # section TITLE: starts a report section (kept in $work until the end)
  printf '\n## %s\n\n' "$1" >> "$work/body.md"
}
say() { printf '%s\n' "$*" >> "$work/body.md"; }
fenced() {  # fenced FILE [LINES]: the last LINES (default all) of FILE in a code block
  say '```'
  if [ -n "${2:-}" ]; then tail -n "$2" "$1" >> "$work/body.md"; else cat "$1" >> "$work/body.md"; fi
  say '```'
}
run_step() {  # run_step NAME FUNCTION: runs it, records PASS/FAIL and the seconds it took
  local name="$1" fn="$2" t0 rc
  t0=$(date +%s.%N)
  echo "gpu-check: step $name ..."
  "$fn"
  rc=$?
  local secs
  secs=$(python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$t0" "$(date +%s.%N)")
  step_names+=("$name")
  step_secs+=("$secs")
  if [ $rc -eq 0 ]; then step_status+=("PASS"); else step_status+=("FAIL"); fi
  echo "gpu-check: step $name: ${step_status[-1]} in ${secs} s"
  return $rc
}
ctest_table() {  # ctest_table LOG: a Markdown table of the test results in a ctest log
  python3 - "$1" >> "$work/body.md" <<'EOF'
import re, sys
rows = re.findall(r"Test\s+#\d+: (\S+)\s*\.*\s*\**(Passed|Failed|Not Run|Skipped|Timeout|Exception)[^\n]*?([\d.]+) sec",
                  open(sys.argv[1]).read())
print("| test | result | seconds |\n| --- | --- | --- |")
for name, result, secs in rows:
    print(f"| {name} | {result} | {secs} |")
print(f"\n{sum(1 for r in rows if r[1] == 'Passed')} of {len(rows)} passed.")
EOF
}

# --- 1. build ---------------------------------------------------------------------------------
step_build() {
  section "1. Build"
  if [ "$do_build" = 0 ]; then
    say "Not rebuilt (--no-build): reusing $build."
  else
    # A build directory carried from another checkout names another source directory: reconfigure.
    if [ -f "$build/CMakeCache.txt" ] && ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$root" "$build/CMakeCache.txt"; then
      say "The carried $build was configured for another source directory; reconfigured."
      rm -rf "$build/CMakeCache.txt" "$build/CMakeFiles"
    fi
    say "Release flavour into $build with $jobs jobs (no ASan)."
    if ! { cmake -S "$root" -B "$build" -G Ninja && cmake --build "$build" -j "$jobs"; } > "$logs/build.log" 2>&1; then
      say "The build failed:"
      fenced "$logs/build.log" 40
      return 1
    fi
  fi
  local missing=0
  for f in server/gpool-server client-shim/libcuda.so.1 emulator/libcuda.so.1 tools/gpool \
           tests/differential/gpool-differential bench/remote/gpool-bench-remote bench/pool/gpool-bench-attach \
           tests/remote/gpool-remote-probe; do
    if [ ! -e "$build/$f" ]; then say "- missing: $build/$f"; missing=1; fi
  done
  [ $missing = 0 ] && say "Every program the check needs is built."
  return $missing
}

# --- 2. device --------------------------------------------------------------------------------
driver=""
step_device() {
  section "2. Device"
  local smi=""
  if command -v nvidia-smi >/dev/null 2>&1; then
    smi="$(nvidia-smi --query-gpu=index,name,driver_version,mig.mode.current,memory.total --format=csv 2>&1)" || smi=""
  fi
  if [ -n "$smi" ]; then
    say "nvidia-smi:"
    say '```'
    say "$smi"
    say '```'
  else
    say "nvidia-smi: not available or no GPU."
  fi
  if [ -n "${GPOOL_GPU_CHECK_DRIVER:-}" ]; then
    driver="$(realpath "$GPOOL_GPU_CHECK_DRIVER" 2>/dev/null)"
    if [ ! -f "$driver" ]; then
      say "GPOOL_GPU_CHECK_DRIVER=$GPOOL_GPU_CHECK_DRIVER does not name a file."
      return 1
    fi
    say "Driver under test: **$driver** (a stand-in named by GPOOL_GPU_CHECK_DRIVER)."
  elif [ -n "$smi" ]; then
    driver="$(ldconfig -p | awk '/libcuda\.so\.1 / {print $NF; exit}')"
    driver="$(realpath "$driver" 2>/dev/null)"
    if [ ! -f "$driver" ]; then
      say "nvidia-smi sees a GPU but ldconfig knows no libcuda.so.1."
      return 1
    fi
    say "Driver under test: **$driver** (the system's libcuda.so.1)."
  else
    say "No GPU and no stand-in: refused. Set GPOOL_GPU_CHECK_DRIVER=<path of a libcuda.so.1>."
    return 2
  fi
  # Everything below finds the driver as "libcuda.so.1" in this directory.
  mkdir -p "$work/driver"
  ln -sf "$driver" "$work/driver/libcuda.so.1"
  say "Cores: $(nproc); mode: $mode; date: $(date -u '+%Y-%m-%d %H:%M UTC'); commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)."
  return 0
}

# --- 3. examples directly on the driver -------------------------------------------------------
step_examples() {
  section "3. Examples directly on the driver"
  say "ctest -L integration -R '$examples_select' -E '$examples_exclude', with GPOOL_TEST_DRIVER_DIR (run_example.py's judgement: exit 0, a PASS line, no FAIL line)."
  say ""
  GPOOL_TEST_DRIVER_DIR="$work/driver" ctest --test-dir "$build" -L integration -R "$examples_select" \
    -E "$examples_exclude" -j "$jobs" --output-on-failure --timeout 300 > "$logs/examples.log" 2>&1
  local rc=$?
  ctest_table "$logs/examples.log"
  return $rc
}

# --- 4. differential suite --------------------------------------------------------------------
step_differential() {
  section "4. Differential suite (real driver, emulator, pool)"
  local rc=0 b
  for b in real emulator pool; do
    local drv=()
    [ "$b" = real ] && drv=(--driver "$work/driver/libcuda.so.1")
    python3 "$root/tests/differential/run_backend.py" --backend "$b" --build-dir "$build" "${drv[@]}" \
      --record "$logs/differential-$b.jsonl" --timeout 300 -- "$build/tests/differential/gpool-differential" \
      > "$logs/differential-$b.log" 2>&1
    local brc=$?
    local summary
    summary="$(grep -E '^\[  (PASSED|FAILED|SKIPPED) *\] [0-9]+ tests?' "$logs/differential-$b.log" | tr '\n' ' ')"
    say "- **$b**: exit $brc. ${summary}"
    grep -E '^\[  (FAILED  |SKIPPED )\] [A-Za-z]+\.' "$logs/differential-$b.log" | sed 's/ ([0-9]* ms)$//' | sort -u \
      | sed 's/^/  - /' >> "$work/body.md"
    [ $brc -ne 0 ] && rc=1
  done
  local pair
  for pair in "real emulator" "real pool" "emulator pool"; do
    set -- $pair
    say ""
    say "### $1 vs $2"
    say ""
    python3 "$root/tests/differential/compare.py" --markdown "$logs/differential-$1.jsonl" \
      "$logs/differential-$2.jsonl" >> "$work/body.md" 2>&1
    local crc=$?
    [ $crc -eq 2 ] && rc=1   # a log could not be read; differences themselves are findings
  done
  return $rc
}

# --- 5. the remote suite through gpool-server on the driver -----------------------------------
step_pool() {
  section "5. Through gpool-server with backend = the driver"
  say "ctest -L remote -R '$remote_select' -E '$remote_exclude', with GPOOL_TEST_BACKEND=$driver (each server gets \`--backend\`)."
  say ""
  GPOOL_TEST_BACKEND="$work/driver/libcuda.so.1" ctest --test-dir "$build" -L remote -R "$remote_select" \
    -E "$remote_exclude" -j "$jobs" --output-on-failure --timeout 300 > "$logs/remote.log" 2>&1
  local rc=$?
  ctest_table "$logs/remote.log"
  return $rc
}

# --- 6. benchmarks ----------------------------------------------------------------------------
step_benches() {
  section "6. Benchmarks (short modes, this machine, one run)"
  local rc=0
  say "### bench/remote/run.py --short"
  say ""
  say "Null sync against raw loopback TCP, copies against raw TCP and against direct copies on the driver, examples forwarded against direct."
  say ""
  if python3 "$root/bench/remote/run.py" --build "$build" --driver "$work/driver/libcuda.so.1" --short \
       > "$logs/bench-remote.md" 2> "$logs/bench-remote.err"; then
    cat "$logs/bench-remote.md" >> "$work/body.md"
  else
    say "bench/remote/run.py failed:"; fenced "$logs/bench-remote.err" 30; rc=1
  fi
  say ""
  say "### bench/pool/run.py --short (attach, and fairness under event metering)"
  say ""
  if python3 "$root/bench/pool/run.py" --build "$build" --driver "$work/driver/libcuda.so.1" --short \
       > "$logs/bench-pool.md" 2> "$logs/bench-pool.err"; then
    cat "$logs/bench-pool.md" >> "$work/body.md"
  else
    say "bench/pool/run.py failed:"; fenced "$logs/bench-pool.err" 30; rc=1
  fi
  return $rc
}

# --- run ----------------------------------------------------------------------------------------
: > "$work/body.md"
start=$(date +%s)
if run_step build step_build; then
  run_step device step_device
  dev_rc=$?
  if [ $dev_rc -eq 0 ]; then
    run_step examples step_examples
    run_step differential step_differential
    run_step pool step_pool
    run_step benches step_benches
  fi
fi
dev_rc=${dev_rc:-1}

# --- 7. report ----------------------------------------------------------------------------------
total=$(( $(date +%s) - start ))
{
  echo "# gpool GPU check"
  echo
  echo "scripts/gpu-check.sh ($mode mode), $(date -u '+%Y-%m-%d %H:%M UTC'), host $(hostname), driver ${driver:-none}."
  echo
  echo "## Summary"
  echo
  echo "| step | result | seconds |"
  echo "| --- | --- | --- |"
  for i in "${!step_names[@]}"; do
    echo "| ${step_names[$i]} | ${step_status[$i]} | ${step_secs[$i]} |"
  done
  echo "| total | | $total |"
  cat "$work/body.md"
} > "$report"

echo
echo "gpool GPU check ($mode mode): report $report"
for i in "${!step_names[@]}"; do
  printf '  %-13s %-5s %6s s\n' "${step_names[$i]}" "${step_status[$i]}" "${step_secs[$i]}"
done
grep -hE "^[0-9]+ differences between" "$report" | sed 's/^/  differential: /'
grep -hE "ratio to the process baseline|warm attach / cold context" "$report" | sed 's/^/  /' | cut -c1-160
echo "  total ${total} s"
if [ "$dev_rc" = 2 ]; then
  echo "gpu-check: no GPU on this machine; set GPOOL_GPU_CHECK_DRIVER=<libcuda.so.1> to use a stand-in" >&2
  exit 2
fi
for s in "${step_status[@]}"; do [ "$s" = PASS ] || exit 1; done
[ "${#step_names[@]}" -eq 6 ] || exit 1
exit 0
