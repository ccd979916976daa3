"""A gpool-server on loopback with the emulator backend and named tenants, for the remote tests
that read the admin status between client runs (public_images.py, quota_cache.py), and
run_mode(), which runs one of such a test's modes in a temporary folder.

TenantServer(args, workdir, tenants, top, tag) writes workdir/server.toml: `top` (extra top-level
keys), one [[tenant]] per entry of `tenants` (name -> extra TOML lines for that tenant, token
"tok-<name>-<tag>") and the admin tenant "ops" (token "tok-admin-<tag>"), then starts the server
(run_remote.launch_server: RuntimeError when it does not come up; its log is workdir/server.log).
args needs .server, .emulator_lib, .gpool, .timeout and what run_remote.client_env reads.
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import client_env, launch_server, stop_server  # noqa: E402


class TenantServer:
    def __init__(self, args, workdir, tenants, top="", tag="test"):
        self.args = args
        self.admin = f"tok-admin-{tag}"
        self.tokens = {}
        path = os.path.join(workdir, "server.toml")
        with open(path, "w") as f:
            f.write('listen = ["tcp://127.0.0.1:0"]\nbackend = "emulator"\n' + top)
            for name, extra in tenants.items():
                self.tokens[name] = f"tok-{name}-{tag}"
                f.write(f'[[tenant]]\nname = "{name}"\ntoken = "{self.tokens[name]}"\n{extra}')
            f.write(f'[[tenant]]\nname = "ops"\ntoken = "{self.admin}"\nadmin = true\n')
        self.proc, self.url, self.log = launch_server(args.server, ["--config", path], args.emulator_lib, workdir)

    def status(self):
        """The admin status document (gpool status --json)."""
        r = subprocess.run([self.args.gpool, "status", "--server", self.url, "--token", self.admin, "--json"],
                           capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            raise RuntimeError("gpool status failed: " + r.stderr)
        return json.loads(r.stdout)

    def tenant(self, name):
        """The status entry of tenant `name`."""
        for t in self.status()["tenants"]:
            if t["name"] == name:
                return t
        raise RuntimeError("no tenant " + name)

    def run(self, tenant, program, *argv):
        """Runs `program argv...` as a client of `tenant` and waits for it (args.timeout)."""
        return subprocess.run([program] + [str(a) for a in argv], env=client_env(self.args, self.url, self.tokens[tenant]),
                              capture_output=True, text=True, timeout=self.args.timeout)

    def start(self, tenant, program, *argv):
        """Starts `program argv...` as a client of `tenant` with pipes for stdin, stdout and stderr."""
        return subprocess.Popen([program] + [str(a) for a in argv], env=client_env(self.args, self.url, self.tokens[tenant]),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def stop(self):
        stop_server(self.proc)


def run_mode(mode, args):
    """Runs mode(args, workdir) in a fresh temporary folder: an exception is a failure; on failure
    the end of workdir/server.log is printed, on success PASS. Returns the mode's exit code."""
    with tempfile.TemporaryDirectory() as workdir:
        try:
            rc = mode(args, workdir)
        except Exception as e:  # noqa: BLE001
            print(f"FAIL: {e}")
            rc = 1
        log = os.path.join(workdir, "server.log")
        if rc != 0 and os.path.exists(log):
            print("----- server log -----\n" + open(log).read()[-6000:])
        elif rc == 0:
            print("PASS")
        return rc
