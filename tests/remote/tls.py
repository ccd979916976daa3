#!/usr/bin/env python3
"""gpool over tls://, end to end: gpool-server from a TOML config listening on tls:// (and
tcp:// beside it) with certificates made at test time by the `openssl` command (a throwaway CA,
a server certificate for 127.0.0.1, client certificates, a second unrelated CA).

Usage:
  tls.py --server BIN --shim-dir DIR --emulator-lib LIB --gpool BIN [--library-dir DIR]...
         [--asan-runtime LIB] [--timeout S] --mode MODE -- PROGRAM [ARGS...]

Modes:
  example     PROGRAM runs through the shim over tls:// (server verified by GPOOL_TLS_CA, token
              from GPOOL_TOKEN_FILE) and must pass; `gpool status` over tls:// lists its tenant.
  verify      how a client checks the server, each with `gpool status`: the right CA works; a
              wrong CA is refused naming it; a pinned fingerprint works, a wrong one is refused
              naming both; a plain tcp:// client of the tls:// port and a tls:// client of the
              tcp:// port fail within 2 s; PROGRAM with a wrong CA fails cuInit with the reason.
  mtls        client certificates: a tenant known only by its certificate runs PROGRAM with no
              token; a token of a tenant that needs its certificate is refused without it; a
              certificate of another CA, none at all, or one of the right CA that is no tenant's
              (without a token) are refused.
  reload      the certificate files are replaced and SIGHUP sent: new connections get the new
              certificate (pinned fingerprint of the new one works, the old one's is refused);
              a broken certificate then leaves the new one in use.
  token-file  gpool-server --token-file (the token is in no process's command line; a
              world-readable file is warned about), `gpool run --token-file`, `gpool status
              --token-file` and `token_file =` in the config.
Exit codes: 0 pass, 1 fail, 77 skipped (no `openssl` command).
"""
import argparse
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from run_remote import (SKIP, add_common_args, check_built, client_env, judge, launch_server,  # noqa: E402
                        program_args, show, stop_server)


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, text=True)


class Certs:
    """A CA with a server certificate (127.0.0.1, localhost), a second server certificate,
    two client certificates; and another CA with its own client certificate."""

    def __init__(self, d):
        self.d = d
        self.ca = self.make_ca("ca")
        self.other_ca = self.make_ca("other-ca")
        self.server = self.issue("server", "ca", server=True)
        self.server2 = self.issue("server2", "ca", server=True)
        self.client = self.issue("client", "ca")
        self.stranger = self.issue("stranger", "ca")  # tenant "both"'s, beside its token
        self.nobody = self.issue("nobody", "ca")      # right CA, no tenant's
        self.other_client = self.issue("other-client", "other-ca")

    def path(self, name):
        return os.path.join(self.d, name)

    def make_ca(self, name):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".pem"), "-days", "1",
                "-subj", "/CN=" + name)
        return self.path(name + ".pem")

    def issue(self, name, ca, server=False):
        ext = self.path(name + ".ext")
        with open(ext, "w") as f:
            if server:
                f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
            else:
                f.write("extendedKeyUsage=clientAuth\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", self.path(name + ".key"), "-out", self.path(name + ".csr"), "-subj", "/CN=" + name)
        openssl("x509", "-req", "-in", self.path(name + ".csr"), "-CA", self.path(ca + ".pem"),
                "-CAkey", self.path(ca + ".key"), "-set_serial", str(secrets.randbits(32)),
                "-out", self.path(name + ".pem"), "-days", "1", "-extfile", ext)
        return (self.path(name + ".pem"), self.path(name + ".key"))

    @staticmethod
    def fingerprint(pem):
        r = subprocess.run(["openssl", "x509", "-in", pem, "-noout", "-fingerprint", "-sha256"],
                           check=True, capture_output=True, text=True)
        return r.stdout.strip().split("=", 1)[1]  # "AB:CD:..."


class Check:
    def __init__(self):
        self.failures = []

    def __call__(self, ok, what):
        print(("ok    " if ok else "FAIL  ") + what)
        if not ok:
            self.failures.append(what)


