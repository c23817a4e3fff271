#!/usr/bin/env python3
"""Benchmarks of the goals domain's hot paths (DESIGN.md §7), each as a ratio measured in one run.

1. Active missions with a warm cache: `GET /api/goals/missions/active` (Redis, as in Azure)
   against `GET /api/system/live` of the same process, in alternating wrk rounds. Target >= 0.5.
2. Completions per second: `PUT /api/goals/missions/{id}/complete`, each request a new completion
   of a distinct (user, mission) for today, against pgbench running the same SQL statements the
   app's completion transaction runs (bench/goals_complete.sql), with as many connections as the
   app's pool, in alternating rounds. Target >= 0.6.

It makes its own database (`healthsync_bench_goals`, dropped first), migrates it with the
binary, seeds users with an open goal of five missions (and yesterday's completions, so every
completion extends a streak), signs access tokens with a key it gives the server, and uses Redis
database 7 (never the tests' database 0); both are emptied afterwards (`--keep-db` keeps the
database). Needs the release binary, wrk, pgbench, psql, and
PostgreSQL and Redis on 127.0.0.1. Prints a JSON line and a summary.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import shutil
import signal
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
MISSIONS = ["water-8-cups", "walk-7000-steps", "sleep-7-hours", "breathing-5", "bp-check"]
DB = "healthsync_bench_goals"
PENDING_BASE = 900_000
HZ = os.sysconf("SC_CLK_TCK")


def user_id(i: int) -> str:
    # Decimal digits are hex digits: the SQL side builds the same id with lpad(i::text, 12, '0').
    return f"00000000-0000-4000-8000-{i:012d}"


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(secret: bytes, sub: str) -> str:
    """An access token as the server issues them (HS256 with a kid; see src/users/tokens.rs)."""
    now = int(time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "bench"}).encode())
    claims = {"sub": sub, "iss": "healthsync", "aud": "healthsync-app", "iat": now, "exp": now + 3600,
              "jti": uuid.uuid4().hex}
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


def psql(url: str, sql: str) -> str:
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


def seed(url: str, users: int, pending: int) -> None:
    uid = "('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid"
    gid = "('00000000-0000-4000-9000-' || lpad(i::text, 12, '0'))::uuid"
    today = "(now() AT TIME ZONE 'Asia/Seoul')::date"
    missions = ",".join(f"('{m}', {n + 1})" for n, m in enumerate(MISSIONS))
    psql(url, f"""
        INSERT INTO users.users (id, status, name, birth_date, sex)
          SELECT {uid}, 'ACTIVE', '벤치', '1990-01-01', 'FEMALE' FROM generate_series(1, {users}) i;
        INSERT INTO goals.goals (id, user_id, start_date)
          SELECT {gid}, {uid}, {today} - 1 FROM generate_series(1, {users}) i;
        INSERT INTO goals.goal_missions (goal_id, mission_id, position)
          SELECT {gid}, m.id, m.pos FROM generate_series(1, {users}) i, (VALUES {missions}) AS m(id, pos);
        INSERT INTO goals.completions (user_id, mission_id, day, goal_id, completed_at, streak_days, points)
          SELECT {uid}, m.id, {today} - 1, {gid}, now() - interval '1 day', 1, 10
          FROM generate_series(1, {users}) i, (VALUES {missions}) AS m(id, pos);""")
    # Signed-up accounts that never finished onboarding: the active route answers them 403 right after
    # the token and account check, which measures what authentication alone costs.
    psql(url, f"""INSERT INTO users.users (id) SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid
                  FROM generate_series({PENDING_BASE + 1}, {PENDING_BASE + pending}) i""")
    psql(url, "VACUUM ANALYZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def busy_jiffies() -> int:
    f = open("/proc/stat").readline().split()[1:]
    u, n, s, _i, _w, irq, sirq, st = (int(x) for x in f[:8])
    return u + n + s + irq + sirq + st


def proc_jiffies(pid: int) -> int:
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(f[11]) + int(f[12])


def lua_list(path: Path, rows: list[tuple[str, str]]) -> None:
    path.write_text("".join(f"{t} {m}\n" for t, m in rows))


WRK_LUA = """
local file, nthreads = "%(file)s", %(threads)d
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  items, idx, n = {}, 0, 0
  for line in io.lines(file) do
    if n %% nthreads == tid then
      local t, m = line:match("^(%%S+) (%%S+)$")
      table.insert(items, {t = t, m = m})
    end
    n = n + 1
  end
