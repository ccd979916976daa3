#!/usr/bin/env bash
# The test command: installs dependencies, builds the release and the
# sanitizer flavours, and runs every test in both; then builds the fuzz targets (build-fuzz/,
# clang-16) and runs each for a bounded time on its seed corpus (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
status=0
for flavour in release asan; do
  dir=build; [ "$flavour" = asan ] && dir=build-asan
  echo "=== gpool tests: $flavour build ($dir)"
  scripts/build.sh "$flavour"
  if ! ctest --test-dir "$dir" --output-on-failure -j "$(nproc)" --timeout 600; then
    status=1
  fi
done
echo "=== gpool fuzzing: build-fuzz (a fixed number of inputs per target, scripts/fuzz.sh)"
if ! scripts/fuzz.sh; then
  status=1
fi
exit $status
