#!/usr/bin/env python3
"""Faults under load (issue 25, point 2): while the mobile mix of bench/load.py runs at a moderate
rate, each dependency is taken away and given back, and the handler is killed during event delivery.

The stack is bench/load.py's (bench/loadkit.py): the release binary, a PostgreSQL cluster and a
redis-server of this script's own (never the machine's shared :5432/:6379), a paced Messages API
fake, a Service Bus fake that journals what it accepts and delivers to the handler's consumers as
the host does (redelivery with DeliveryCount + 1, dead-letter after 10), the host's OutboxRelay
timer. In order, with --baseline seconds of calm first:

  redis       redis-server killed (SIGKILL), --outage seconds, started again (empty, as a cache)
  postgres    `pg_ctl stop -m immediate` (every backend dies, as in a crash or failover),
              --outage seconds, started again (crash recovery)
  messages    the Messages API fake killed, --outage seconds, started again
  servicebus  the Service Bus fake killed (what it had accepted stays in its journal, as in a
              durable broker), --outage seconds, started again
  handler     SIGKILL of `healthsync serve` while the fake has deliveries in flight, started again
              after --restart-delay seconds on the same port (as the host restarts its worker)

For each: the requests that failed from the fault until recovery and the statuses they got; time
to recover (from giving the dependency back until requests stop failing for --quiet seconds, the
chat answers from Claude again, and, where events were held up, the outbox is published and every
delivery settled); events lost (outbox rows written in that window that Service Bus never
accepted, or that a subscribed consumer never handled); effects applied twice. After the last
fault the backlog is drained and the whole run is checked: every outbox row reached Service Bus;
every delivery to a subscribed consumer settled and none was dead-lettered; each `goal.achieved`
made exactly one celebration; no completion or `mission.completed` event twice for one
(user, mission, day).

Prints a table and one JSON line (`"bench": "faults"`). Exit status 1 if anything was lost or
applied twice.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadkit import Locust, ROOT, Stack, ensure_venv, read_samples  # noqa: E402
from need import need, need_binary  # noqa: E402

FAULTS = ["redis", "postgres", "messages", "servicebus", "handler"]


def failed(r) -> bool:
    return r[3] == 0 or r[3] >= 500 or r[3] in (408, 429)


def backlog(stack: Stack, older_than: float = 2.0) -> tuple[int, int]:
    """(outbox rows still unpublished `older_than` seconds after their commit, deliveries queued or
    in flight at the fake for longer than that); -1 where it cannot be read. Under load a few are
    always on their way: only what is held up counts."""
    try:
        unpublished = int(stack.sql("SELECT count(*) FROM events.outbox WHERE published_at IS NULL "
                                    f"AND created_at < now() - interval '{older_than} seconds'"))
    except RuntimeError:
        unpublished = -1
    try:
        st = stack.bus.control("/_bench/status")
        pending = st["queued"] + st["inflight"] if st["oldest_pending_s"] > older_than else 0
    except OSError:
        pending = -1
    return unpublished, pending


def inject(stack: Stack, fault: str, outage: float, restart_delay: float) -> tuple[float, float, dict]:
    """Takes the dependency away and gives it back; returns (t_fault, t_restored, details)."""
    info: dict = {}
    if fault == "handler":
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            st = stack.bus.control("/_bench/status")
            if st["inflight"] > 0:
                info["inflight_at_kill"] = st["inflight"]
                break
            time.sleep(0.005)
        t0 = time.time()
        stack.handler.kill()
        time.sleep(restart_delay)
        stack.handler.start()
        return t0, time.time(), info
    dep = {"redis": stack.redis, "postgres": stack.pg, "messages": stack.claude, "servicebus": stack.bus}[fault]
    t0 = time.time()
    dep.stop()
    time.sleep(outage)
    dep.start()
    return t0, time.time(), info


def affected(r, slow_ms: float) -> bool:
    """Failed, or slow for a reason other than the model writing an answer (the chat, a diagnosis
    that went to Claude because its cached copy was gone)."""
    return failed(r) or (r[2] > slow_ms and r[1] != "chat" and r[4] != "claude")


def recovered_at(stack: Stack, samples: Path, fault: str, t_fault: float, t_restored: float, quiet: float,
                 observe: float, slow_ms: float) -> tuple[float | None, dict]:
    """Waits until the app has recovered from `fault`: requests that started after the last affected
    one have gone well for `quiet` seconds; after the Messages API came back, a chat was answered by
    Claude again; the outbox is published and every delivery settled. Returns that instant (None:
    not within `observe` seconds) and the backlog seen last."""
    deadline = t_restored + observe
    waited: dict = {}
    t_claude = None
    while time.time() < deadline:
        time.sleep(0.5)
        now = time.time()
        rows = [r for r in read_samples(samples) if r[0] - r[2] / 1000 >= t_fault]
        last_bad = max((r[0] for r in rows if affected(r, slow_ms)), default=t_restored)
        since = max(last_bad, t_restored)
        good = [r for r in rows if r[0] - r[2] / 1000 > since and not affected(r, slow_ms)]
        requests_ok = now - since >= quiet and len(good) > 0
        if fault == "messages" and t_claude is None:
            claude = [r[0] for r in rows if r[1] == "chat" and r[4] == "claude" and r[0] - r[2] / 1000 > t_restored]
            t_claude = min(claude) if claude else None
        unpublished, pending = backlog(stack)
        waited["backlog"] = {"unpublished": unpublished, "deliveries_pending": pending}
        # What was committed just before the fault is held up only once it is older than 2 s.
        events_ok = unpublished == 0 and pending == 0 and now - t_fault > 2.5
        if requests_ok and "requests_s" not in waited:
            waited["requests_s"] = round(since - t_restored, 2)
        if events_ok and "events_s" not in waited:
            waited["events_s"] = round(now - t_restored, 2) if fault in ("servicebus", "handler", "postgres") else 0.0
        if requests_ok and events_ok and (fault != "messages" or t_claude is not None):
            return max(since, t_claude or 0, now if fault in ("servicebus", "handler", "postgres") else 0), waited
    return None, waited


def check_events(stack: Stack, journal: Path, since: float | None = None, until: float | None = None) -> dict:
    """Events lost and effects applied twice, for outbox rows created in [since, until) (all when None)."""
    accepted, done, dead = set(), set(), set()
    routes: dict[str, list[str]] = {}
    for s in json.load(open(ROOT / "infra" / "catalog.json"))["serviceBusSubscriptions"]:
        for subject in s["subjects"]:
            routes.setdefault(subject, []).append(s["function"])
    for line in open(journal):
        try:
            r = json.loads(line)
        except ValueError:
            continue
        if r["k"] == "acc":
            accepted.add(r["id"])
        elif r["k"] == "done":
            done.add((r["fn"], r["id"]))
        elif r["k"] == "dead":
            dead.add((r["fn"], r["id"]))
    where = "TRUE"
    if since is not None:
        where = f"created_at >= to_timestamp({since}) AND created_at < to_timestamp({until})"
    rows = stack.sql(f"SELECT id, event_type FROM events.outbox WHERE {where}").splitlines()
    outbox = [tuple(x.split("|")) for x in rows if x]
    processed = set(tuple(x.split("|")) for x in stack.sql(
        "SELECT consumer, message_id FROM events.processed_messages").splitlines() if x)
    not_accepted = [i for i, _ in outbox if i not in accepted]
    not_handled = [(fn, i) for i, t in outbox for fn in routes.get(t, []) if (fn, i) not in done]
    dead_lettered = [(fn, i) for i, t in outbox for fn in routes.get(t, []) if (fn, i) in dead]
    # A consumer that marks what it handled (begin_once) must have marked each delivered message once.
    marking = {fn for fn, _ in processed}
    unmarked = [(fn, i) for i, t in outbox for fn in routes.get(t, []) if fn in marking and (fn, i) not in processed]
    return {"outbox_rows": len(outbox), "by_type": dict(Counter(t for _, t in outbox)),
            "lost_never_accepted": len(not_accepted), "lost_not_handled": len(not_handled),
            "dead_lettered": len(dead_lettered), "unmarked": len(unmarked),
            "lost": len(not_accepted) + len(not_handled)}


def check_twice(stack: Stack) -> dict:
    q = stack.sql
    dup_completions = int(q("SELECT count(*) - count(DISTINCT (user_id, mission_id, day)) FROM goals.completions"))
    dup_completed_events = int(q("""SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) n FROM events.outbox
        WHERE event_type = 'mission.completed'
        GROUP BY payload->>'userId', payload->>'missionId', payload->>'day') x"""))
    achieved = int(q("SELECT count(*) FROM events.outbox WHERE event_type = 'goal.achieved'"))
    celebrations = int(q("SELECT count(*) FROM motivator.notifications WHERE kind = 'CELEBRATION'"))
    # Per user: more celebrations than achievements is an effect applied twice; fewer, one lost.
    per_user = q("""WITH a AS (SELECT (payload->>'userId')::uuid u, count(*) n FROM events.outbox
                               WHERE event_type = 'goal.achieved' GROUP BY 1),
                         c AS (SELECT user_id u, count(*) n FROM motivator.notifications WHERE kind = 'CELEBRATION' GROUP BY 1)
                    SELECT coalesce(sum(greatest(coalesce(c.n, 0) - coalesce(a.n, 0), 0)), 0),
                           coalesce(sum(greatest(coalesce(a.n, 0) - coalesce(c.n, 0), 0)), 0)
                    FROM a FULL JOIN c ON a.u = c.u""").split("|")
    return {"completions_twice": dup_completions, "mission_completed_events_twice": dup_completed_events,
            "goal_achieved_events": achieved, "celebrations": celebrations,
            "celebrations_twice": int(per_user[0]), "celebrations_missing": int(per_user[1]),
            "twice": dup_completions + dup_completed_events + int(per_user[0])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "healthsync"))
    ap.add_argument("--accounts", type=int, default=2000)
    ap.add_argument("--rate", type=float, default=100, help="offered req/s of the mix while faults happen")
    ap.add_argument("--faults", default=",".join(FAULTS), help=f"a subset of {','.join(FAULTS)}, in order")
    ap.add_argument("--baseline", type=float, default=15, help="seconds of calm before the first fault")
    ap.add_argument("--outage", type=float, default=10, help="seconds each dependency stays away")
    ap.add_argument("--restart-delay", type=float, default=1.0, help="seconds before the killed handler is restarted")
    ap.add_argument("--observe", type=float, default=120, help="the longest wait for recovery after each fault")
    ap.add_argument("--quiet", type=float, default=3, help="seconds without an affected request that count as recovered")
    ap.add_argument("--slow-ms", type=float, default=1000, help="a request slower than this (not waiting for the model) was affected")
    ap.add_argument("--settle", type=float, default=16, help="seconds after recovery before the next fault (HTTP_TIMEOUT_MS + 1 s)")
    ap.add_argument("--sweep-seconds", type=float, default=60, help="the host's OutboxRelay timer period")
    a = ap.parse_args()
    need("psql", "initdb", "pg_ctl", "redis-server")
    need_binary(a.binary)
    faults = [f for f in a.faults.split(",") if f]
    bad = [f for f in faults if f not in FAULTS]
    if bad:
        sys.exit(f"unknown faults: {bad}")
    py = ensure_venv()
    print(f"== faults: {a.binary}, {a.rate:g} req/s, {faults}, outage {a.outage:g} s, sweep every {a.sweep_seconds:g} s",
          flush=True)
    # SIGTERM (as from `timeout` or a CI runner) tears down the stack like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = Stack(a.binary, a.accounts, a.sweep_seconds)
    try:
        return run(a, py, stack, faults)
    finally:
        stack.close()


def run(a, py, stack: Stack, faults: list[str]) -> int:
    samples = stack.tmp / "samples.csv"
    journal = stack.tmp / "servicebus.jsonl"
    budget = a.baseline + len(faults) * (a.outage + a.observe + a.settle + 10) + 60
    lo = Locust(py, stack, a.rate, budget, samples, 0)
    results = []
    try:
        time.sleep(a.baseline)
        for fault in faults:
            t_fault, t_restored, info = inject(stack, fault, a.outage, a.restart_delay)
            t_rec, waited = recovered_at(stack, samples, fault, t_fault, t_restored, a.quiet, a.observe, a.slow_ms)
            # Requests still in flight end within HTTP_TIMEOUT_MS (15 s): then count what they got.
            time.sleep(a.settle)
            end = t_rec if t_rec is not None else time.time()
            rows = [r for r in read_samples(samples) if t_fault <= r[0] - r[2] / 1000 <= end]
            late = [r for r in read_samples(samples) if end < r[0] - r[2] / 1000 and affected(r, a.slow_ms)]
            bad = [r for r in rows if failed(r)]
            slow = [r for r in rows if affected(r, a.slow_ms) and not failed(r)]
            res = {"fault": fault, "outage_s": round(t_restored - t_fault, 2), "requests": len(rows),
                   "failed": len(bad), "failed_during_outage": sum(1 for r in bad if r[0] - r[2] / 1000 <= t_restored),
                   "statuses": dict(Counter(str(r[3]) for r in bad)),
                   "failed_by_name": dict(Counter(r[1] for r in bad)),
                   "slow": len(slow), "slow_max_ms": round(max((r[2] for r in slow), default=0), 1),
                   "affected_after_recovery": len(late),
                   "chat_engines": dict(Counter(r[4] for r in rows if r[1] == "chat")),
                   "recover_s": round(t_rec - t_restored, 2) if t_rec is not None else None,
                   "window": [t_fault, end], **info, **waited}
            results.append(res)
            print(f"  {fault:10} outage {res['outage_s']:5.1f} s  failed {res['failed']:5d}/{res['requests']:<6d} "
                  f"{res['statuses'] or ''}  slow (> {a.slow_ms:g} ms) {res['slow']} (max {res['slow_max_ms']} ms)  "
                  f"recovered {res['recover_s']} s after (requests {res.get('requests_s')} s, "
                  f"events {res.get('events_s')} s)", flush=True)
    finally:
        lo.close()

    # Drain: the host's timer publishes what is left; the fake settles every delivery.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        stack.sweeper.now()
        unpublished, pending = backlog(stack, 0)
        if unpublished == 0 and pending == 0:
            break
        time.sleep(2)
    for res in results:
        w = check_events(stack, journal, res["window"][0], res["window"][1])
        res["events"] = w["outbox_rows"]
        res["events_lost"] = w["lost"]
    events = check_events(stack, journal)
    twice = check_twice(stack)
    all_rows = read_samples(samples)
    complete_notes = Counter(r[4] for r in all_rows if r[1] == "complete" and r[4])
    today = int(stack.sql("SELECT count(*) FROM goals.completions WHERE day = (now() AT TIME ZONE 'Asia/Seoul')::date"))
    bus = stack.bus.control("/_bench/status")
    ok = events["lost"] == 0 and twice["twice"] == 0 and events["dead_lettered"] == 0 \
        and all(r["recover_s"] is not None for r in results) and twice["celebrations_missing"] == 0
    result = {"bench": "faults", "binary": a.binary, "rate_rps": a.rate, "outage_s": a.outage,
              "sweep_s": a.sweep_seconds, "requests": len(all_rows),
              "faults": [{k: v for k, v in r.items() if k != "window"} for r in results],
              "events": events, "twice": twice,
              "completions": {"answered_completed": complete_notes.get("COMPLETED", 0),
                              "answered_already": complete_notes.get("ALREADY_COMPLETED", 0), "rows_today": today},
              "service_bus": bus, "events_lost": events["lost"], "effects_twice": twice["twice"],
              "no_loss_ok": events["lost"] == 0 and twice["celebrations_missing"] == 0,
              "no_duplicate_ok": twice["twice"] == 0, "all_recovered_ok": all(r["recover_s"] is not None for r in results),
              "loadavg": open("/proc/loadavg").read().split()[:3]}
    print()
    print("| fault | outage | failed / requests (fault → recovered) | statuses | slow > 1 s | time to recover | events in window | lost |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['fault']} | {r['outage_s']} s | {r['failed']} / {r['requests']} | "
              f"{', '.join(f'{k}: {v}' for k, v in sorted(r['statuses'].items())) or '—'} | {r['slow']} | "
              f"{r['recover_s']} s | {r['events']} | {r['events_lost']} |")
    print(f"\nwhole run: {len(all_rows)} requests; {events['outbox_rows']} outbox rows {events['by_type']}; "
          f"lost {events['lost']} (never accepted {events['lost_never_accepted']}, not handled {events['lost_not_handled']}), "
          f"dead-lettered {events['dead_lettered']}; effects twice {twice['twice']} (completions {twice['completions_twice']}, "
          f"mission.completed events {twice['mission_completed_events_twice']}, celebrations {twice['celebrations_twice']}); "
          f"celebrations {twice['celebrations']} for {twice['goal_achieved_events']} achievements "
          f"(missing {twice['celebrations_missing']}); completions answered COMPLETED {complete_notes.get('COMPLETED', 0)}, "
          f"rows today {today}; Service Bus fake {bus}")
    print(json.dumps(result, ensure_ascii=False))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