def config_text(certs, token, admin, cert_sha, client_ca=True, token_file=None):
    lines = ['listen = ["tls://127.0.0.1:0", "tcp://127.0.0.1:0"]',
             f'tls_cert = "{certs.path("live.pem")}"', f'tls_key = "{certs.path("live.key")}"']
    if client_ca:
        lines += [f'tls_client_ca = "{certs.ca}"', "tls_require_client_cert = false"]
    lines += ["[[tenant]]", 'name = "alice"',
              f'token_file = "{token_file}"' if token_file else f'token = "{token}"']
    lines += ["[[tenant]]", 'name = "admin"', "admin = true", f'token = "{admin}"']
    if client_ca:
        lines += ["[[tenant]]", 'name = "certonly"', f'client_cert_sha256 = "{cert_sha}"']
        lines += ["[[tenant]]", 'name = "both"', f'token = "{token}-both"',
                  f'client_cert_sha256 = "{Certs.fingerprint(certs.stranger[0])}"']
    return "\n".join(lines) + "\n"


class Server:
    def __init__(self, args, workdir, certs, text, extra_args=()):
        shutil.copy(certs.server[0], certs.path("live.pem"))
        shutil.copy(certs.server[1], certs.path("live.key"))
        self.config = os.path.join(workdir, "server.toml")
        with open(self.config, "w") as f:
            f.write(text)
        self.proc, self.url, self.log_path = launch_server(
            args.server, ["--config", self.config] + list(extra_args), args.emulator_lib, workdir)
        self.tcp_url = None
        deadline = time.time() + 5
        while self.tcp_url is None and time.time() < deadline:
            for line in self.log().splitlines():
                if "listening on tcp://" in line:
                    self.tcp_url = line.split("listening on ")[1].split()[0]
            time.sleep(0.05)

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def logged(self, text, timeout=5.0):
        """Whether the server's log holds `text` within `timeout` seconds: the server may write
        its line after the client has already seen the outcome (a refused handshake's alert
        reaches the client before the server logs why it sent it)."""
        deadline = time.time() + timeout
        while True:
            if text in self.log():
                return True
            if time.time() >= deadline:
                return False
            time.sleep(0.02)


def gpool_status(args, url, token=None, env_extra=None, token_file=None):
    """`gpool status --json` against `url`: (returncode, stdout, stderr, seconds)."""
    env = dict(os.environ)
    for k in ("GPOOL_TLS_CA", "GPOOL_TLS_FINGERPRINT", "GPOOL_TLS_CERT", "GPOOL_TLS_KEY", "GPOOL_TOKEN",
              "GPOOL_ADMIN_TOKEN", "GPOOL_TOKEN_FILE"):
        env.pop(k, None)
    env.update(env_extra or {})
    cmd = [args.gpool, "status", "--server", url, "--json"]
    if token is not None:
        cmd += ["--token", token]
    if token_file is not None:
        cmd += ["--token-file", token_file]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=20, env=env)
    return r.returncode, r.stdout, r.stderr, time.time() - t0


def run_program(args, command, url, env_extra, token=None):
    env = client_env(args, url, token or "")
    if token is None:
        env.pop("GPOOL_TOKEN", None)
    for k in ("GPOOL_TLS_CA", "GPOOL_TLS_FINGERPRINT", "GPOOL_TLS_CERT", "GPOOL_TLS_KEY", "GPOOL_TOKEN_FILE"):
        env.pop(k, None)
    env.update(env_extra)
    r = subprocess.run(command, env=env, capture_output=True, text=True, timeout=args.timeout)
    return r


def own_tenant(stdout):
    try:
        return json.loads(stdout).get("tenant")
    except ValueError:
        return None


