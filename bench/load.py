#!/usr/bin/env python3
"""The whole app under a realistic mobile mix (issue 25, point 1): steps of increasing offered rate,
then a soak at 70 % of the rate where p99 passes 50 ms, with the handler's RSS sampled each second.

What runs (all on 127.0.0.1, all of it started and removed by this script):
- the release binary (`healthsync serve`, as the Functions host runs it) with the default pool
  (DB_POOL_MAX=5) and the default fast publish of events;
- its own PostgreSQL cluster (initdb in a temp dir, fsync and synchronous commit on) and its own
  redis-server, never the machine's shared :5432/:6379;
- a fake Messages API at a model's pace (bench/fakes.py), a fake Service Bus that delivers each
  event to the handler's consumers as the host would, a managed-identity endpoint, and the host's
  OutboxRelay timer (bench/loadkit.py);
- locust (PyPI, pinned, installed into .healthsync/bench-venv on first use) running
  bench/load_locust.py: each virtual user signs in once per session and taps through active
  missions, completions, the inbox, history, trends, the diagnosis and, rarely, the chat.

Each step offers a rate for --warmup + --step-seconds and counts the requests that end after the
warm-up. The latency criterion (p99 < 50 ms) is read over every request but the chat, whose answer
is written by the model at its pace (seconds; reported on its own line). Steps stop once p99 passes
50 ms, errors pass 1 %, or the achieved rate falls under 90 % of the offered one. The knee is the
offered rate where p99 crosses 50 ms, interpolated between the two steps around it; the soak then
offers 70 % of it for --soak-seconds (default 1500: the caches fill for the first ~8 minutes at the
soak's rate, so a 10-minute window whose memory is flat needs 25), plots RSS (and throughput) to
bench/load_soak_rss.png and checks: no error and flat memory.

Prints one JSON line (`"bench": "load"`) and a summary.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadkit import MODEL_BOUND, ROOT, Locust, Stack, ensure_venv, quantile, read_samples  # noqa: E402
from need import need, need_binary  # noqa: E402

HZ = os.sysconf("SC_CLK_TCK")


def busy_jiffies() -> int:
    f = open("/proc/stat").readline().split()[1:]
    u, n, sy, _i, _w, irq, sirq, st = (int(x) for x in f[:8])
    return u + n + sy + irq + sirq + st


def tree_jiffies(roots: list[int]) -> dict[int, int]:
    """user + system jiffies of every live process under `roots` (them included), by pid."""
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                f = open(f"/proc/{d}/stat").read().rsplit(")", 1)[1].split()
                procs[int(d)] = (int(f[1]), int(f[11]) + int(f[12]))
            except (OSError, IndexError):
                pass
    out, todo = {}, [p for p in roots if p in procs]
    while todo:
        p = todo.pop()
        out[p] = procs[p][1]
        todo += [c for c, (pp, _) in procs.items() if pp == p and c not in out]
    return out


class Cpu:
    """CPU of the server, of this whole stack (the server, our PostgreSQL and Redis, the fakes,
    locust, this script), and of everything else on the machine, over an interval."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.w0, self.b0 = time.monotonic(), busy_jiffies()
        self.t0 = tree_jiffies([os.getpid(), self.stack.pg_pid()])
        self.s0 = self.t0.get(stack.handler.proc.pid, 0)

    def done(self, requests: int) -> dict:
        w, b = time.monotonic() - self.w0, busy_jiffies() - self.b0
        t1 = tree_jiffies([os.getpid(), self.stack.pg_pid()])
        ours = sum(v - self.t0.get(p, 0) for p, v in t1.items())
        server = t1.get(self.stack.handler.proc.pid, 0) - self.s0
        cap = w * HZ * os.cpu_count()
        return {"server_us_per_req": round(server / HZ / max(requests, 1) * 1e6, 1),
                "server_cpu_pct": round(100 * server / cap, 1), "stack_cpu_pct": round(100 * ours / cap, 1),
                "other_cpu_pct": round(100 * max(b - ours, 0) / cap, 1)}


RATES = [10, 20, 30, 40, 50, 75, 100, 150, 200, 300, 400, 500, 650, 800, 1000, 1250, 1500, 2000, 2500]
P99_LIMIT_MS = 50.0


