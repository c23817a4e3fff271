"""The mobile mix for locust (run by bench/load.py and bench/faults.py; not on its own).

A virtual user is a person with the app: picks up their phone, which holds its access token (signed
with the key the server was given, as our login issues them, renewed before they expire: loadkit's
`account_token`), then a session of LOAD_SESSION_REQUESTS taps drawn
by weight, then hands the phone to the next account. Weights per request:

  active missions 30 · complete a mission 20 · notifications inbox 15 · mission history 12 ·
  health trends 10 · diagnosis 10 (cached, as for a returning user) · chat 3 (Claude, paced)

Every request is appended to LOAD_SAMPLES as `end_unix_s,name,ms,status,note` (status 0: no
answer; note: the chat's engine, or the completion's status).
"""

import base64
import itertools
import os
import random
import sys
import time

import gevent
from locust import FastHttpUser, constant_throughput, events, task

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loadkit import account_token  # noqa: E402

SECRET = base64.urlsafe_b64decode(os.environ["LOAD_SECRET"] + "==")
ACCOUNTS = int(os.environ["LOAD_ACCOUNTS"])
SESSION = int(os.environ.get("LOAD_SESSION_REQUESTS", "12"))
MISSIONS = ["water-8-cups", "walk-7000-steps", "sleep-7-hours", "breathing-5", "bp-check"]
QUESTIONS = ["저녁 산책은 얼마나 하면 좋을까요?", "물을 더 자주 마시는 요령이 있을까요?", "잠들기 전에 하면 좋은 습관이 있을까요?",
             "점심 뒤에 졸릴 때 어떻게 하면 좋을까요?", "주말에도 미션을 이어 가려면 어떻게 할까요?"]
# Each locust process (bench/loadkit.py runs several) takes accounts one after another from its own
# starting point, so that two processes rarely hold one account at once.
_first = int(os.environ.get("LOAD_FIRST_ACCOUNT", "0"))
if int(os.environ.get("LOAD_PROCESSES", "1")) > 1:
    _first += random.randrange(ACCOUNTS)
_next_account = itertools.count(_first)
# Line-buffered in append mode: each sample is one write(2) at the end of the file, so the
# processes' lines never interleave.
_out = open(os.environ["LOAD_SAMPLES"], "a", buffering=1)


@events.request.add_listener
def record(request_type, name, response_time, response_length, response=None, context=None, exception=None, **kw):
    status = getattr(response, "status_code", 0) or 0
    if exception is not None and status < 400:
        status = 0
    note = (context or {}).get("note", "")
    _out.write(f"{time.time():.4f},{name},{response_time:.3f},{status},{note}\n")


@events.quitting.add_listener
def flush(**kw):
    _out.flush()


class Phone(FastHttpUser):
    wait_time = constant_throughput(float(os.environ.get("LOAD_USER_RATE", "1")))
    connection_timeout = 10.0
    network_timeout = 90.0

    def on_start(self):
        self.left = 0

    def auth(self) -> dict:
        if self.left <= 0:
            # The phone's current token (renewed a minute before it expires, so it outlives the
            # session's few seconds): worked out once per session, not per request.
            account = next(_next_account) % ACCOUNTS + 1
            self.headers = {"Authorization": f"Bearer {account_token(SECRET, account)}"}
            self.left = SESSION
        self.left -= 1
        return self.headers

    def call(self, method: str, path: str, name: str, body=None, note_from=None):
        h = self.auth()
        with self.client.request(method, path, name=name, headers=h, json=body, catch_response=True) as r:
            if r.status_code and 200 <= r.status_code < 300:
                if note_from:
                    try:
                        r.request_meta["context"]["note"] = note_from(r.json()["data"])
                    except Exception:  # noqa: BLE001 - a malformed body is a failure of its own
                        r.failure("malformed body")
                        return
                r.success()
            else:
                r.failure(f"status {r.status_code}")

    @task(30)
    def active(self):
        self.call("GET", "/api/goals/missions/active", "active")

    @task(20)
    def complete(self):
        self.call("PUT", f"/api/goals/missions/{random.choice(MISSIONS)}/complete", "complete", {"completed": True},
                  note_from=lambda d: d["status"])

    @task(15)
    def inbox(self):
        self.call("GET", "/api/notifications", "inbox")

    @task(12)
    def history(self):
        self.call("GET", "/api/goals/missions/history", "history")

    @task(10)
    def trends(self):
        self.call("GET", "/api/health/trends", "trends")

    @task(10)
    def diagnosis(self):
        self.call("GET", "/api/intelligence/health/diagnosis", "diagnosis", note_from=lambda d: d["engine"])

    @task(3)
    def chat(self):
        # Awaited in the background, as the app shows the answer when it comes: the model takes
        # seconds, and a user blocked on it would lower the offered rate of everything else.
        gevent.spawn(self.call, "POST", "/api/intelligence/chat/consultation", "chat",
                     {"message": random.choice(QUESTIONS)}, note_from=lambda d: d["engine"])
