#!/usr/bin/env python3
"""Benchmark of the intelligence domain's cache: a cached diagnosis against an uncached one.

`GET /api/intelligence/health/diagnosis` for users who granted both consents and have one checkup,
with Claude replaced by a local fake of the Messages API (a threaded Python server answering as
the current API does: a `thinking` block, then the structured answer as JSON in a `text` block,
`stop_reason: end_turn`; at once, after `--fake-latency-ms`, or with `--paced` at a model's pace:
the first token after 1.2 s, then 60-100 tokens a second drawn per answer, thinking included, 1.5
tokens per Hangul syllable; docs/intelligence.md "Sizes"). With `--paced` the uncached requests of a
pass run `--concurrency` at a time and the script reports their p50/p99. For each user the first
request is a miss (the assessment, the profile, one Messages API call through the client, the
usage row and the `ai.call` event) and the second a hit (the cached explanation and an `ai.call`
event marking the cache hit). Requests are sequential on one keep-alive connection, so the
figures are latencies; the ratio is uncached / cached median latency (how many cached answers
fit in the time of one uncached one) measured in one run, in alternating passes over fresh users.

It makes its own database (`healthsync_bench_intel`, dropped first), migrates it with the binary,
seeds users by SQL and their consents and checkups through the API, uses Redis database 7, and
signs access tokens with a key it gives the server. Needs the binary (release by default), psql,
PostgreSQL and Redis on 127.0.0.1. Prints a JSON line and a summary.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from need import need, need_binary

ROOT = Path(__file__).resolve().parent.parent
DB = "healthsync_bench_intel"


def b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def token(secret: bytes, sub: str) -> str:
    """An access token as the server issues them (HS256 with a kid; see src/users/tokens.rs)."""
    now = int(time.time())
    header = b64url(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "bench"}).encode())
    claims = {"sub": sub, "iss": "healthsync", "aud": "healthsync-app", "iat": now, "exp": now + 600,
              "jti": uuid.uuid4().hex}
    body = b64url(json.dumps(claims).encode())
    sig = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64url(sig)}"


def psql(url: str, sql: str) -> str:
    out = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-qAt", "-c", sql], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"psql failed: {out.stderr.strip()}")
    return out.stdout.strip()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


ANSWER = {"sentences": ["2026년 10월 검진에서 판정한 항목을 종합한 건강 점수는 79점으로, 관리 필요도는 보통입니다.",
                         "혈압과 공복혈당이 국가검진 기준상 정상B(경계) 범위라 생활습관 관리가 도움이 됩니다.",
                         "식후 15분 걷기와 국물 줄이기 같은 작은 미션부터 시작해 다음 검진에서 변화를 확인해 보세요."],
          "occupationConsiderations": "사무직이라 오래 앉아 있는 시간이 길다면 50분마다 일어나 5분 걷고, 점심 뒤 짧은 산책으로 활동량을 채워 보세요."}


def est_tokens(text: str) -> int:
    """1.5 per Hangul syllable, 1 per other non-ASCII character, a quarter per ASCII one."""
    q = 0
    for c in text:
        if ord(c) < 128:
            q += 1
        elif 0xAC00 <= ord(c) <= 0xD7A3 or 0x1100 <= ord(c) <= 0x11FF or 0x3130 <= ord(c) <= 0x318F:
            q += 6
        else:
            q += 4
    return -(-q // 4)


class Fake(BaseHTTPRequestHandler):
    """The Messages API's public JSON as of December 2026: structured outputs after a thinking block."""
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    latency = 0.0
    paced = False
    rng = None
    calls = 0
    lock = threading.Lock()

    def do_POST(self):
        length = int(self.headers.get("content-length", 0))
        req = json.loads(self.rfile.read(length) or b"{}")
        with Fake.lock:
            Fake.calls += 1
            tps = Fake.rng.uniform(60, 100) if Fake.paced else 0
            thinking = Fake.rng.randint(50, 250) if Fake.paced else 120
        text = json.dumps(ANSWER, ensure_ascii=False)
        output = thinking + est_tokens(text)
        if req.get("tool_choice") or req.get("output_config", {}).get("format", {}).get("type") != "json_schema":
            self.reply(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "bench fake: structured outputs only"}})
            return
        if Fake.paced:
            time.sleep(1.2 + output / tps)
        elif Fake.latency:
            time.sleep(Fake.latency)
        self.reply(200, {
            "id": "msg_bench", "type": "message", "role": "assistant", "model": req.get("model"),
            "content": [{"type": "thinking", "thinking": "", "signature": "bench"}, {"type": "text", "text": text}],
            "stop_reason": "end_turn", "stop_sequence": None,
            "usage": {"input_tokens": 900, "output_tokens": output},
        })

    def reply(self, status: int, obj: dict):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        model = self.path.rsplit("/", 1)[-1]
        self.reply(200, {"type": "model", "id": model, "display_name": model, "lifecycle": "active"})

    def log_message(self, *args):
        pass