def summarize(rows, t0: float, t1: float) -> dict:
    """Throughput, latency and errors of the requests that ended in [t0, t1)."""
    rows = [r for r in rows if t0 <= r[0] < t1]
    span = max(t1 - t0, 1e-9)
    api = [r for r in rows if r[1] not in MODEL_BOUND]
    errors = [r for r in rows if r[3] == 0 or r[3] >= 400]
    by_name = defaultdict(list)
    for r in rows:
        by_name[r[1]].append(r)
    per = {}
    for name, rs in sorted(by_name.items()):
        lat = [r[2] for r in rs]
        per[name] = {"n": len(rs), "rps": round(len(rs) / span, 1), "p50_ms": round(quantile(lat, 0.5), 2),
                     "p99_ms": round(quantile(lat, 0.99), 2),
                     "errors": sum(1 for r in rs if r[3] == 0 or r[3] >= 400)}
        notes = Counter(r[4] for r in rs if r[4])
        if notes:
            per[name]["notes"] = dict(notes)
    lat = [r[2] for r in api]
    return {"requests": len(rows), "rps": round(len(rows) / span, 1),
            "api_p50_ms": round(quantile(lat, 0.5), 2), "api_p99_ms": round(quantile(lat, 0.99), 2),
            "api_max_ms": round(max(lat), 1) if lat else None,
            "errors": len(errors), "error_pct": round(100 * len(errors) / max(len(rows), 1), 3),
            "error_statuses": dict(Counter(str(r[3]) for r in errors)), "by_name": per}


def run_rate(py, stack: Stack, rate: float, seconds: float, warmup: float, samples: Path, first: int) -> dict:
    if samples.exists():
        samples.unlink()
    start = time.time()
    lo = Locust(py, stack, rate, warmup + seconds, samples, first)
    try:
        time.sleep(warmup)
        cpu = Cpu(stack)
        time.sleep(seconds)
        s0 = read_samples(samples)
        usage = cpu.done(sum(1 for r in s0 if start + warmup <= r[0]))
        lo.wait()
    finally:
        lo.close()
    rows = read_samples(samples)
    s = summarize(rows, start + warmup, start + warmup + seconds)
    s["cpu"] = usage
    s["offered_rps"] = rate
    s["virtual_users"] = lo.users
    return s


class RssSampler:
    def __init__(self, stack: Stack):
        self.stack, self.points, self.stop_ev = stack, [], threading.Event()
        self.t0 = time.time()
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self) -> None:
        while not self.stop_ev.wait(1.0):
            kib = self.stack.handler.rss_kib()
            if kib is not None:
                self.points.append((time.time() - self.t0, kib / 1024))

    def close(self) -> None:
        self.stop_ev.set()
        self.thread.join(2)


def plot(py, points, rows, t0, out: Path, title: str) -> None:
    data = out.with_suffix(".json")
    per_s = Counter(int(r[0] - t0) for r in rows)
    data.write_text(json.dumps({"rss": points, "rps": sorted(per_s.items()), "title": title}))
    script = """
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = json.load(open(sys.argv[1]))
fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
ax.plot([p[0] for p in d["rss"]], [p[1] for p in d["rss"]], color="tab:blue", lw=1.2, label="handler RSS (MiB)")
ax.set_xlabel("seconds into the soak"); ax.set_ylabel("RSS (MiB)", color="tab:blue")
lo = min(p[1] for p in d["rss"]); hi = max(p[1] for p in d["rss"])
ax.set_ylim(0, max(hi * 1.3, lo + 5))
ax2 = ax.twinx()
ax2.plot([p[0] for p in d["rps"]], [p[1] for p in d["rps"]], color="tab:gray", lw=0.6, alpha=0.6, label="requests/s")
ax2.set_ylabel("requests/s (all)", color="tab:gray")
ax2.set_ylim(0, max(p[1] for p in d["rps"]) * 1.5)
ax.set_title(d["title"], fontsize=9)
fig.tight_layout(); fig.savefig(sys.argv[2])
"""
    import subprocess
    subprocess.run([str(py), "-c", script, str(data), str(out)], check=True)
    data.unlink()


