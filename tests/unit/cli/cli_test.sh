#!/usr/bin/env bash
# usage: cli_test.sh GPOOL GPOOL_SERVER_BIN [EMULATOR_LIB]
# Runs both command lines with good and bad arguments and checks exit codes and messages; with
# EMULATOR_LIB, also `gpool smi` against a server started here (one tenant, the emulator).
set -uo pipefail
gpool="$1"
server="$2"
emulator="${3:-}"
failures=0
out="$(mktemp)"; err="$(mktemp)"
trap 'rm -f "$out" "$err"' EXIT

# expect RC PATTERN(stdout+stderr, grep -E) -- COMMAND...
expect() {
  local rc="$1" pattern="$2"; shift 3
  "$@" >"$out" 2>"$err"
  local got=$?
  if [ "$got" != "$rc" ] || ! cat "$out" "$err" | grep -qE -- "$pattern"; then
    echo "FAIL: $* -> exit $got (want $rc), output does not match /$pattern/:"
    sed 's/^/    /' "$out" "$err" | head -20
    failures=$((failures + 1))
  else
    echo "ok: $* -> $got, /$pattern/"
  fi
}

unset GPOOL_SHIM_DIR GPOOL_SERVER_BIN GPOOL_SERVER GPOOL_TOKEN GPOOL_ADMIN_TOKEN
expect 0 '^gpool [0-9]+\.[0-9]+\.[0-9]+ \(protocol [0-9]+\)$' -- "$gpool" --version
expect 0 '^gpool [0-9]+\.[0-9]+\.[0-9]+ \(protocol' -- "$gpool" status --version
expect 0 '^gpool-server [0-9]+\.[0-9]+\.[0-9]+ \(protocol' -- "$server" --version
expect 0 'gpool-server [0-9]' -- env GPOOL_SERVER_BIN="$server" "$gpool" server --version
expect 0 '--shim-dir' -- "$gpool" run --help
expect 0 '--json' -- "$gpool" status --help
expect 0 '--check-config' -- "$server" --help
expect 2 "unknown command 'stauts'" -- "$gpool" stauts
expect 2 'A subcommand is required|subcommand' -- "$gpool"
expect 2 '--jsn' -- "$gpool" status --jsn
expect 2 '--server' -- "$gpool" status --server
expect 2 'program' -- "$gpool" run --server tcp://127.0.0.1:1
expect 2 '--bogus' -- "$server" --bogus
expect 2 '--warm-workers' -- "$server" --warm-workers 9999
expect 2 'no tenants' -- "$server" --listen tcp://127.0.0.1:0
expect 127 'no client shim at /nonexistent' -- "$gpool" run --shim-dir /nonexistent -- true
# The program's own options are its own, with or without --; GPOOL_SERVER and the shim's
# directory reach it.
shim_dir="$(mktemp -d)"; touch "$shim_dir/libcuda.so.1"
expect 0 "^tcp://h:1 $shim_dir -c\$" -- "$gpool" run --server tcp://h:1 --shim-dir "$shim_dir" \
  /bin/sh -c 'echo "$GPOOL_SERVER ${LD_LIBRARY_PATH%%:*} -c"'
expect 0 '^--help status$' -- "$gpool" run --shim-dir "$shim_dir" -- /bin/echo --help status
rm -rf "$shim_dir"
# gpool info: every variable of the table, with its value here.
expect 0 'GPOOL_SERVER=tcp://example:7070' -- env GPOOL_SERVER=tcp://example:7070 "$gpool" info
expect 0 'GPOOL_BUSY_WAIT_MS  \(unset; default 10000\)' -- "$gpool" info
expect 0 '^\| `GPOOL_EMU_MEMORY` \|' -- "$gpool" info --markdown
# gpool smi: help, a server that is not there, then a real one.
expect 0 '--json' -- "$gpool" smi --help
expect 1 'gpool smi: server tcp://127.0.0.1:1: cannot reach' -- "$gpool" smi --server tcp://127.0.0.1:1 --token t
expect 2 '--jsn' -- "$gpool" smi --jsn
if [ -n "$emulator" ]; then
  dir="$(mktemp -d)"
  GPOOL_EMULATOR_LIB="$emulator" GPOOL_EMU_DEVICES=2 "$server" --listen tcp://127.0.0.1:0 --token smi-token \
    --url-file "$dir/url" >"$dir/log" 2>&1 &
  spid=$!
  for _ in $(seq 100); do [ -s "$dir/url" ] && break; sleep 0.05; done
  url="$(cat "$dir/url" 2>/dev/null)"
  expect 0 '^1 +gpool emulated GPU .* GPU-[0-9a-f-]{36} +0{8}:[0-9A-F]{2}:00\.0 +0 B' -- \
    "$gpool" smi --server "$url" --token smi-token
  expect 0 'no processes hold device memory' -- "$gpool" smi --server "$url" --token smi-token
  expect 0 '^\{"devices":\[\{"index":0,.*"memory_used_bytes":0,.*\],"processes":\[\]\}$' -- \
    "$gpool" smi --server "$url" --token smi-token --json
  expect 1 'refused the session \(BadCredential\)' -- "$gpool" smi --server "$url" --token wrong
  kill "$spid"; wait "$spid" 2>/dev/null
  rm -rf "$dir"
fi

if [ "$failures" != 0 ]; then echo "FAIL: $failures check(s)"; exit 1; fi
echo PASS
