#!/usr/bin/env bash
# The main job: installs dependencies, builds gpool, starts a gpool-server on the emulator and
# runs an unmodified nvcc-built CUDA program through the client shim (shim -> server -> emulator).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh release
example="${1:-vector_add}"
workdir="$(mktemp -d)"
token="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
build/tools/gpool server --listen tcp://127.0.0.1:0 --token "$token" --url-file "$workdir/url" \
  >"$workdir/server.log" 2>&1 &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; rm -rf "$workdir"' EXIT
for _ in $(seq 100); do [ -s "$workdir/url" ] && break; sleep 0.1; done
[ -s "$workdir/url" ] || { cat "$workdir/server.log"; echo "gpool-server did not start" >&2; exit 1; }
url="$(cat "$workdir/url")"
echo "=== running build/examples/$example through the gpool client shim on gpool-server $url (emulator backend)"
build/tools/gpool run --server "$url" --token "$token" -- "build/examples/$example"
