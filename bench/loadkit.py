"""What bench/load.py and bench/faults.py share: private PostgreSQL and Redis servers that a script
may stop and restart (never the machine's shared :5432 and :6379, which other people's tests use),
the local fakes (the Messages API, Service Bus with a host that delivers to the handler, the
managed-identity endpoint), the handler process, the seeded accounts, and the load generator
(locust, from PyPI, in a venv under .healthsync/).

Everything listens on 127.0.0.1. Python 3.11 standard library (locust and matplotlib live in the
venv and run as child processes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from need import find, need  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
VENV = ROOT / ".healthsync" / "bench-venv"
# Pinned: what the figures in bench/README.md were measured with.
VENV_PACKAGES = ["locust==2.47.0", "matplotlib==3.11.2"]
MISSIONS = ["water-8-cups", "walk-7000-steps", "sleep-7-hours", "breathing-5", "bp-check"]
KID = "load"


# ---------------------------------------------------------------- small helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, seconds: float = 30, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {seconds} s")


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def user_id(i: int) -> str:
    # Decimal digits are hex digits: the SQL side builds the same id with lpad(i::text, 12, '0').
    return f"00000000-0000-4000-8000-{i:012d}"


# Our access tokens live 15 minutes (AUTH_ACCESS_TTL_SECS' default, which the stack keeps) and the
# app renews its token a minute before it expires.
ACCESS_TTL = 900
RENEW_BEFORE = 60


def token(secret: bytes, sub: str, ttl: int = ACCESS_TTL, iat: int | None = None, jti: str | None = None) -> str:
    """An access token as the server issues them (HS256 with a kid; src/users/tokens.rs)."""
    now = int(time.time()) if iat is None else iat
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": KID}).encode())
    claims = {"sub": sub, "iss": "healthsync", "aud": "healthsync-app", "iat": now, "exp": now + ttl,
              "jti": jti or uuid.uuid4().hex}
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


def account_token(secret: bytes, account: int, now: float | None = None) -> str:
    """The token account `account`'s phone holds at `now`: as with the app, one token at a time,
    renewed RENEW_BEFORE seconds before it expires, each phone on its own schedule (a phase per
    account). Every process computes the same token for the same account and moment, so the
    seeding and each locust process hold one population of tokens, as a server in service sees
    one token per signed-in phone, not one per session."""
    period = ACCESS_TTL - RENEW_BEFORE
    phase = (account * 7919) % period
    n = (int(time.time() if now is None else now) + phase) // period
    iat = n * period - phase
    jti = hmac.new(secret, f"{account}:{n}".encode(), hashlib.sha256).hexdigest()[:32]
    return token(secret, user_id(account), iat=iat, jti=jti)


def ensure_venv() -> Path:
    """The venv's python with locust and matplotlib, made on first use (never system-wide)."""
    py = VENV / "bin" / "python"
    probe = [str(py), "-c", "import locust, matplotlib"]
    if py.exists() and subprocess.run(probe, capture_output=True).returncode == 0:
        return py
    print(f"bench: installing {', '.join(VENV_PACKAGES)} into {VENV.relative_to(ROOT)}", file=sys.stderr, flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    run = subprocess.run([str(VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check", *VENV_PACKAGES])
    if run.returncode != 0 or subprocess.run(probe, capture_output=True).returncode != 0:
        sys.exit(f"bench: could not install {' '.join(VENV_PACKAGES)} from PyPI into {VENV}")
    return py


def as_postgres(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    """initdb and postgres refuse to run as root: as root, run them as the `postgres` account."""
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- PostgreSQL and Redis of our own

class Postgres:
    """A private cluster in a temp dir on a free port, which a script may stop and start at will."""

    def __init__(self, tmp: Path):
        need("initdb", "pg_ctl", "psql")
        self.dir = tmp / "pg"
        self.data, self.run = self.dir / "data", self.dir / "run"
        self.dir.mkdir(parents=True)
        self.run.mkdir()
        tmp.chmod(0o755)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.run, "postgres")
        out = as_postgres([find("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"])
        if out.returncode:
            raise RuntimeError(f"initdb failed: {out.stderr[-2000:]}")
        self.port = free_port()
        # Durable as a real server is (fsync and synchronous commit on: the defaults).
        with open(self.data / "postgresql.conf", "a") as f:
            f.write(f"\nport = {self.port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{self.run}'\n"
                    "max_connections = 200\n")
        self.admin_url = f"postgres://postgres@127.0.0.1:{self.port}/postgres"
        self.start()

    def pid(self) -> int:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return -1

    def url(self, db: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        out = as_postgres([find("pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "pg.log"), "-w", "-t", "60", "start"])
        if out.returncode:
            raise RuntimeError(f"pg_ctl start failed: {out.stderr[-2000:]}")

    def stop(self, mode: str = "immediate") -> None:
        """`immediate`: every backend dies at once, as in a crash or a failover (recovery on start)."""
        as_postgres([find("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def psql(self, db: str, sql: str) -> str:
        out = subprocess.run(["psql", self.url(db), "-X", "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql],
                             capture_output=True, text=True)
        if out.returncode:
            raise RuntimeError(f"psql failed: {out.stderr.strip()[-2000:]}")
        return out.stdout.strip()

    def close(self) -> None:
        self.stop("immediate")


class Redis:
    """redis-server on a free port (no persistence: a restart comes back empty, like a cache)."""

    def __init__(self, tmp: Path):
        need("redis-server")
        self.port = free_port()
        self.dir = tmp
        self.proc: subprocess.Popen | None = None
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
                                      "--appendonly", "no", "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port, 10, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()  # as a crashed or failed-over cache: connections drop at once
            self.proc.wait()

    close = stop


# ---------------------------------------------------------------- the managed-identity endpoint

class Identity(BaseHTTPRequestHandler):
    """The App Service managed-identity endpoint (api-version 2019-08-01), as the Functions host
    provides it through IDENTITY_ENDPOINT and IDENTITY_HEADER
    (https://learn.microsoft.com/azure/app-service/overview-managed-identity#rest-endpoint-reference)."""

    def do_GET(self) -> None:
        if self.headers.get("X-IDENTITY-HEADER") != "bench":
            self.send_response(400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = json.dumps({"access_token": "bench-token", "expires_on": str(int(time.time()) + 3600),
                           "resource": "https://servicebus.azure.net", "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def serve_identity() -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Identity)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


# ---------------------------------------------------------------- fakes run as child processes

class Child:
    """A fake in its own process (bench/fakes.py), so stopping it drops every connection at once,
    as an outage does, and restarting it comes back on the same port."""

    def __init__(self, name: str, args: list[str], tmp: Path):
        self.name, self.args, self.port = name, args, free_port()
        self.log = tmp / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([sys.executable, str(BENCH / "fakes.py"), self.name, "--port", str(self.port), *self.args],
                                     stdout=subprocess.DEVNULL, stderr=open(self.log, "a"))
        wait_port(self.port, 15, self.proc)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    close = stop

    def control(self, path: str, body: dict | None = None) -> dict:
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST" if body is not None else "GET", path, body=json.dumps(body) if body is not None else None)
        r = c.getresponse()
        data = r.read()
        c.close()
        return json.loads(data or b"{}")


# ---------------------------------------------------------------- the handler

class Handler:
    """`healthsync serve` as the Functions host runs it: one private port that survives a restart."""

    def __init__(self, binary: str, env: dict[str, str], tmp: Path, port: int):
        self.binary, self.env, self.port = binary, env, port
        self.env["FUNCTIONS_CUSTOMHANDLER_PORT"] = str(self.port)
        self.log = tmp / "server.log"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "serve"], env=self.env, stdout=open(self.log, "a"),
                                     stderr=subprocess.STDOUT)
        wait_port(self.port, 30, self.proc)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def close(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def rss_kib(self) -> int | None:
        try:
            for line in open(f"/proc/{self.proc.pid}/status"):
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, AttributeError):
            return None
        return None

    def invoke(self, function: str, data: dict, timeout: float = 60) -> int:
        """`POST /{Function}` as the host invokes a timer."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("POST", f"/{function}", body=json.dumps({"Data": data, "Metadata": {}}),
                      headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            return r.status
        except OSError:
            return 0
        finally:
            c.close()


class Sweeper:
    """The host's timer for `OutboxRelay` (OUTBOX_RELAY_SCHEDULE, once a minute by default)."""

    def __init__(self, handler: Handler, every: float):
        self.handler, self.every, self.stop_ev = handler, every, threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        timer = {"timer": {"ScheduleStatus": None, "IsPastDue": False}}
        while not self.stop_ev.wait(self.every):
            self.handler.invoke("OutboxRelay", timer)

    def now(self) -> int:
        return self.handler.invoke("OutboxRelay", {"timer": {"ScheduleStatus": None, "IsPastDue": False}})

    def close(self) -> None:
        self.stop_ev.set()


# ---------------------------------------------------------------- the whole stack

CHECKUP = {"checkupDate": "2026-10-01", "systolic": 132, "diastolic": 84, "fastingGlucose": 112, "height": 175,
           "weight": 72, "waist": 86, "totalCholesterol": 210, "hdl": 45, "triglycerides": 160, "ldl": 131,
           "hemoglobin": 14.5, "ast": 28, "alt": 35, "ggt": 40}


class Stack:
    """Our PostgreSQL and Redis, the fakes, the handler and the seeded accounts."""

    DB = "healthsync_load"

    def __init__(self, binary: str, accounts: int, sweep_seconds: float, extra_env: dict[str, str] | None = None):
        self.tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
        self.closers: list = []
        self.accounts = accounts
        self.secret = os.urandom(32)
        try:
            self.pg = Postgres(self.tmp)
            self.closers.append(self.pg)
            self.redis = Redis(self.tmp)
            self.closers.append(self.redis)
            self.ident, ident_port = serve_identity()
            self.claude = Child("messages", [], self.tmp)
            self.closers.append(self.claude)
            self.pg.psql("postgres", f"CREATE DATABASE {self.DB}")
            self.db_url = self.pg.url(self.DB)
            migrate = subprocess.run([binary, "migrate"], env={"PATH": os.environ["PATH"], "DATABASE_URL": self.db_url,
                                                               "RUST_LOG": "warn"}, capture_output=True, text=True)
            if migrate.returncode:
                raise RuntimeError(f"migrate failed: {migrate.stderr[-2000:]}")
            env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "RUST_LOG": "warn",
                   "DATABASE_URL": self.db_url, "REDIS_URL": self.redis.url,
                   "AUTH_SIGNING_KEYS": f"{KID}:{b64url(self.secret)}",
                   "ANTHROPIC_API_KEY": "bench-key", "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{self.claude.port}",
                   # Spending limits are not what is measured: a user past the budget gets the offline coach.
                   "AI_DAILY_TOKEN_BUDGET": "100000000",
                   "ServiceBusConnection__fullyQualifiedNamespace": "bench.servicebus.windows.net",
                   "IDENTITY_ENDPOINT": f"http://127.0.0.1:{ident_port}/msi/token", "IDENTITY_HEADER": "bench"}
            env.update(extra_env or {})
            # The Service Bus fake needs the handler's port (it delivers like the host); the handler
            # needs the fake's: the handler's port is chosen first.
            self.handler_port = free_port()
            self.bus = Child("servicebus", ["--handler-port", str(self.handler_port),
                                            "--catalog", str(ROOT / "infra" / "catalog.json"),
                                            "--journal", str(self.tmp / "servicebus.jsonl")], self.tmp)
            self.closers.append(self.bus)
            env["SERVICE_BUS_ENDPOINT"] = f"http://127.0.0.1:{self.bus.port}/"
            self.handler = Handler(binary, env, self.tmp, self.handler_port)
            self.closers.append(self.handler)
            self.sweeper = Sweeper(self.handler, sweep_seconds)
            self.closers.append(self.sweeper)
            self.seed()
        except BaseException:
            self.close()
            raise

    def sql(self, q: str) -> str:
        return self.pg.psql(self.DB, q)

    def pg_pid(self) -> int:
        return self.pg.pid()

    def seed(self) -> None:
        """Accounts 1..N: onboarded, both consents, an open goal of five missions begun two days ago
        with both earlier days done (so today's first completion of each mission makes a 3-day
        streak: `goal.achieved`, then a celebration in the inbox), and one checkup entered through
        the API; every diagnosis is asked once (the fake answering at once) so the mix reads the
        cached one, as a returning user does."""
        n = self.accounts
        uid = "('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid"
        gid = "('00000000-0000-4000-9000-' || lpad(i::text, 12, '0'))::uuid"
        today = "(now() AT TIME ZONE 'Asia/Seoul')::date"
        missions = ",".join(f"('{m}', {k + 1})" for k, m in enumerate(MISSIONS))
        t0 = time.monotonic()
        self.sql(f"""
            INSERT INTO users.users (id, status, name, birth_date, sex, occupation)
              SELECT {uid}, 'ACTIVE', '부하', '1985-06-01', 'FEMALE', '사무직' FROM generate_series(1, {n}) i;
            INSERT INTO users.consents (user_id, kind, version, granted)
              SELECT u.id, k, '2026-11', true FROM users.users u, unnest(ARRAY['HEALTH_DATA', 'AI_OVERSEAS_TRANSFER']) k;
            INSERT INTO goals.goals (id, user_id, start_date)
              SELECT {gid}, {uid}, {today} - 2 FROM generate_series(1, {n}) i;
            INSERT INTO goals.goal_missions (goal_id, mission_id, position)
              SELECT {gid}, m.id, m.pos FROM generate_series(1, {n}) i, (VALUES {missions}) AS m(id, pos);
            INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, streak_days, points)
              SELECT {uid}, m.id, {today} - d, {gid}, now() - d * interval '1 day', 3 - d, 10
              FROM generate_series(1, {n}) i, (VALUES {missions}) AS m(id, pos), generate_series(1, 2) d;""")
        secret = self.secret

        def onboard(i: int) -> None:
            tok = account_token(secret, i)
            c = http.client.HTTPConnection("127.0.0.1", self.handler_port, timeout=60)
            h = {"authorization": f"Bearer {tok}", "content-type": "application/json"}
            c.request("POST", "/api/health/checkups", body=json.dumps(CHECKUP), headers=h)
            r = c.getresponse()
            body = r.read()
            if r.status != 201:
                raise RuntimeError(f"seeding a checkup answered {r.status}: {body[:300]!r}")
            c.request("GET", "/api/intelligence/health/diagnosis", headers=h)
            r = c.getresponse()
            body = r.read()
            if r.status != 200 or json.loads(body)["data"]["engine"] != "claude":
                raise RuntimeError(f"warming a diagnosis answered {r.status}: {body[:300]!r}")
            c.close()

        self.claude.control("/_bench/pace", {"paced": False})
        with ThreadPoolExecutor(8) as ex:
            list(ex.map(onboard, range(1, n + 1)))
        self.claude.control("/_bench/pace", {"paced": True})
        self.sql("VACUUM ANALYZE")
        print(f"== seeded {n} accounts in {time.monotonic() - t0:.1f} s", flush=True)

    def close(self) -> None:
        for c in reversed(self.closers):
            try:
                c.close()
            except Exception as e:  # noqa: BLE001 - tearing down: go on with the rest
                print(f"bench: closing {type(c).__name__}: {e}", file=sys.stderr)
        if os.environ.get("BENCH_KEEP_TMP"):
            print(f"bench: kept {self.tmp} (BENCH_KEEP_TMP)", file=sys.stderr)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


# ---------------------------------------------------------------- the load generator

class Locust:
    """One headless locust run of the mix (bench/load_locust.py) at an offered rate; every request
    is written to `samples` as `end_unix_s,name,ms,status,note`."""

    PER_USER_RATE = 2.0  # requests a second of one virtual user (a person tapping through the app)
    # Locust processes. One gevent process on this 2-core machine was itself the bottleneck: at
    # 100 req/s it measured active missions at p50 12.7 ms while a probe on its own connection got
    # 0.67 ms from the same server at the same moment; with 4 processes locust measured 3.0 ms
    # (bench/load_probe.py; bench/README.md, "The load generator's own latency").
    PROCESSES = int(os.environ.get("LOAD_LOCUST_PROCESSES", "4"))

    def __init__(self, py: Path, stack: Stack, rate: float, seconds: float, samples: Path, first_account: int,
                 session_requests: int = 12):
        users = max(4, int(-(-rate // self.PER_USER_RATE)))
        env = {**os.environ, "LOAD_SECRET": b64url(stack.secret), "LOAD_ACCOUNTS": str(stack.accounts),
               "LOAD_FIRST_ACCOUNT": str(first_account), "LOAD_SAMPLES": str(samples),
               "LOAD_USER_RATE": str(rate / users), "LOAD_SESSION_REQUESTS": str(session_requests),
               "LOAD_PROCESSES": str(self.PROCESSES)}
        self.proc = subprocess.Popen(
            [str(py), "-m", "locust", "-f", str(BENCH / "load_locust.py"), "--headless", "--host",
             f"http://127.0.0.1:{stack.handler_port}", "-u", str(users), "-r", str(max(1, users // 2)),
             "--processes", str(self.PROCESSES),
             "-t", f"{int(seconds)}s", "--stop-timeout", "15", "--only-summary", "--loglevel", "ERROR",
             "--exit-code-on-error", "0"],
            env=env, stdout=subprocess.DEVNULL, stderr=open(samples.with_suffix(".locust.log"), "w"))
        self.users = users

    def wait(self) -> int:
        return self.proc.wait()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def read_samples(path: Path) -> list[tuple[float, str, float, int, str]]:
    rows = []
    try:
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split(",")
                if len(p) == 5:
                    rows.append((float(p[0]), p[1], float(p[2]), int(p[3]), p[4]))
    except FileNotFoundError:
        pass
    return rows


def quantile(values: list[float], q: float) -> float:
    """Nearest rank, q in (0, 1]."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-q * len(s) // 1)) - 1))
    return s[k]


MODEL_BOUND = {"chat"}  # answers written by the (paced) model: seconds, not our latency