def knee(steps: list[dict]) -> tuple[float | None, str]:
    """The offered rate where the API p99 crosses P99_LIMIT_MS, linearly between the two steps."""
    prev = None
    for s in steps:
        if s["api_p99_ms"] > P99_LIMIT_MS:
            if prev is None:
                return s["offered_rps"], "already above at the first step"
            a, b = prev, s
            f = (P99_LIMIT_MS - a["api_p99_ms"]) / (b["api_p99_ms"] - a["api_p99_ms"])
            return a["offered_rps"] + f * (b["offered_rps"] - a["offered_rps"]), \
                f"between {a['offered_rps']} and {b['offered_rps']} req/s"
        prev = s
    if prev is None:
        return None, "no step ran"
    return prev["offered_rps"], f"not crossed up to {prev['offered_rps']} req/s (last step used)"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release" / "healthsync"))
    ap.add_argument("--accounts", type=int, default=3000, help="seeded accounts the virtual users sign in as")
    ap.add_argument("--rates", default=",".join(map(str, RATES)), help="offered rates of the steps (req/s)")
    ap.add_argument("--step-seconds", type=float, default=20)
    ap.add_argument("--warmup", type=float, default=5, help="seconds of each step not counted")
    ap.add_argument("--soak-seconds", type=float, default=1500,
                    help="0: no soak. 25 minutes: the in-process caches fill for the first ~8 (bench/README.md), "
                         "and the flat-memory check reads the second half")
    ap.add_argument("--soak-rate", type=float, help="offer this instead of 70 %% of the knee")
    ap.add_argument("--sweep-seconds", type=float, default=60, help="the host's OutboxRelay timer period")
    ap.add_argument("--png", default=str(ROOT / "bench" / "load_soak_rss.png"))
    a = ap.parse_args()
    need("psql", "initdb", "pg_ctl", "redis-server")
    need_binary(a.binary)
    py = ensure_venv()
    rates = [float(x) for x in a.rates.split(",") if x]
    print(f"== load: {a.binary}, {a.accounts} accounts, steps {rates} req/s, {a.step_seconds:g} s each "
          f"(+{a.warmup:g} s warm-up), soak {a.soak_seconds:g} s", flush=True)
    # SIGTERM (as from `timeout` or a CI runner) tears down the stack like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    stack = Stack(a.binary, a.accounts, a.sweep_seconds)
    try:
        return run(a, py, stack, rates)
    finally:
        stack.close()


