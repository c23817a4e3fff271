#!/usr/bin/env python3
"""The first request of a new instance (issue 12, item 10b): spawn `healthsync serve` -> first 200
on an authenticated, database-backed route (GET /api/users/profile with one of our access tokens),
against a private local PostgreSQL with TLS on, as Azure requires, compared with the same path
with TLS off.

Setup (its own, in a temp dir, removed afterwards): a cluster from the system's initdb with
ssl=on and a self-signed RSA 2048 certificate for `localhost`, password sign-in (`password`
method: the client sends the password in clear over TLS, which is how an Entra token is sent to
Azure PostgreSQL; the role's password is stored as an MD5 hash, since checking a clear password
against PostgreSQL's default SCRAM verifier runs PBKDF2 with 4,096 iterations on every sign-in,
about 7 ms here, which Azure's check of an Entra token does not do), the app's migrations (as the admin; the app signs in as `bench`, which has only the app role's
rights), one user row. Then for each mode, N fresh processes:

  tls       DATABASE_URL ...?sslmode=verify-full&sslrootcert=<the cert>  (what Azure gets)
  plain     DATABASE_URL ...?sslmode=disable

Each run: spawn, then GET /api/users/profile every ~0.5 ms over a raw socket until it answers
(a refused connection means not listening yet); any answer but 200 is an error. One unmeasured
warm-up run per mode. Prints one JSON line, then a summary.

Python 3.11 standard library; needs PostgreSQL's server binaries (initdb, pg_ctl, psql) and
openssl. As root, PostgreSQL runs as the `postgres` account.
"""

from __future__ import annotations

import argparse
import base64
import glob
import hashlib
import hmac
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from need import need, need_binary

ROOT = Path(__file__).resolve().parent.parent
KID = "bench"
SECRET = b"b" * 32
USER_ID = str(uuid.UUID(int=0x5EED))
PASSWORD = "bench-token-" + "x" * 40


