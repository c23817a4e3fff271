#!/usr/bin/env python3
"""Local fakes for bench/load.py and bench/faults.py, each run as its own process so that killing it
is an outage (every connection drops) and starting it again a recovery on the same port.

  fakes.py messages   --port P
      The Anthropic Messages API (POST /v1/messages), as documented in December 2026:
      https://platform.claude.com/docs/en/api/messages (request, the message, `usage`),
      https://platform.claude.com/docs/en/api/errors (the error shape and statuses),
      https://platform.claude.com/docs/en/build-with-claude/structured-outputs (the JSON arrives in a
      `text` block after the model's `thinking` block; `output_config.format` is `json_schema`),
      https://platform.claude.com/docs/en/models/sonnet-5-5/whats-new-sonnet-5-5 (a forced
      `tool_choice` is a 400). It needs `x-api-key` and `anthropic-version`, and answers the two
      schemas the mix asks for (the diagnosis and the chat) at a model's pace: the first token
      after 1.2 s, then 60-100 output tokens a second drawn per answer, thinking included (1.5
      tokens per Hangul syllable), as bench/intelligence.py --paced does. `POST /_bench/pace
      {"paced": false}` makes it answer at once (used while seeding).

  fakes.py servicebus --port P --handler-port H --catalog infra/catalog.json --journal FILE
      Service Bus's REST Send Message Batch on the topic `events`
      (https://learn.microsoft.com/rest/api/servicebus/send-message-batch: POST
      /{topic}/messages, `Content-Type: application/vnd.microsoft.servicebus.json`, a bearer token,
      a JSON array of messages with `Body` and `BrokerProperties`; 201, or 400 bad request, 401,
      403 too large, 410 no such topic), with the topic's duplicate detection (a MessageId seen in
      the last 10 minutes is accepted and dropped:
      https://learn.microsoft.com/azure/service-bus-messaging/duplicate-detection; infra sets
      requiresDuplicateDetection with PT10M), the Standard tier's 256 KB batch limit
      (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas), and the
      Functions host's side: every accepted message goes to each subscription whose subjects
      (infra/catalog.json) name its Label, and is delivered as `POST /{Function}` with
      `{"Data": {"message": ...}, "Metadata": {...}}`, at most 16 at a time (host.json
      maxConcurrentCalls). A delivery that fails (no answer, or not 2xx) is abandoned and delivered
      again with DeliveryCount + 1 after a back-off, dead-lettered after maxDeliveryCount (10).
      Accepted messages are journalled before the 201, like a durable broker: a restarted fake
      reloads the journal and delivers what was not yet settled. `GET /_bench/status` tells counts.
"""

from __future__ import annotations

import argparse
import heapq
import http.client
import json
import random
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ------------------------------------------------------------------------------------ messages

CURRENT_MODELS = {"claude-sonnet-5-5", "claude-opus-5-5", "claude-haiku-5-5", "claude-fable-5-1"}

DIAGNOSIS = {"sentences": ["2026년 10월 검진에서 판정한 항목을 종합한 건강 점수는 79점으로, 관리 필요도는 보통입니다.",
                           "혈압과 공복혈당이 국가검진 기준상 정상B(경계) 범위라 생활습관 관리가 도움이 됩니다.",
                           "식후 15분 걷기와 국물 줄이기 같은 작은 미션부터 시작해 다음 검진에서 변화를 확인해 보세요."],
             "occupationConsiderations": "사무직이라 오래 앉아 있는 시간이 길다면 50분마다 일어나 5분 걷고, 점심 뒤 짧은 산책으로 활동량을 채워 보세요."}
CHAT = {"response": "저녁 식사 후 15분에서 20분 정도 가볍게 걷는 것부터 시작해 보세요. 숨이 약간 찰 정도의 속도가 좋고, "
                    "처음 일주일은 시간을 늘리기보다 매일 빠지지 않는 데 집중하면 습관이 됩니다. 걷기 전후로 물 한 컵을 "
                    "마시고, 발목과 종아리를 가볍게 풀어 주세요. 혈압이 경계 범위라면 짠 국물을 줄이는 것도 함께 해 보세요.",
        "suggestedQuestions": ["걷기 대신 할 수 있는 실내 운동이 있을까요?", "저녁 늦게 걸어도 수면에 괜찮을까요?",
                               "국물을 줄이는 쉬운 방법이 있을까요?"],
        "safety": "none"}