def request(conn: http.client.HTTPConnection, method: str, path: str, tok: str, body=None) -> tuple[int, dict, float]:
    headers = {"authorization": f"Bearer {tok}"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["content-type"] = "application/json"
    t0 = time.perf_counter()
    conn.request(method, path, body=data, headers=headers)
    res = conn.getresponse()
    raw = res.read()
    elapsed = time.perf_counter() - t0
    return res.status, (json.loads(raw) if raw else {}), elapsed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(ROOT / "target/release/healthsync"))
    ap.add_argument("--admin-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--redis-url", default="redis://127.0.0.1:6379/7")
    ap.add_argument("--users", type=int, default=200, help="users per pass")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--fake-latency-ms", type=float, default=0.0,
                    help="how long the fake takes to answer (0: only our own cost is measured)")
    ap.add_argument("--paced", action="store_true",
                    help="the fake answers at a model's pace (1.2 s to the first token, 60-100 tokens/s)")
    ap.add_argument("--concurrency", type=int, default=1, help="uncached requests in flight at once (with --paced)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep-db", action="store_true")
    a = ap.parse_args()
    need("psql")
    need_binary(a.binary)
    if not Path(a.binary).exists():
        print(f"error: {a.binary} not found; run `cargo build --release`", file=sys.stderr)
        return 2
    Fake.latency = a.fake_latency_ms / 1000
    Fake.paced = a.paced
    import random
    Fake.rng = random.Random(a.seed)
    fake = ThreadingHTTPServer(("127.0.0.1", free_port()), Fake)
    threading.Thread(target=fake.serve_forever, daemon=True).start()

    total = a.users * a.passes
    db_url = a.admin_url.rsplit("/", 1)[0] + "/" + DB
    print(f"== setup: database {DB}, {total} users, fake Messages API on :{fake.server_port}", flush=True)
    psql(a.admin_url, f"DROP DATABASE IF EXISTS {DB}")
    psql(a.admin_url, f"CREATE DATABASE {DB}")
    subprocess.run([a.binary, "migrate"], check=True, env={**os.environ, "DATABASE_URL": db_url, "RUST_LOG": "warn"},
                   capture_output=True)
    psql(db_url, f"""
        INSERT INTO users.users (id, status, name, birth_date, sex, occupation)
          SELECT ('00000000-0000-4000-8000-' || lpad(i::text, 12, '0'))::uuid, 'ACTIVE', '벤치', '1985-06-01', 'MALE', '사무직'
          FROM generate_series(1, {total}) i;
        INSERT INTO users.consents (user_id, kind, version, granted)
          SELECT u.id, k, '2026-11', true FROM users.users u, unnest(ARRAY['HEALTH_DATA', 'AI_OVERSEAS_TRANSFER']) k;""")
    subprocess.run(["redis-cli", "-u", a.redis_url, "FLUSHDB"], check=True, capture_output=True)

    secret = secrets.token_bytes(32)
    tmp = Path(tempfile.mkdtemp(prefix="bench-intel-"))
    port = free_port()
    env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/root"), "RUST_LOG": "warn",
           "FUNCTIONS_CUSTOMHANDLER_PORT": str(port), "DATABASE_URL": db_url, "REDIS_URL": a.redis_url,
           "AUTH_SIGNING_KEYS": f"bench:{b64url(secret)}", "ANTHROPIC_API_KEY": "bench-key",
           "ANTHROPIC_BASE_URL": f"http://127.0.0.1:{fake.server_port}", "AI_DAILY_TOKEN_BUDGET": "100000000",
           "AUTH_RATE_LIMIT_PER_MINUTE": "10000"}
    server = subprocess.Popen([a.binary, "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / "server.log", "w"))
    try:
        return run(a, server, port, secret, total, tmp)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        fake.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
        subprocess.run(["redis-cli", "-u", a.redis_url, "FLUSHDB"], capture_output=True)
        if not a.keep_db:
            psql(a.admin_url, f"DROP DATABASE IF EXISTS {DB}")


def run(a, server, port: int, secret: bytes, total: int, tmp: Path) -> int:
    for _ in range(1500):
        if server.poll() is not None:
            raise RuntimeError(f"the server exited: {(tmp / 'server.log').read_text()[-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), 0.1).close()
            break
        except OSError:
            time.sleep(0.02)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    tokens = [token(secret, f"00000000-0000-4000-8000-{i:012d}") for i in range(1, total + 1)]
    for tok in tokens:
        status, body, _ = request(conn, "POST", "/api/health/checkups", tok,
                                  {"checkupDate": "2026-10-01", "systolic": 132, "diastolic": 84, "fastingGlucose": 112,
                                   "height": 175, "weight": 72, "waist": 86, "totalCholesterol": 210, "hdl": 45,
                                   "triglycerides": 160, "ldl": 131, "hemoglobin": 14.5, "ast": 28, "alt": 35, "ggt": 40})
        if status != 201:
            raise RuntimeError(f"seeding a checkup answered {status}: {body}")
    calls_before = Fake.calls
    uncached, cached = [], []

    def one(tok):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=90)
        c.connect()
        c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            s1, b1, t1 = request(c, "GET", "/api/intelligence/health/diagnosis", tok)
            s2, b2, t2 = request(c, "GET", "/api/intelligence/health/diagnosis", tok)
        finally:
            c.close()
        if (s1, s2) != (200, 200) or b1["data"]["engine"] != "claude" or b2["data"]["engine"] != "claude":
            raise RuntimeError(f"unexpected answers: {s1} {s2} {b1} {b2}")
        return t1, t2

    for p in range(a.passes):
        batch = tokens[p * a.users:(p + 1) * a.users]
        if a.concurrency > 1:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(a.concurrency) as ex:
                pairs = list(ex.map(one, batch))
        else:
            pairs = []
            for tok in batch:
                s1, b1, t1 = request(conn, "GET", "/api/intelligence/health/diagnosis", tok)
                s2, b2, t2 = request(conn, "GET", "/api/intelligence/health/diagnosis", tok)
                if (s1, s2) != (200, 200) or b1["data"]["engine"] != "claude" or b2["data"]["engine"] != "claude":
                    raise RuntimeError(f"unexpected answers: {s1} {s2} {b1} {b2}")
                pairs.append((t1, t2))
        us, cs = [t for t, _ in pairs], [t for _, t in pairs]
        uncached += us
        cached += cs
        print(f"  pass {p + 1}: uncached median {statistics.median(us) * 1000:7.3f} ms, "
              f"cached median {statistics.median(cs) * 1000:7.3f} ms, ratio {statistics.median(us) / statistics.median(cs):6.1f}",
              flush=True)
    calls = Fake.calls - calls_before
    u_med, c_med = statistics.median(uncached), statistics.median(cached)
    q = lambda xs, p: sorted(xs)[max(0, math.ceil(len(xs) * p) - 1)]
    result = {
        "users": len(uncached), "fake_latency_ms": a.fake_latency_ms, "paced": a.paced,
        "concurrency": a.concurrency, "fake_calls": calls,
        "uncached_ms": {"median": round(u_med * 1000, 3), "p90": round(q(uncached, 0.9) * 1000, 3),
                        "p99": round(q(uncached, 0.99) * 1000, 3)},
        "cached_ms": {"median": round(c_med * 1000, 3), "p90": round(q(cached, 0.9) * 1000, 3)},
        "uncached_over_cached": round(u_med / c_med, 2),
    }
    print(json.dumps(result))
    print(f"== uncached / cached median latency: {result['uncached_over_cached']} "
          f"({result['uncached_ms']['median']} ms vs {result['cached_ms']['median']} ms; "
          f"{calls} Messages API calls for {len(uncached)} uncached answers)")
    return 0 if calls == len(uncached) else 1


if __name__ == "__main__":
    sys.exit(main())