def mode_example(args, command, certs, workdir, check):
    token, admin = secrets.token_hex(16), secrets.token_hex(16)
    srv = Server(args, workdir, certs, config_text(certs, token, admin, "", client_ca=False))
    try:
        check(srv.url.startswith("tls://127.0.0.1:"), f"the server reports a tls:// listener ({srv.url})")
        tf = os.path.join(workdir, "alice.token")
        with open(tf, "w") as f:
            f.write(token + "\n")
        os.chmod(tf, 0o600)
        r = run_program(args, command, srv.url, {"GPOOL_TLS_CA": certs.ca, "GPOOL_TOKEN_FILE": tf})
        show(r)
        why = judge(r)
        check(why is None, f"the program passes over tls:// ({why or 'PASS'})")
        rc, out, err, _ = gpool_status(args, srv.url, admin, {"GPOOL_TLS_CA": certs.ca})
        check(rc == 0 and "alice" in out, f"gpool status over tls:// lists tenant alice ({err.strip()[:200]})")
        check(srv.logged("session 1: tenant alice from tls://"), "the server logged a tls:// session")
    finally:
        stop_server(srv.proc)


def mode_verify(args, command, certs, workdir, check):
    token, admin = secrets.token_hex(16), secrets.token_hex(16)
    srv = Server(args, workdir, certs, config_text(certs, token, admin, "", client_ca=False))
    try:
        ca = {"GPOOL_TLS_CA": certs.ca}
        rc, out, err, _ = gpool_status(args, srv.url, admin, ca)
        check(rc == 0, f"the server's CA verifies it ({err.strip()[:200]})")
        rc, out, err, t = gpool_status(args, srv.url, admin, {"GPOOL_TLS_CA": certs.other_ca})
        check(rc != 0 and "not trusted by CA file" in err and "other-ca.pem" in err and t < 2,
              f"a wrong CA is refused, naming it, in {t:.2f} s: {err.strip()[:300]}")
        fp = Certs.fingerprint(certs.server[0])
        rc, out, err, _ = gpool_status(args, srv.url, admin, {"GPOOL_TLS_FINGERPRINT": fp})
        check(rc == 0, f"the pinned fingerprint of the server's certificate works ({err.strip()[:200]})")
        wrong = Certs.fingerprint(certs.server2[0])
        rc, out, err, t = gpool_status(args, srv.url, admin, {"GPOOL_TLS_FINGERPRINT": wrong})
        check(rc != 0 and "fingerprint mismatch" in err and t < 2,
              f"a wrong pinned fingerprint is refused in {t:.2f} s: {err.strip()[:300]}")
        plain = "tcp://" + srv.url[len("tls://"):]
        rc, out, err, t = gpool_status(args, plain, admin)
        check(rc != 0 and t < 2 and "use a tls:// URL" in err,
              f"a plain tcp:// client of the tls:// port fails in {t:.2f} s, saying what to use: {err.strip()[:300]}")
        check(srv.logged("does not speak TLS"), "the server logged that the peer does not speak TLS")
        check(srv.tcp_url is not None, f"the server also listens on tcp:// ({srv.tcp_url})")
        if srv.tcp_url:
            tls_to_plain = "tls://" + srv.tcp_url[len("tcp://"):]
            rc, out, err, t = gpool_status(args, tls_to_plain, admin, ca)
            check(rc != 0 and "plain tcp://" in err and t < 2,
                  f"a tls:// client of the tcp:// port fails in {t:.2f} s, saying why: {err.strip()[:300]}")
            rc, out, err, _ = gpool_status(args, srv.tcp_url, admin)
            check(rc == 0, "plain tcp:// beside tls:// still works")
        r = run_program(args, command, srv.url, {"GPOOL_TLS_CA": certs.other_ca}, token)
        check(r.returncode != 0 and "not trusted by CA file" in r.stderr,
              f"the program fails with a wrong CA, saying so: {r.stderr.strip()[-300:]}")
        check(token not in srv.log(), "the token never appears in the server log")
    finally:
        stop_server(srv.proc)


