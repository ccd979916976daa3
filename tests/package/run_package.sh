#!/usr/bin/env bash
# usage: run_package.sh BUILD_DIR EXAMPLE
# Builds the gpool .deb packages from BUILD_DIR with cpack, extracts them into a fresh root with
# dpkg-deb -x (no root rights, nothing installed on the host) and checks that the installed files
# work from where they were extracted: the layout, --version, `gpool info` finding the shim and
# emulator beside itself, the installed server logging its listener and loading the installed
# emulator, EXAMPLE through the installed `gpool run`, EXAMPLE on the installed emulator alone,
# a tenant's own `gpool status`, and the installed NVML (through `gpool run`) and `gpool smi`.
# Exit 0 only when every check passed.
set -euo pipefail
build="$(cd "$1" && pwd)"
example="$2"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "package test: FAIL: $*" >&2; [ -f "$work/server.log" ] && sed 's/^/  server: /' "$work/server.log" >&2; exit 1; }

# 1. The packages.
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/pkg" >"$work/cpack.log" 2>&1) ||
  { cat "$work/cpack.log" >&2; fail "cpack failed"; }
shopt -s nullglob
debs=("$work"/pkg/*.deb)
[ "${#debs[@]}" -eq 2 ] || fail "expected 2 packages (gpool-server, gpool-client), got: ${debs[*]:-none}"
root="$work/root"
for deb in "${debs[@]}"; do
  echo "package: $(dpkg-deb -f "$deb" Package) $(dpkg-deb -f "$deb" Version); Depends: $(dpkg-deb -f "$deb" Depends)"
  dpkg-deb -x "$deb" "$root"
done

# 2. The layout.
for f in usr/bin/gpool usr/bin/gpool-server usr/lib/gpool/client/libcuda.so.1 \
         usr/lib/gpool/emulator/libcuda.so.1 usr/lib/systemd/system/gpool-server.service \
         usr/share/doc/gpool/examples/gpool-server.toml usr/share/man/man1/gpool.1 \
         usr/share/man/man1/gpool-server.1; do
  [ -e "$root/$f" ] || fail "the packages do not install /$f"
done
grep -qx 'ExecStart=/usr/bin/gpool-server --config /etc/gpool/server.toml' \
  "$root/usr/lib/systemd/system/gpool-server.service" || fail "the unit does not start /usr/bin/gpool-server"
[ "$(ls "$root/usr/lib/gpool/client" | tr '\n' ' ')" = "libcuda.so.1 libnvidia-ml.so.1 " ] ||
  fail "lib/gpool/client holds other than the shim and NVML: $(ls "$root/usr/lib/gpool/client")"

# 3. The installed binaries, relocated under $root, find their own libraries.
unset GPOOL_SHIM_DIR GPOOL_SERVER_BIN GPOOL_EMULATOR_LIB
"$root/usr/bin/gpool" --version | grep -q '^gpool [0-9]' || fail "gpool --version"
"$root/usr/bin/gpool-server" --version | grep -q '^gpool-server [0-9]' || fail "gpool-server --version"
info="$("$root/usr/bin/gpool" info)"
grep -q "shim       $root/usr/lib/gpool/client/libcuda.so.1\$" <<<"$info" || { echo "$info" >&2; fail "gpool info does not find the installed shim"; }
grep -q "emulator   $root/usr/lib/gpool/emulator/libcuda.so.1\$" <<<"$info" || { echo "$info" >&2; fail "gpool info does not find the installed emulator"; }

# 4. An example on the installed emulator alone.
LD_LIBRARY_PATH="$root/usr/lib/gpool/emulator" "$example" >"$work/direct.out" 2>&1 ||
  { cat "$work/direct.out" >&2; fail "$example on the installed emulator"; }

# 5. The installed server (emulator backend) and the installed `gpool run`.
token="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
"$root/usr/bin/gpool" server --listen tcp://127.0.0.1:0 --token "$token" --url-file "$work/url" \
  >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 200); do [ -s "$work/url" ] && break; sleep 0.05; done
[ -s "$work/url" ] || fail "the installed gpool-server did not start"
url="$(cat "$work/url")"
grep -q "listening on $url" "$work/server.log" || fail "the server did not log its listener"
grep -q "ready: backend emulator ($root/usr/lib/gpool/emulator/libcuda.so.1)" "$work/server.log" ||
  fail "the installed server does not use the installed emulator"
"$root/usr/bin/gpool" run --server "$url" --token "$token" -- "$example" >"$work/remote.out" 2>&1 ||
  { cat "$work/remote.out" >&2; fail "$example through the installed server and gpool run"; }
grep -q "session 1: tenant default" "$work/server.log" || fail "the run did not go through the installed server"

# 6. A tenant's own status.
"$root/usr/bin/gpool" status --server "$url" --token "$token" >"$work/status.out" 2>&1 ||
  { cat "$work/status.out" >&2; fail "gpool status with the tenant's token"; }
grep -q "tenant default's own view" "$work/status.out" || { cat "$work/status.out" >&2; fail "gpool status is not the tenant's view"; }

# 7. The installed NVML, found by a program through `gpool run` (ctypes, as monitoring scripts
#    load it), and the installed `gpool smi`.
nvml_check='import ctypes; l = ctypes.CDLL("libnvidia-ml.so.1"); n = ctypes.c_uint(0); print(l.nvmlInit_v2(), l.nvmlDeviceGetCount_v2(ctypes.byref(n)), n.value)'
"$root/usr/bin/gpool" run --server "$url" --token "$token" -- python3 -c "$nvml_check" >"$work/nvml.out" 2>&1 ||
  { cat "$work/nvml.out" >&2; fail "NVML through the installed gpool run"; }
grep -qx "0 0 1" "$work/nvml.out" || { cat "$work/nvml.out" >&2; fail "the installed NVML does not see the server's device"; }
"$root/usr/bin/gpool" smi --server "$url" --token "$token" >"$work/smi.out" 2>&1 ||
  { cat "$work/smi.out" >&2; fail "gpool smi with the tenant's token"; }
grep -q "^0 .*GPU-" "$work/smi.out" || { cat "$work/smi.out" >&2; fail "gpool smi shows no device"; }
echo "package test: ok (${#debs[@]} packages; installed server, shim and emulator ran $example; NVML and smi saw the device)"
