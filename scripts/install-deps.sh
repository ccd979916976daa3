#!/usr/bin/env bash
# Installs every build and test dependency of gpool by Debian package name.
# Safe to run repeatedly: packages already present are skipped quickly.
# The CUDA 13 toolkit is not a Debian package: it must already be at
# $CUDA_HOME (default /usr/local/cuda); this script checks and says what is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config python3 git
  libgtest-dev libgmock-dev libbenchmark-dev
  libspdlog-dev libfmt-dev
  libzstd-dev liblz4-dev
  flatbuffers-compiler libflatbuffers-dev
  liburing-dev libucx-dev
  libtomlplusplus-dev libcpp-httplib-dev libcli11-dev
  libssl-dev openssl
  clang-16 libfuzzer-16-dev
  curl procps
  etcd-server etcd-client python3-yaml
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "install-deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "install-deps: all ${#PACKAGES[@]} packages present"
fi

CUDA_HOME="${CUDA_HOME:-/usr/local/cuda}"
for f in bin/nvcc include/cuda.h include/cudaTypedefs.h lib64/stubs/libcuda.so lib64/libcudart_static.a; do
  if [ ! -e "$CUDA_HOME/$f" ]; then
    echo "install-deps: the CUDA 13 toolkit is missing $CUDA_HOME/$f." >&2
    echo "  Install the CUDA 13 toolkit at /usr/local/cuda, or set CUDA_HOME to where it is." >&2
    exit 1
  fi
done
echo "install-deps: CUDA toolkit at $CUDA_HOME ($("$CUDA_HOME/bin/nvcc" --version | tail -n 2 | head -n 1))"