def pg_bin(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        sys.exit(f"error: {name} not found (apt-get install postgresql)")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_pg(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def access_token() -> str:
    now = int(time.time())
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    claims = {"sub": USER_ID, "iss": "healthsync", "aud": "healthsync-app", "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(SECRET, f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{sig}"


def start_cluster(tmp: Path, password_hash: str = "md5") -> tuple[int, Path]:
    data, run = tmp / "data", tmp / "run"
    tmp.chmod(0o755)
    run.mkdir()
    if os.geteuid() == 0:
        shutil.chown(tmp, "postgres")
        shutil.chown(run, "postgres")
    as_pg([pg_bin("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
    # A root CA and a server certificate it signs (RSA 2048, SAN localhost), like a public chain.
    def openssl(*a: str) -> None:
        subprocess.run(["openssl", *a], check=True, capture_output=True, cwd=tmp)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=bench root",
            "-keyout", "ca.key", "-out", "root.crt")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key", "-out", "server.csr")
    (tmp / "ext.cnf").write_text("subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "root.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "ext.cnf", "-out", "server.crt")
    for f in ("server.key", "server.crt"):
        shutil.move(tmp / f, data / f)
        if os.geteuid() == 0:
            shutil.chown(data / f, "postgres")
    (data / "server.key").chmod(0o600)
    cert = tmp / "root.crt"
    cert.chmod(0o644)
    port = free_port()
    with open(data / "postgresql.conf", "a") as f:
        f.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{run}'\n"
                "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\nfsync = off\n")
    with open(data / "pg_hba.conf", "w") as f:
        f.write("local all postgres trust\nhost all postgres 127.0.0.1/32 trust\nhost all bench 127.0.0.1/32 password\n")
    as_pg([pg_bin("pg_ctl"), "-D", str(data), "-l", str(tmp / "pg.log"), "-w", "start"])
    psql = [pg_bin("psql"), "-h", str(run), "-p", str(port), "-U", "postgres", "-v", "ON_ERROR_STOP=1", "-q"]
    as_pg(psql + ["-c", f"SET password_encryption = '{password_hash}'", "-c", f"CREATE ROLE bench LOGIN PASSWORD '{PASSWORD}'", "-c", "CREATE DATABASE bench OWNER bench"])
    return port, cert


def stop_cluster(tmp: Path) -> None:
    subprocess.run((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
                   + [pg_bin("pg_ctl"), "-D", str(tmp / "data"), "-m", "immediate", "stop"], capture_output=True)


def env_for(port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    env.update(FUNCTIONS_CUSTOMHANDLER_PORT=str(port), DATABASE_URL=database_url, RUST_LOG=os.environ.get("BENCH_RUST_LOG", "warn"),
               AUTH_SIGNING_KEYS=f"{KID}:{b64(SECRET)}")
    return env


def get(port: int, path: str, token: str) -> int | None:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n".encode())
            buf = b""
            while chunk := s.recv(65536):
                buf += chunk
    except OSError:
        return None
    parts = buf.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def first_200(binary: Path, database_url: str, token: str) -> float:
    port = free_port()
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(binary), "serve"], env=env_for(port, database_url),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        while True:
            status = get(port, "/api/users/profile", token)
            if status == 200:
                return (time.perf_counter() - t0) * 1000
            if status is not None:
                proc.terminate()
                raise RuntimeError(f"GET /api/users/profile answered {status}: {proc.communicate()[0].decode()[-1500:]}")
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited: {proc.stdout.read().decode()}")
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("no answer within 10 s")
            time.sleep(0.0005)
    finally:
        proc.terminate()
        proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "healthsync")
    ap.add_argument("-n", "--runs", type=int, default=30)
    ap.add_argument("--password-hash", choices=["md5", "scram-sha-256"], default="md5",
                    help="how the server stores the role's password (scram-sha-256 adds PBKDF2 to every sign-in)")
    args = ap.parse_args()
    need("initdb", "pg_ctl", "psql", "openssl")
    need_binary(args.binary)
    if not args.binary.is_file():
        sys.exit(f"error: {args.binary} not found (cargo build --release)")
    tmp = Path(tempfile.mkdtemp(prefix="hs-tls-bench-"))
    try:
        port, cert = start_cluster(tmp, args.password_hash)
        base = f"postgres://bench:{PASSWORD}@localhost:{port}/bench"
        # As in Azure: migrations as the admin, the app as a role with only the app's rights.
        admin = env_for(0, f"postgres://postgres@localhost:{port}/bench?sslmode=disable")
        admin["DATABASE_APP_PRINCIPAL"] = f"bench:{uuid.UUID(int=1)}"
        migrate = subprocess.run([str(args.binary), "migrate"], env=admin, capture_output=True, text=True)
        if migrate.returncode != 0:
            raise RuntimeError(f"healthsync migrate failed: {migrate.stderr}")
        subprocess.run((["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else [])
                       + [pg_bin("psql"), "-h", str(tmp / "run"), "-p", str(port), "-U", "postgres", "-d", "bench", "-q",
                          "-c", f"INSERT INTO users.users (id) VALUES ('{USER_ID}')"], check=True, capture_output=True)
        token = access_token()
        modes = {"plain": base + "?sslmode=disable", "tls": base + f"?sslmode=verify-full&sslrootcert={cert}"}
        results = {}
        for name, url in modes.items():
            first_200(args.binary, url, token)  # warm-up: page cache
        for _ in range(args.runs):  # alternate, so drift hits both
            for name, url in modes.items():
                results.setdefault(name, []).append(first_200(args.binary, url, token))
    finally:
        stop_cluster(tmp)
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {name: {"median": round(statistics.median(v), 2), "p90": round(sorted(v)[int(len(v) * 0.9) - 1], 2),
                      "min": round(min(v), 2), "max": round(max(v), 2)} for name, v in results.items()}
    print(json.dumps({"bench": "first_request_tls", "binary": str(args.binary), "runs": args.runs,
                      "password_hash": args.password_hash, "ms": summary}))
    for name, s in summary.items():
        print(f"{name:6} spawn -> first 200 on GET /api/users/profile: median {s['median']:.2f} ms, p90 {s['p90']:.2f}, min {s['min']:.2f}, max {s['max']:.2f}")
    print(f"TLS costs {summary['tls']['median'] - summary['plain']['median']:.2f} ms of the median; target: tls median < 15 ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
