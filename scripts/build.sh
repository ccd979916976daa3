#!/usr/bin/env bash
# Configures and builds gpool.   usage: scripts/build.sh [release|asan]
#   release -> build/        (RelWithDebInfo)
#   asan    -> build-asan/   (ASan + UBSan; the tests also pass here)
# Warnings are errors here (GPOOL_WERROR=ON), as in CI; a plain CMake build leaves them warnings.
set -euo pipefail
cd "$(dirname "$0")/.."
flavour="${1:-release}"
case "$flavour" in
  release) dir=build; extra=() ;;
  asan)    dir=build-asan; extra=(-DGPOOL_SANITIZE=ON) ;;
  *) echo "usage: $0 [release|asan]" >&2; exit 2 ;;
esac
jobs="${GPOOL_BUILD_JOBS:-$(nproc)}"
cmake -S . -B "$dir" -G Ninja -DGPOOL_WERROR=ON "${extra[@]}" >/dev/null
cmake --build "$dir" -j "$jobs"
