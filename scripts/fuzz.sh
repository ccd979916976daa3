#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/, clang-16) in build-fuzz/ and runs each for a bounded
# time on its committed seed corpus (fuzz/corpus/<target>/, never modified: new inputs go to a
# scratch directory). Prints one line per target with its executions; a crash fails the run,
# and its input is kept in build-fuzz/artifacts/ (turn it into a regression test named after
# what it found, fuzz/README.md).
#   usage: scripts/fuzz.sh [TARGET...]
#   Each target runs a fixed number of inputs from a fixed seed, so a CI run repeats exactly
#   the inputs that passed when the count was chosen (a slower machine cannot reach inputs a
#   faster one never tried): GPOOL_FUZZ_RUNS overrides every target's count (the defaults below
#   take about 10-20 s each on a 2-core machine), GPOOL_FUZZ_SEED (default 1; 0 = random, for
#   exploring by hand), GPOOL_FUZZ_SECONDS caps each target's time (default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${GPOOL_FUZZ_SECONDS:-120}"
declare -A default_runs=([fuzz_frame]=400000 [fuzz_call]=600000 [fuzz_hello]=300000
                       [fuzz_ptx]=20000 [fuzz_loader]=80000 [fuzz_config]=12000
                       [fuzz_image_globals]=100000)
jobs="${GPOOL_BUILD_JOBS:-$(nproc)}"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_frame fuzz_call fuzz_hello fuzz_ptx fuzz_loader fuzz_config fuzz_image_globals)
cmake -S . -B build-fuzz -G Ninja -DGPOOL_FUZZ=ON -DGPOOL_BUILD_EXAMPLES=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang-16 -DCMAKE_CXX_COMPILER=clang++-16 >/dev/null
cmake --build build-fuzz -j "$jobs" --target "${targets[@]}"
mkdir -p build-fuzz/artifacts
status=0
for t in "${targets[@]}"; do
  scratch="$(mktemp -d)"
  log="build-fuzz/artifacts/$t.log"
  if ASAN_OPTIONS=detect_leaks=1 build-fuzz/fuzz/"$t" -runs="${GPOOL_FUZZ_RUNS:-${default_runs[$t]:-100000}}" -max_total_time="$seconds" -seed="${GPOOL_FUZZ_SEED:-1}" -timeout=10 \
       -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="build-fuzz/artifacts/$t-" \
       "$scratch" "fuzz/corpus/${t#fuzz_}" >"$log" 2>&1; then
    runs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')"
    echo "fuzz: $t ok: $runs executions ($(ls "fuzz/corpus/${t#fuzz_}" | wc -l) seeds)"
  else
    echo "fuzz: $t FAILED; the last lines of $log:"
    tail -n 30 "$log"
    status=1
  fi
  rm -rf "$scratch"
done
exit $status
