#!/usr/bin/env python3
"""Commit -> consumer latency of events (issue 12, item 9): from the commit of a state change and
its outbox row to the consumer's transaction that applies the event, p50 and p99, for

  after   publishing right after commit (the request sends its own events before it answers;
          OUTBOX_PUBLISH_BUDGET_MS=1000), the sweep as the fallback only
  before  the sweep alone, as the app ran before: `OutboxRelay` every 15 s
          (OUTBOX_PUBLISH_BUDGET_MS=0; this script invokes OutboxRelay on that cadence)

What runs: `healthsync serve` (the release binary) against a fresh database on the local
PostgreSQL, publishing to a local fake of Service Bus's REST API (SERVICE_BUS_ENDPOINT) with a
token from a local fake of the App Service managed-identity endpoint (IDENTITY_ENDPOINT, as
the Functions host provides it). The fake Service Bus answers 201 like Service Bus and then, as
the Functions host would, delivers each message to the `HeartbeatTally` consumer through
`POST /HeartbeatTally`. Events come from `POST /api/system/heartbeats`, one every 0.2-0.8 s.

Both timestamps are the database's clock: `events.outbox.created_at` (the request's transaction)
and `events.processed_messages.processed_at` (the consumer's). Service Bus's own hop (tens of ms
in a region) is not in these figures; the fake delivers at once.

Python 3.11 standard library only. Prints one JSON line, then a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from need import need, need_binary

ROOT = Path(__file__).resolve().parent.parent
ADMIN_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, server.server_address[1]


class Identity(BaseHTTPRequestHandler):
    """The App Service managed-identity endpoint (api-version 2019-08-01)."""

    def do_GET(self) -> None:
        assert self.headers.get("X-IDENTITY-HEADER") == "bench", "the identity header is required"
        body = json.dumps({"access_token": "bench-token", "expires_on": str(int(time.time()) + 3600),
                           "resource": "https://servicebus.azure.net", "token_type": "Bearer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


def make_service_bus(handler_port: int) -> type[BaseHTTPRequestHandler]:
    class ServiceBus(BaseHTTPRequestHandler):
        """Send Message Batch on topic `events`; then delivery to the consumer, like the host."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.path == "/events/messages", self.path
            assert self.headers["Authorization"] == "Bearer bench-token"
            self.send_response(201)
            self.send_header("Content-Length", "0")
            self.end_headers()
            for msg in json.loads(body):
                if msg["BrokerProperties"]["Label"] == "system.heartbeat":
                    threading.Thread(target=deliver, args=(handler_port, msg), daemon=True).start()

        def log_message(self, *_: object) -> None:
            pass

    return ServiceBus


def post(url: str, payload: dict | None = None) -> dict:
    data = json.dumps(payload).encode() if payload is not None else b""
    req = urllib.request.Request(url, data=data, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"{}")


def deliver(handler_port: int, msg: dict) -> None:
    broker = msg["BrokerProperties"]
    invocation = {"Data": {"message": msg["Body"]},
                  "Metadata": {"MessageId": broker["MessageId"], "DeliveryCount": 1, "Label": broker["Label"],
                               "Subject": broker["Label"], "ContentType": "application/json"}}
    post(f"http://127.0.0.1:{handler_port}/HeartbeatTally", invocation)


def psql(url: str, sql: str) -> str:
    return subprocess.run(["psql", url, "-XAtqc", sql], check=True, capture_output=True, text=True).stdout.strip()


def run(binary: Path, db_url: str, budget_ms: int, events: int, sweep_s: float | None) -> list[float]:
    port = free_port()
    ident, ident_port = serve(Identity)
    sb, sb_port = serve(make_service_bus(port))
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME")}
    env.update(FUNCTIONS_CUSTOMHANDLER_PORT=str(port), DATABASE_URL=db_url, RUST_LOG="warn",
               ServiceBusConnection__fullyQualifiedNamespace="bench.servicebus.windows.net",
               SERVICE_BUS_ENDPOINT=f"http://127.0.0.1:{sb_port}/",
               IDENTITY_ENDPOINT=f"http://127.0.0.1:{ident_port}/msi/token", IDENTITY_HEADER="bench",
               OUTBOX_PUBLISH_BUDGET_MS=str(budget_ms))
    proc = subprocess.Popen([str(binary), "serve"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    stop = threading.Event()
    try:
        for _ in range(1000):
            try:
                urllib.request.urlopen(base + "/", timeout=1).read()
                break
            except OSError:
                time.sleep(0.01)

        def sweep() -> None:
            timer = {"Data": {"timer": {"ScheduleStatus": None, "IsPastDue": False}}, "Metadata": {}}
            while not stop.wait(sweep_s):
                post(base + "/OutboxRelay", timer)

        if sweep_s:
            threading.Thread(target=sweep, daemon=True).start()
        ids = []
        for _ in range(events):
            ids.append(post(base + "/api/system/heartbeats")["data"]["id"])
            time.sleep(random.uniform(0.2, 0.8))
        deadline = time.time() + (sweep_s or 0) + 30
        while time.time() < deadline:
            done = int(psql(db_url, "SELECT count(*) FROM events.processed_messages WHERE consumer = 'HeartbeatTally'"))
            if done >= events:
                break
            time.sleep(0.2)
        rows = psql(db_url, "SELECT extract(epoch FROM p.processed_at - o.created_at) * 1000 FROM events.outbox o "
                            "JOIN events.processed_messages p ON p.message_id = o.id::text AND p.consumer = 'HeartbeatTally'")
        return [float(x) for x in rows.split()]
    finally:
        stop.set()
        proc.terminate()
        proc.wait()
        ident.shutdown()
        sb.shutdown()


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / "target" / "release" / "healthsync")
    ap.add_argument("-n", "--events", type=int, default=100, help="events with the fast path (default 100)")
    ap.add_argument("--sweep-events", type=int, default=40, help="events with the 15 s sweep alone (default 40)")
    args = ap.parse_args()
    need("psql")
    need_binary(args.binary)
    db = f"hs_bench_events_{os.getpid()}"
    admin = ADMIN_URL
    psql(admin, f"CREATE DATABASE {db}")
    db_url = admin.rsplit("/", 1)[0] + "/" + db
    try:
        migrate = subprocess.run([str(args.binary), "migrate"], env={**os.environ, "DATABASE_URL": db_url}, capture_output=True, text=True)
        if migrate.returncode:
            raise RuntimeError(migrate.stderr)
        results = {"after": run(args.binary, db_url, 1000, args.events, None)}
        psql(db_url, "TRUNCATE events.outbox, events.processed_messages, ops.heartbeats CASCADE")
        results["before"] = run(args.binary, db_url, 0, args.sweep_events, 15.0)
    finally:
        psql(admin, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    summary = {k: {"events": len(v), "p50_ms": round(pct(v, 50), 1), "p99_ms": round(pct(v, 99), 1),
                   "max_ms": round(max(v), 1), "mean_ms": round(statistics.mean(v), 1)} for k, v in results.items()}
    print(json.dumps({"bench": "event_latency", "binary": str(args.binary), "commit_to_consumer": summary}))
    for k, s in summary.items():
        print(f"{k:6} commit -> consumer over {s['events']} events: p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms, max {s['max_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
