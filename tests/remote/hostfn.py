#!/usr/bin/env python3
"""A client that vanishes while the server holds one of its streams at a host function.

Usage: hostfn.py --server BIN --shim-dir DIR --emulator-lib LIB [--library-dir DIR]...
                 --gpool BIN --hold PROGRAM --other PROGRAM [--timeout S]

Starts gpool-server with tenants "held" (TOKEN), "other" (TOKEN-other) and the admin "ops". PROGRAM
--hold (tests/remote/hostfn_hold.cc) allocates memory as TOKEN, holds a stream at a host function
that never returns and waits in cuStreamSynchronize (so its worker waits in the driver). Then:
  - the other tenant runs --other (an example) to PASS meanwhile: nothing is stalled;
  - the held client is SIGKILLed: its session must end and its memory be returned (status
    endpoint) within 10 s, though its worker was waiting for a stream held for the client;
  - TOKEN's tenant runs --other to PASS afterwards.
Exit codes: 0 pass, 1 fail, 77 skipped.
"""
import argparse
import os
import signal
import subprocess
import sys
import secrets
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_remote  # noqa: E402


def run_other(args, url, token, what):
    r = subprocess.run([args.other], env=run_remote.client_env(args, url, token), capture_output=True,
                       text=True, timeout=args.timeout)
    if (why := run_remote.judge(r)):
        run_remote.show(r)
        print(f"FAIL: {what}: {why}")
        return False
    print(f"ok: {what} passed")
    return True


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    run_remote.add_common_args(p)
    p.add_argument("--gpool", required=True)
    p.add_argument("--hold", required=True)
    p.add_argument("--other", required=True)
    args = p.parse_args()
    if (code := run_remote.check_built(args, (args.gpool, "the gpool tool"), (args.hold, "gpool-remote-hostfn-hold"),
                                       (args.other, "the example"))) is not None:
        return code
    return with_server(args, "gpool-hostfn-", scenario)


def with_server(args, prefix, body, env_extra=None):
    """Starts gpool-server (env_extra: extra environment) with tenants "held" (TOKEN), "other"
    (TOKEN-other) and the admin "ops" (TOKEN-admin) in a temporary folder named from `prefix`,
    returns body(args, url, TOKEN) and stops the server, printing the end of its log. Shared with
    hostfn_copy.py."""
    token = secrets.token_hex(16)
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        # Two tenants that may run CUDA, and the admin tenant for the status endpoint.
        config = os.path.join(workdir, "server.toml")
        with open(config, "w") as f:
            f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\n'
                    f'[[tenant]]\nname = "held"\ntoken = "{token}"\n'
                    f'[[tenant]]\nname = "other"\ntoken = "{token}-other"\n'
                    f'[[tenant]]\nname = "ops"\ntoken = "{token}-admin"\nadmin = true\n')
        try:
            server, url, _ = run_remote.launch_server(args.server, ["--config", config], args.emulator_lib, workdir,
                                                      env_extra=env_extra)
        except RuntimeError as e:
            print(f"FAIL: {e}")
            return 1
        try:
            return body(args, url, token)
        finally:
            run_remote.stop_server(server)
            with open(os.path.join(workdir, "server.log")) as f:
                print("----- server log -----\n" + f.read()[-4000:] + "-----")


def scenario(args, url, token):
    return held_client_vanishes(args, url, token, [args.hold, "16"])


def held_client_vanishes(args, url, token, argv, after_holding=None):
    """Runs `argv` as TOKEN's client until it prints HOLDING <bytes> (its stream held at a host
    function; `after_holding(proc)`, when given, may check more and returns False to fail); then
    the status must show those bytes, the other tenant's --other must PASS meanwhile, the client
    is SIGKILLed, its session must end and its memory be returned within 10 s, and TOKEN's tenant
    runs --other to PASS. Returns the exit code. Shared with hostfn_copy.py."""
    held = subprocess.Popen(argv, env=run_remote.client_env(args, url, token),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines, ok = run_remote.wait_line(held, "HOLDING", args.timeout)
        if not ok:
            held.kill()
            out, err = held.communicate()
            print("".join(lines) + out + err)
            print("FAIL: the client never held its stream at the host function")
            return 1
        nbytes = int(lines[-1].split()[1])
        if after_holding is not None and not after_holding(held):
            return 1
        st = run_remote.status(args, url, token)
        print(f"while held: {st['bytes_held']} bytes held in {len(st['sessions'])} sessions")
        if st["bytes_held"] < nbytes:
            print(f"FAIL: the status endpoint does not show the {nbytes} bytes the held client allocated")
            return 1
        if not run_other(args, url, token + "-other", "the other tenant's program while a stream is held"):
            return 1
        held.send_signal(signal.SIGKILL)
        held.wait()
        print("held client SIGKILLed")
        if not wait_gone(args, url, token):
            return 1
        print("ok: the session ended and its memory was returned")
        if not run_other(args, url, token, "the same tenant's program afterwards"):
            return 1
        print("remote test passed")
        return 0
    finally:
        if held.poll() is None:
            held.kill()
            held.wait()


def wait_gone(args, url, token):
    deadline = time.time() + 10
    while True:
        st = run_remote.status(args, url, token)
        if st["bytes_held"] == 0 and not st["sessions"]:
            return True
        if time.time() > deadline:
            print(f"FAIL: 10 s after the kill the server holds {st['bytes_held']} bytes in "
                  f"{len(st['sessions'])} sessions")
            return False
        time.sleep(0.1)


if __name__ == "__main__":
    sys.exit(main())