end
function request()
  idx = idx + 1
  local it = items[((idx - 1) %% #items) + 1]
  %(request)s
end
"""

ACTIVE_REQ = ('return wrk.format("GET", "/api/goals/missions/active", '
              '{["Authorization"] = "Bearer " .. it.t})')
COMPLETE_REQ = ('return wrk.format("PUT", "/api/goals/missions/" .. it.m .. "/complete", '
                '{["Authorization"] = "Bearer " .. it.t, ["Content-Type"] = "application/json"}, '
                "'{\"completed\":true}')")


def wrk(base: str, path: str, duration: float, threads: int, conns: int, script: Path | None, pid: int) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration:g}s", "--latency"]
    if script:
        cmd += ["-s", str(script)]
    cmd.append(base + path)
    b0, v0, w0 = busy_jiffies(), proc_jiffies(pid), time.monotonic()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    b1, v1, w1 = busy_jiffies(), proc_jiffies(pid), time.monotonic()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    nreq = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    return {
        "rps": rps, "requests": nreq, "seconds": w1 - w0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in re.findall(r"\d+", errs.group(1))) if errs else 0,
        "server_us_per_req": round((v1 - v0) / HZ / max(nreq, 1) * 1e6, 2),
        "machine_busy_pct": round((b1 - b0) / HZ / ((w1 - w0) * os.cpu_count()) * 100, 1),
    }


def completions_since(url: str, first_user: int, last_user: int) -> int:
    return int(psql(url, f"""SELECT count(*) FROM goals.completions
        WHERE day = (now() AT TIME ZONE 'Asia/Seoul')::date
          AND user_id BETWEEN '{user_id(first_user)}' AND '{user_id(last_user)}'"""))


def pgbench(url: str, clients: int, duration: float, first_user: int, users: int) -> dict:
    script = ROOT / "bench" / "goals_complete.sql"
    cmd = ["pgbench", "-n", "-M", "prepared", "-c", str(clients), "-j", "1", "-T", str(int(duration)),
           "-D", "n=-1", "-D", f"first_user={first_user}", "-D", f"users={users}", "-D", f"clients={clients}", "-f", str(script), url]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"pgbench failed: {run.stderr.strip()[-2000:]}")
    out = run.stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", out)
    return {"tps": tps, "transactions": done, "failed": int(failed.group(1)) if failed else 0}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "target/release/healthsync"))
    ap.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    ap.add_argument("--cache", choices=["redis", "memory"], default="redis",
                    help="the server's cache: Redis (as in Azure) or the in-process one (as in `healthsync dev`)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--connections", type=int, default=64, help="wrk connections")
    ap.add_argument("--pool", type=int, default=5, help="the app's DB_POOL_MAX and pgbench's clients")
    ap.add_argument("--active-users", type=int, default=1000)
    ap.add_argument("--keep-db", action="store_true", help="leave the benchmark database for inspection")
    ap.add_argument("--pairs-per-round", type=int, default=20000,
                    help="distinct (user, mission) pairs each completion round may use")
    a = ap.parse_args()
    need("wrk", "pgbench", "psql")
    need_binary(a.binary)
    if not Path(a.binary).exists():
        print(f"error: {a.binary} not found; run `cargo build --release`", file=sys.stderr)
        return 2

    users_per_round = a.pairs_per_round // len(MISSIONS)
    # Users: [1, active] read; then per round an HTTP range and a pgbench range.
    http_first = [a.active_users + 1 + r * 2 * users_per_round for r in range(a.rounds)]
    pg_first = [f + users_per_round for f in http_first]
    total_users = a.active_users + 2 * a.rounds * users_per_round
    db_url = a.admin_url.rsplit("/", 1)[0] + "/" + DB

    print(f"== setup: database {DB}, {total_users} users", flush=True)
    psql(a.admin_url, f"DROP DATABASE IF EXISTS {DB}")
    psql(a.admin_url, f"CREATE DATABASE {DB}")
    subprocess.run([a.binary, "migrate"], check=True, env={**os.environ, "DATABASE_URL": db_url, "RUST_LOG": "warn"},
                   capture_output=True)
    seed(db_url, total_users, a.active_users)
    subprocess.run(["redis-cli", "-u", a.redis_url, "FLUSHDB"], check=True, capture_output=True)

    secret = secrets.token_bytes(32)
    tmp = Path(tempfile.mkdtemp(prefix="bench-goals-"))
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "RUST_LOG": "warn",
           "FUNCTIONS_CUSTOMHANDLER_PORT": str(port), "DATABASE_URL": db_url,
           "AUTH_SIGNING_KEYS": f"bench:{b64url(secret)}", "DB_POOL_MAX": str(a.pool),
           "AUTH_ACCESS_TTL_SECS": "3600"}
    if a.cache == "redis":
        env["REDIS_URL"] = a.redis_url
    server = subprocess.Popen([a.binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / "server.log", "w"))
    try:
        return run(a, server, port, secret, tmp, db_url, users_per_round, http_first, pg_first)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["redis-cli", "-u", a.redis_url, "FLUSHDB"], capture_output=True)
        if not a.keep_db:
            psql(a.admin_url, f"DROP DATABASE IF EXISTS {DB}")


def run(a, server, port, secret, tmp, db_url, users_per_round, http_first, pg_first) -> int:
    base = f"http://127.0.0.1:{port}"
    for _ in range(500):
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/api/system/live")
            if c.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.01)
    active_tokens = [token(secret, user_id(i)) for i in range(1, a.active_users + 1)]
    # Warm the cache: every reader's view (and account status) once.
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for t in active_tokens:
        c.request("GET", "/api/goals/missions/active", headers={"Authorization": f"Bearer {t}"})
        r = c.getresponse()
        body = json.loads(r.read())
        assert r.status == 200 and body["data"]["totalMissions"] == 5, body
    pending_tokens = [token(secret, user_id(PENDING_BASE + i)) for i in range(1, a.active_users + 1)]
    for t in pending_tokens:
        c.request("GET", "/api/goals/missions/active", headers={"Authorization": f"Bearer {t}"})
        r = c.getresponse()
        r.read()
        assert r.status == 403, r.status
    active_list, active_lua = tmp / "active.txt", tmp / "active.lua"
    lua_list(active_list, [(t, "-") for t in active_tokens])
    active_lua.write_text(WRK_LUA % {"file": active_list, "threads": a.threads, "request": ACTIVE_REQ})
    pending_list, pending_lua = tmp / "pending.txt", tmp / "pending.lua"
    lua_list(pending_list, [(t, "-") for t in pending_tokens])
    pending_lua.write_text(WRK_LUA % {"file": pending_list, "threads": a.threads, "request": ACTIVE_REQ})

    print(f"== active missions (warm {a.cache} cache) vs live: {a.rounds} x {a.duration:.0f} s, wrk -t{a.threads} -c{a.connections}",
          flush=True)
    xact = f"SELECT xact_commit FROM pg_stat_database WHERE datname = '{DB}'"
    wrk(base, "/api/system/live", 1, a.threads, a.connections, None, server.pid)
    wrk(base, "/", 1, a.threads, a.connections, active_lua, server.pid)
    live, active, auth = [], [], []
    x0 = int(psql(db_url, xact))
    for r in range(a.rounds):
        live.append(wrk(base, "/api/system/live", a.duration, a.threads, a.connections, None, server.pid))
        active.append(wrk(base, "/", a.duration, a.threads, a.connections, active_lua, server.pid))
        x1 = int(psql(db_url, xact))
        auth.append(wrk(base, "/", a.duration, a.threads, a.connections, pending_lua, server.pid))
        x0 += int(psql(db_url, xact)) - x1
        for name, m in (("live", live[-1]), ("active", active[-1]), ("auth", auth[-1])):
            print(f"  round {r + 1} {name:6} {m['rps']:9.0f} req/s  server {m['server_us_per_req']:6.2f} µs/req  "
                  f"machine busy {m['machine_busy_pct']:5.1f}%  non-2xx {m['non2xx']}  sock err {m['socket_errors']}"
                  + ("  (403 expected: the auth floor)" if name == "auth" else ""),
                  flush=True)
    db_per_req = (int(psql(db_url, xact)) - x0) / sum(m["requests"] for m in active)

    print(f"== completions: HTTP (DB_POOL_MAX={a.pool}) vs pgbench -c {a.pool} running the same SQL", flush=True)
    http_rounds, pg_rounds = [], []
    for r in range(a.rounds):
        first = http_first[r]
        rows = [(token(secret, user_id(first + k // len(MISSIONS))), MISSIONS[k % len(MISSIONS)])
                for k in range(users_per_round * len(MISSIONS))]
        # Mission by mission, user after user: the order pgbench's script takes its pairs in.
        rows.sort(key=lambda tm: MISSIONS.index(tm[1]))
        lst, lua = tmp / f"complete{r}.txt", tmp / f"complete{r}.lua"
        lua_list(lst, rows)
        lua.write_text(WRK_LUA % {"file": lst, "threads": a.threads, "request": COMPLETE_REQ})
        m = wrk(base, "/", a.duration, a.threads, a.connections, lua, server.pid)
        made = completions_since(db_url, first, first + users_per_round - 1)
        m["completions"] = made
        m["completions_per_s"] = round(made / m["seconds"], 1)
        m["exhausted"] = made >= len(rows)
        http_rounds.append(m)
        p = pgbench(db_url, a.pool, a.duration, pg_first[r], users_per_round)
        p["rows"] = completions_since(db_url, pg_first[r], pg_first[r] + users_per_round - 1)
        p["exhausted"] = p["rows"] >= users_per_round * len(MISSIONS)
        pg_rounds.append(p)
        print(f"  round {r + 1} HTTP    {m['completions_per_s']:8.0f} completions/s ({made} rows; wrk {m['rps']:.0f} req/s, "
              f"non-2xx {m['non2xx']}, server {m['server_us_per_req']:.1f} µs/req, machine busy {m['machine_busy_pct']}%)"
              + ("  EXHAUSTED: raise --pairs-per-round" if m["exhausted"] else ""), flush=True)
        print(f"  round {r + 1} pgbench {p['tps']:8.0f} tx/s ({p['transactions']} tx, {p['rows']} rows, {p['failed']} failed)"
              + ("  EXHAUSTED: raise --pairs-per-round" if p["exhausted"] else ""), flush=True)

    live_rps = statistics.mean(m["rps"] for m in live)
    active_rps = statistics.mean(m["rps"] for m in active)
    live_us = statistics.median(m["server_us_per_req"] for m in live)
    active_us = statistics.median(m["server_us_per_req"] for m in active)
    auth_rps = statistics.mean(m["rps"] for m in auth)
    auth_us = statistics.median(m["server_us_per_req"] for m in auth)
    http_cps = statistics.mean(m["completions_per_s"] for m in http_rounds)
    pg_tps = statistics.mean(p["tps"] for p in pg_rounds)
    result = {
        "bench": "goals", "cache": a.cache,
        "active": {"live_rps": round(live_rps, 1), "active_rps": round(active_rps, 1),
                   "ratio": round(active_rps / live_rps, 3),
                   "ratio_best_rounds": round(max(m["rps"] for m in active) / max(m["rps"] for m in live), 3),
                   "server_us_per_req": {"live": live_us, "active": active_us,
                                         "ratio_live_to_active": round(live_us / active_us, 3)},
                   "db_transactions_per_request": round(db_per_req, 4),
                   "auth_floor": {"rps": round(auth_rps, 1), "ratio_to_live": round(auth_rps / live_rps, 3),
                                  "server_us_per_req": auth_us},
                   "rounds": {"live": live, "active": active, "auth": auth}},
        "complete": {"http_completions_per_s": round(http_cps, 1), "pgbench_tps": round(pg_tps, 1),
                     "ratio": round(http_cps / pg_tps, 3),
                     "ratio_best_rounds": round(max(m["completions_per_s"] for m in http_rounds)
                                                / max(p["tps"] for p in pg_rounds), 3),
                     "pool": a.pool,
                     "rounds": {"http": http_rounds, "pgbench": pg_rounds}},
        "loadavg": open("/proc/loadavg").read().split()[:3],
    }
    print(json.dumps(result))
    print(f"active (warm cache) / live: {active_rps:.0f} / {live_rps:.0f} req/s = {active_rps / live_rps:.3f} "
          f"(target >= 0.5); by server CPU per request {live_us:.2f} / {active_us:.2f} µs = {live_us / active_us:.3f}; "
          f"{db_per_req:.4f} DB transactions per active request")
    print(f"auth floor (token + account check, then 403): {auth_rps:.0f} req/s = {auth_rps / live_rps:.3f} of live, "
          f"{auth_us:.2f} µs/req; the goals part of an active request costs {active_us - auth_us:.2f} µs")
    best = max(m["completions_per_s"] for m in http_rounds) / max(p["tps"] for p in pg_rounds)
    print(f"completions / pgbench same SQL: {http_cps:.0f} / {pg_tps:.0f} per s = {http_cps / pg_tps:.3f} (target >= 0.6); "
          f"best rounds {best:.3f} (other load only ever lowers a round)")
    bad = any(m["non2xx"] or m["socket_errors"] for m in live + active + http_rounds)
    bad |= any(m["socket_errors"] or m["non2xx"] != m["requests"] for m in auth)
    bad |= any(m["exhausted"] for m in http_rounds) or any(p["exhausted"] or p["failed"] for p in pg_rounds)
    if bad:
        print("WARNING: errors or exhausted pairs in some round; see above")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
