#!/usr/bin/env bash
# The test command: installs dependencies, builds the release and the
# sanitizer flavours, and runs every test in both.
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
exit $status
