#!/usr/bin/env bash
# The main job: installs dependencies, builds gpool and runs an unmodified
# nvcc-built CUDA program on the emulator's libcuda.so.1.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
example="${1:-vector_add}"
echo "=== running build/examples/$example on the gpool emulator"
LD_LIBRARY_PATH="$PWD/build/emulator" "build/examples/$example"