def mode_mtls(args, command, certs, workdir, check):
    token, admin = secrets.token_hex(16), secrets.token_hex(16)
    srv = Server(args, workdir, certs,
                 config_text(certs, token, admin, Certs.fingerprint(certs.client[0])))
    try:
        base = {"GPOOL_TLS_CA": certs.ca}
        cert = dict(base, GPOOL_TLS_CERT=certs.client[0], GPOOL_TLS_KEY=certs.client[1])
        r = run_program(args, command, srv.url, cert)
        show(r)
        why = judge(r)
        check(why is None, f"tenant certonly runs the program with its certificate and no token ({why or 'PASS'})")
        check(srv.logged("tenant certonly from tls://"), "the server mapped the certificate to tenant certonly")
        rc, out, err, _ = gpool_status(args, srv.url, None, cert)
        check(rc == 0 and own_tenant(out) == "certonly", f"gpool status with the certificate is certonly's view ({err.strip()[:200]})")
        rc, out, err, _ = gpool_status(args, srv.url, token, base)
        check(rc == 0 and own_tenant(out) == "alice", f"a token tenant still logs in without a certificate ({err.strip()[:200]})")
        rc, out, err, _ = gpool_status(args, srv.url, token, cert)
        check(rc != 0 and "does not belong" in err, f"a certificate and another tenant's token are refused: {err.strip()[:200]}")
        rc, out, err, _ = gpool_status(args, srv.url, token + "-both", base)
        check(rc != 0 and "client certificate" in err,
              f"the token of a tenant that needs its certificate is refused without it: {err.strip()[:200]}")
        stranger = dict(base, GPOOL_TLS_CERT=certs.stranger[0], GPOOL_TLS_KEY=certs.stranger[1])
        rc, out, err, _ = gpool_status(args, srv.url, token + "-both", stranger)
        check(rc == 0 and own_tenant(out) == "both", f"... and admitted with it ({err.strip()[:200]})")
        rc, out, err, _ = gpool_status(args, srv.url, None, stranger)
        check(rc == 0 and own_tenant(out) == "both", "... and with it alone (a certificate is a credential by itself)")
        nobody = dict(base, GPOOL_TLS_CERT=certs.nobody[0], GPOOL_TLS_KEY=certs.nobody[1])
        rc, out, err, _ = gpool_status(args, srv.url, None, nobody)
        check(rc != 0 and "BadCredential" in err, f"a certificate of the CA that is no tenant's, without a token, is refused: {err.strip()[:200]}")
        other = dict(base, GPOOL_TLS_CERT=certs.other_client[0], GPOOL_TLS_KEY=certs.other_client[1])
        rc, out, err, t = gpool_status(args, srv.url, None, other)
        check(rc != 0 and t < 2, f"a certificate of another CA is refused in {t:.2f} s: {err.strip()[:200]}")
        check(srv.logged("client certificate refused"), "the server logged why it refused that certificate")
        rc, out, err, t = gpool_status(args, srv.url, None, base)
        check(rc != 0 and t < 2, f"no certificate and no token is refused in {t:.2f} s: {err.strip()[:200]}")
    finally:
        stop_server(srv.proc)


def mode_reload(args, command, certs, workdir, check):
    token, admin = secrets.token_hex(16), secrets.token_hex(16)
    srv = Server(args, workdir, certs, config_text(certs, token, admin, "", client_ca=False))
    try:
        old, new = Certs.fingerprint(certs.server[0]), Certs.fingerprint(certs.server2[0])
        rc, _, err, _ = gpool_status(args, srv.url, admin, {"GPOOL_TLS_FINGERPRINT": old})
        check(rc == 0, f"the first certificate is served ({err.strip()[:200]})")
        shutil.copy(certs.server2[0], certs.path("live.pem"))
        shutil.copy(certs.server2[1], certs.path("live.key"))
        srv.proc.send_signal(signal.SIGHUP)
        ok = False
        for _ in range(50):
            time.sleep(0.1)
            rc, _, err, _ = gpool_status(args, srv.url, admin, {"GPOOL_TLS_FINGERPRINT": new})
            if rc == 0:
                ok = True
                break
        check(ok, f"after SIGHUP the new certificate is served ({err.strip()[:200]})")
        rc, _, err, _ = gpool_status(args, srv.url, admin, {"GPOOL_TLS_FINGERPRINT": old})
        check(rc != 0 and "fingerprint mismatch" in err, "the old certificate's fingerprint is refused now")
        with open(certs.path("live.pem"), "w") as f:
            f.write("not a certificate\n")
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        rc, _, err, _ = gpool_status(args, srv.url, admin, {"GPOOL_TLS_FINGERPRINT": new})
        check(rc == 0, f"a broken certificate file leaves the last good one in use ({err.strip()[:200]})")
        check(srv.logged("keeps its previous certificate"), "the server logged the failed certificate reload")
    finally:
        stop_server(srv.proc)