def run(a, py, stack: Stack, rates: list[float]) -> int:
    samples = stack.tmp / "samples.csv"
    steps, first = [], 0
    rss_start = stack.handler.rss_kib() / 1024
    for rate in rates:
        s = run_rate(py, stack, rate, a.step_seconds, a.warmup, samples, first)
        first += int(rate * (a.step_seconds + a.warmup) / 12) + 1
        s["rss_mib"] = round(stack.handler.rss_kib() / 1024, 2)
        steps.append(s)
        chat = s["by_name"].get("chat", {})
        print(f"  offered {rate:6.0f}/s  achieved {s['rps']:7.1f}/s  api p50 {s['api_p50_ms']:7.2f} ms  "
              f"p99 {s['api_p99_ms']:8.2f} ms  errors {s['errors']} {s['error_statuses'] or ''}  "
              f"chat p50 {chat.get('p50_ms', float('nan')):.0f} ms (n={chat.get('n', 0)})  RSS {s['rss_mib']} MiB  "
              f"server {s['cpu']['server_us_per_req']} µs/req, CPU: server {s['cpu']['server_cpu_pct']} %, "
              f"stack {s['cpu']['stack_cpu_pct']} %, others {s['cpu']['other_cpu_pct']} %", flush=True)
        if s["api_p99_ms"] > P99_LIMIT_MS or s["error_pct"] > 1 or s["rps"] < 0.9 * rate:
            break
    k, how = knee(steps)
    print(f"== p99 passes {P99_LIMIT_MS:g} ms at ≈ {k:.0f} req/s offered ({how})" if k else f"== {how}", flush=True)
    for name in steps[-1]["by_name"]:
        row = "  ".join(f"{s['by_name'].get(name, {}).get('p99_ms', float('nan')):8.2f}" for s in steps)
        print(f"     p99 ms {name:10} {row}", flush=True)

    soak = None
    if a.soak_seconds > 0 and k:
        rate = a.soak_rate or round(0.7 * k)
        print(f"== soak: {rate} req/s for {a.soak_seconds:g} s, RSS every second", flush=True)
        if samples.exists():
            samples.unlink()
        sampler = RssSampler(stack)
        start = time.time()
        lo = Locust(py, stack, rate, a.soak_seconds, samples, first)
        try:
            lo.wait()
        finally:
            lo.close()
            sampler.close()
        rows = read_samples(samples)
        s = summarize(rows, start, start + a.soak_seconds)
        # Requests still in flight at the end (chats) are counted for errors too.
        s["errors"] = sum(1 for r in rows if r[3] == 0 or r[3] >= 400)
        s["error_statuses"] = dict(Counter(str(r[3]) for r in rows if r[3] == 0 or r[3] >= 400))
        pts = sampler.points
        rss = [p[1] for p in pts]
        tenth = max(1, len(rss) // 10)
        early = sorted(rss[tenth:2 * tenth])[len(rss[tenth:2 * tenth]) // 2] if len(rss) >= 20 else rss[0]
        late = sorted(rss[-tenth:])[len(rss[-tenth:]) // 2]
        half = pts[len(pts) // 2:]
        n = len(half)
        mx = sum(p[0] for p in half) / n
        my = sum(p[1] for p in half) / n
        slope = sum((p[0] - mx) * (p[1] - my) for p in half) / max(sum((p[0] - mx) ** 2 for p in half), 1e-9)
        growth = late - early
        flat = growth < max(2.0, 0.05 * early) and slope * 600 < 2.0
        soak = {"offered_rps": rate, "seconds": a.soak_seconds, "achieved_rps": round(len(rows) / a.soak_seconds, 1),
                "requests": s["requests"], "errors": s["errors"], "error_statuses": s["error_statuses"],
                "api_p50_ms": s["api_p50_ms"], "api_p99_ms": s["api_p99_ms"],
                "rss_mib": {"start_of_run": round(rss_start, 2), "after_first_tenth": round(early, 2),
                            "last_tenth": round(late, 2), "max": round(max(rss), 2), "growth": round(growth, 2),
                            "second_half_slope_mib_per_10min": round(slope * 600, 3)},
                "no_error_ok": s["errors"] == 0, "flat_memory_ok": flat,
                "by_name": [{"name": n, **v} for n, v in s["by_name"].items()]}
        title = (f"healthsync serve under the mobile mix at {rate} req/s offered for {a.soak_seconds:g} s "
                 f"(2 vCPU, shared); RSS {early:.1f} → {late:.1f} MiB")
        plot(py, pts, rows, start, Path(a.png), title)
        print(f"  achieved {soak['achieved_rps']}/s, api p50 {s['api_p50_ms']} ms, p99 {s['api_p99_ms']} ms, "
              f"errors {s['errors']} {s['error_statuses'] or ''}", flush=True)
        print(f"  RSS {early:.2f} MiB after the first tenth → {late:.2f} MiB in the last (max {max(rss):.2f}); "
              f"second-half slope {slope * 600:+.3f} MiB per 10 min; plot: {a.png}", flush=True)

    ev = stack.bus.control("/_bench/status")
    result = {"bench": "load", "binary": a.binary, "accounts": a.accounts, "step_seconds": a.step_seconds,
              "knee_rps": round(k, 1) if k else None, "knee": how, "p99_limit_ms": P99_LIMIT_MS,
              "steps": [{kk: v for kk, v in s.items()} for s in steps], "soak": soak,
              "service_bus": ev, "claude_calls": stack.claude.control("/_bench/status")["calls"],
              "loadavg": open("/proc/loadavg").read().split()[:3]}
    print(json.dumps(result, ensure_ascii=False))
    ok = soak is None or (soak["no_error_ok"] and soak["flat_memory_ok"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