def est_tokens(text: str) -> int:
    q = 0
    for c in text:
        o = ord(c)
        q += 1 if o < 128 else 6 if (0xAC00 <= o <= 0xD7A3 or 0x1100 <= o <= 0x11FF or 0x3130 <= o <= 0x318F) else 4
    return -(-q // 4)


class Messages(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    paced = True
    calls = 0
    lock = threading.Lock()
    rng = random.Random(25)

    def reply(self, status: int, obj: dict) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("request-id", f"req_bench_{time.monotonic_ns()}")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def error(self, status: int, kind: str, message: str) -> None:
        print(f"messages fake: {status} {kind}: {message}", file=sys.stderr, flush=True)
        self.reply(status, {"type": "error", "error": {"type": kind, "message": message}, "request_id": "req_bench"})

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/_bench/pace":
            Messages.paced = bool(json.loads(raw)["paced"])
            return self.reply(200, {"paced": Messages.paced})
        if self.path != "/v1/messages":
            return self.error(404, "not_found_error", "Not found")
        if not self.headers.get("x-api-key"):
            return self.error(401, "authentication_error", "x-api-key header is required")
        if not self.headers.get("anthropic-version"):
            return self.error(400, "invalid_request_error", "anthropic-version header is required")
        try:
            req = json.loads(raw)
        except ValueError:
            return self.error(400, "invalid_request_error", "the body is not JSON")
        if req.get("model") not in CURRENT_MODELS:
            return self.error(404, "not_found_error", f"model: {req.get('model')}")
        if not isinstance(req.get("max_tokens"), int) or not req.get("messages"):
            return self.error(400, "invalid_request_error", "max_tokens and messages are required")
        if (req.get("tool_choice") or {}).get("type") in ("tool", "any"):
            return self.error(400, "invalid_request_error", "forced tool_choice is not supported with this model")
        fmt = (req.get("output_config") or {}).get("format") or {}
        props = set(((fmt.get("schema") or {}).get("properties") or {}).keys())
        if fmt.get("type") != "json_schema":
            return self.error(400, "invalid_request_error", "bench fake: structured outputs only")
        # Only the properties the schema names (older builds' chat schema has no `safety`).
        if props and props <= set(DIAGNOSIS):
            answer, thinking = {k: DIAGNOSIS[k] for k in props}, (50, 250)
        elif props and props <= set(CHAT) and "response" in props:
            answer, thinking = {k: CHAT[k] for k in props}, (100, 400)
        else:
            return self.error(400, "invalid_request_error", f"bench fake: no answer for a schema of {sorted(props)}")
        text = json.dumps(answer, ensure_ascii=False)
        with Messages.lock:
            Messages.calls += 1
            tps = Messages.rng.uniform(60, 100)
            think = Messages.rng.randint(*thinking)
        output = think + est_tokens(text)
        if Messages.paced:
            time.sleep(1.2 + output / tps)
        self.reply(200, {"id": f"msg_bench_{Messages.calls}", "type": "message", "role": "assistant", "model": req["model"],
                         "content": [{"type": "thinking", "thinking": "", "signature": "bench"}, {"type": "text", "text": text}],
                         "stop_reason": "end_turn", "stop_sequence": None,
                         "usage": {"input_tokens": 900, "output_tokens": output}})

    def do_GET(self) -> None:
        if self.path == "/_bench/status":
            return self.reply(200, {"calls": Messages.calls, "paced": Messages.paced})
        model = self.path.rsplit("/", 1)[-1]
        if self.path.startswith("/v1/models/") and model in CURRENT_MODELS:
            return self.reply(200, {"type": "model", "id": model, "display_name": model, "lifecycle": "active"})
        self.error(404, "not_found_error", "Not found")

    def log_message(self, *_: object) -> None:
        pass


# ------------------------------------------------------------------------------------ Service Bus

MAX_BATCH_BYTES = 256 * 1024
MAX_DELIVERY_COUNT = 10
DEDUP_WINDOW_S = 600
CONCURRENT_CALLS = 16


class Broker:
    def __init__(self, handler_port: int, catalog: str, journal: str):
        self.handler_port = handler_port
        subs = json.load(open(catalog))["serviceBusSubscriptions"]
        self.routes: dict[str, list[str]] = {}
        for s in subs:
            for subject in s["subjects"]:
                self.routes.setdefault(subject, []).append(s["function"])
        self.lock = threading.Condition()
        self.seen: dict[str, float] = {}      # MessageId -> accepted at (duplicate detection)
        self.queue: list = []                 # (due, seq, function, message, delivery_count, first queued)
        self.inflight: dict[int, float] = {}  # seq -> first queued
        self.seq = 0
        self.settled: set[tuple[str, str]] = set()
        self.counts = {"accepted": 0, "duplicates": 0, "delivered": 0, "failed_deliveries": 0, "dead": 0, "inflight": 0}
        self.journal_path = journal
        self.reload()
        self.journal = open(journal, "a")
        for _ in range(CONCURRENT_CALLS):
            threading.Thread(target=self.worker, daemon=True).start()

    def reload(self) -> None:
        pending: dict[tuple[str, str], tuple[dict, int]] = {}
        try:
            lines = open(self.journal_path).read().splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                r = json.loads(line)
            except ValueError:
                continue  # a torn last line: the 201 for it was never sent
            if r["k"] == "acc":
                self.seen[r["id"]] = r["at"]
                self.counts["accepted"] += 1
                for fn in self.routes.get(r["msg"]["BrokerProperties"].get("Label", ""), []):
                    pending[(fn, r["id"])] = (r["msg"], 1)
            elif r["k"] in ("done", "dead"):
                pending.pop((r["fn"], r["id"]), None)
                self.settled.add((r["fn"], r["id"]))
                self.counts["delivered" if r["k"] == "done" else "dead"] += 1
            elif r["k"] == "fail":
                if (r["fn"], r["id"]) in pending:
                    pending[(r["fn"], r["id"])] = (pending[(r["fn"], r["id"])][0], r["dc"] + 1)
            elif r["k"] == "dup":
                self.counts["duplicates"] += 1
        for (fn, _id), (msg, dc) in pending.items():
            self.push(time.monotonic(), fn, msg, dc, time.monotonic())

    def write(self, record: dict) -> None:
        self.journal.write(json.dumps(record, ensure_ascii=False) + "\n")
        self.journal.flush()

    def push(self, due: float, fn: str, msg: dict, dc: int, since: float) -> None:
        self.seq += 1
        heapq.heappush(self.queue, (due, self.seq, fn, msg, dc, since))

    def accept(self, batch: list[dict]) -> None:
        now = time.time()
        with self.lock:
            for msg in batch:
                mid = msg["BrokerProperties"]["MessageId"]
                if now - self.seen.get(mid, -1e18) < DEDUP_WINDOW_S:
                    self.counts["duplicates"] += 1
                    self.write({"k": "dup", "id": mid})
                    continue
                self.seen[mid] = now
                self.counts["accepted"] += 1
                self.write({"k": "acc", "id": mid, "at": now, "msg": msg})
                for fn in self.routes.get(msg["BrokerProperties"].get("Label", ""), []):
                    self.push(time.monotonic(), fn, msg, 1, time.monotonic())
            self.lock.notify_all()

    def worker(self) -> None:
        while True:
            with self.lock:
                while not self.queue or self.queue[0][0] > time.monotonic():
                    self.lock.wait(0.05 if self.queue else 1.0)
                _, seq, fn, msg, dc, since = heapq.heappop(self.queue)
                self.counts["inflight"] += 1
                self.inflight[seq] = since
            status = self.deliver(fn, msg, dc)
            with self.lock:
                self.counts["inflight"] -= 1
                del self.inflight[seq]
                mid = msg["BrokerProperties"]["MessageId"]
                if 200 <= status < 300:
                    self.counts["delivered"] += 1
                    self.settled.add((fn, mid))
                    self.write({"k": "done", "fn": fn, "id": mid, "dc": dc})
                else:
                    self.counts["failed_deliveries"] += 1
                    self.write({"k": "fail", "fn": fn, "id": mid, "dc": dc, "status": status})
                    if dc >= MAX_DELIVERY_COUNT:
                        self.counts["dead"] += 1
                        self.settled.add((fn, mid))
                        self.write({"k": "dead", "fn": fn, "id": mid, "dc": dc})
                    else:
                        # Abandoned: back on the subscription; the host picks it up again shortly (and a
                        # crashed handler is restarted by the host meanwhile).
                        self.push(time.monotonic() + min(0.25 * 2 ** (dc - 1), 5.0), fn, msg, dc + 1, since)
                self.lock.notify_all()

    def deliver(self, fn: str, msg: dict, dc: int) -> int:
        b = msg["BrokerProperties"]
        invocation = {"Data": {"message": msg["Body"]},
                      "Metadata": {"MessageId": b["MessageId"], "DeliveryCount": dc, "Label": b.get("Label"),
                                   "Subject": b.get("Label"), "CorrelationId": b.get("CorrelationId"),
                                   "ContentType": b.get("ContentType", "application/json"),
                                   "EnqueuedTimeUtc": datetime.now(timezone.utc).isoformat(),
                                   "UserProperties": msg.get("UserProperties", {})}}
        c = http.client.HTTPConnection("127.0.0.1", self.handler_port, timeout=330)  # functionTimeout + margin
        try:
            c.request("POST", f"/{fn}", body=json.dumps(invocation), headers={"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            return r.status
        except OSError:
            return 0
        finally:
            c.close()

    def status(self) -> dict:
        with self.lock:
            since = [q[5] for q in self.queue] + list(self.inflight.values())
            oldest = time.monotonic() - min(since) if since else 0.0
            return {**self.counts, "queued": len(self.queue), "oldest_pending_s": round(oldest, 3)}


def make_bus(broker: Broker) -> type[BaseHTTPRequestHandler]:
    class Bus(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def reply(self, status: int, obj: dict | None = None) -> None:
            body = json.dumps(obj).encode() if obj is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = self.path.split("?")[0].strip("/").split("/")
            if len(parts) != 2 or parts[1] != "messages":
                return self.reply(404)
            if parts[0] != "events":
                return self.reply(410, {"error": f"topic {parts[0]} does not exist"})
            if self.headers.get("Authorization") != "Bearer bench-token":
                return self.reply(401)
            if self.headers.get("Content-Type") != "application/vnd.microsoft.servicebus.json":
                return self.reply(400, {"error": "Content-Type must be application/vnd.microsoft.servicebus.json"})
            if len(raw) > MAX_BATCH_BYTES:
                return self.reply(403, {"error": "the batch is larger than 256 KB"})
            try:
                batch = json.loads(raw)
                ok = isinstance(batch, list) and batch and all(
                    isinstance(m.get("Body"), str) and isinstance(m.get("BrokerProperties"), dict)
                    and m["BrokerProperties"].get("MessageId") for m in batch)
            except (ValueError, AttributeError):
                ok = False
            if not ok:
                return self.reply(400, {"error": "a batch is a JSON array of {Body, BrokerProperties{MessageId}}"})
            broker.accept(batch)
            self.reply(201)

        def do_GET(self) -> None:
            if self.path == "/_bench/status":
                return self.reply(200, broker.status())
            self.reply(404)

        def log_message(self, *_: object) -> None:
            pass

    return Bus


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("fake", choices=["messages", "servicebus"])
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--handler-port", type=int)
    ap.add_argument("--catalog")
    ap.add_argument("--journal")
    a = ap.parse_args()
    if a.fake == "messages":
        handler: type[BaseHTTPRequestHandler] = Messages
    else:
        handler = make_bus(Broker(a.handler_port, a.catalog, a.journal))
    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 1024
    server = ThreadingHTTPServer(("127.0.0.1", a.port), handler)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