def mode_token_file(args, command, certs, workdir, check):
    token, admin = secrets.token_hex(16), secrets.token_hex(16)
    tf, af = os.path.join(workdir, "tenant.token"), os.path.join(workdir, "admin.token")
    with open(tf, "w") as f:
        f.write(token + "\n")
    os.chmod(tf, 0o644)  # world-readable: warned about
    with open(af, "w") as f:
        f.write(admin)
    os.chmod(af, 0o600)
    proc, url, log_path = launch_server(args.server, ["--listen", "tcp://127.0.0.1:0", "--token-file", tf,
                                                      "--admin-token-file", af], args.emulator_lib, workdir)
    try:
        with open(f"/proc/{proc.pid}/cmdline", "rb") as f:
            cmdline = f.read().decode(errors="replace")
        check(token not in cmdline and admin not in cmdline, "no token in the server's command line")
        with open(log_path) as f:
            log = f.read()
        check("readable by other users" in log and "tenant.token" in log,
              "the world-readable token file is warned about")
        check("admin.token" not in log, "the private token file is not")
        env = client_env(args, url, "")
        env.pop("GPOOL_TOKEN", None)
        r = subprocess.run([args.gpool, "run", "--server", url, "--token-file", tf, "--shim-dir", args.shim_dir,
                            "--"] + command, env=env, capture_output=True, text=True, timeout=args.timeout)
        show(r)
        why = judge(r)
        check(why is None, f"gpool run --token-file runs the program ({why or 'PASS'})")
        rc, out, err, _ = gpool_status(args, url, token_file=af)
        check(rc == 0 and "default" in out, f"gpool status --token-file works ({err.strip()[:200]})")
        rc, out, err, _ = gpool_status(args, url, token_file=os.path.join(workdir, "missing.token"))
        check(rc == 2 and "missing.token" in err, f"a missing token file is named: {err.strip()[:200]}")
    finally:
        stop_server(proc)
    # token_file = in the config, and GPOOL_TOKEN_FILE for the shim.
    sub = os.path.join(workdir, "config")
    os.makedirs(sub)
    srv = Server(args, sub, certs, config_text(certs, "", admin, "", client_ca=False, token_file=tf))
    try:
        r = run_program(args, command, srv.url, {"GPOOL_TLS_CA": certs.ca, "GPOOL_TOKEN_FILE": tf})
        why = judge(r)
        check(why is None, f"a tenant with token_file = runs the program with GPOOL_TOKEN_FILE ({why or 'PASS'})")
    finally:
        stop_server(srv.proc)


MODES = {"example": mode_example, "verify": mode_verify, "mtls": mode_mtls, "reload": mode_reload,
         "token-file": mode_token_file}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_args(p)
    p.add_argument("--gpool", required=True)
    p.add_argument("--mode", choices=sorted(MODES), required=True)
    p.add_argument("command", nargs=argparse.REMAINDER)
    args = p.parse_args()
    command = program_args(args)
    if shutil.which("openssl") is None:
        print("SKIP: no openssl command (Debian package openssl) to make test certificates")
        return SKIP
    if (code := check_built(args, (command[0] if command else "", "the example"),
                            (args.gpool, "the gpool tool"))) is not None:
        return code
    check = Check()
    with tempfile.TemporaryDirectory(prefix="gpool-remote-tls-") as workdir:
        os.makedirs(os.path.join(workdir, "certs"))
        certs = Certs(os.path.join(workdir, "certs"))
        try:
            MODES[args.mode](args, command, certs, workdir, check)
        except RuntimeError as e:
            check(False, str(e))
        log = os.path.join(workdir, "server.log")
        if check.failures and os.path.exists(log):
            with open(log) as f:
                print("----- server log -----\n" + f.read()[-4000:] + "-----")
    if check.failures:
        print(f"FAIL: {len(check.failures)} check(s) failed")
        return 1
    print(f"remote tls test ({args.mode}) passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
