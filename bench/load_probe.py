#!/usr/bin/env python3
"""Is it the app or the load generator? Runs the mobile mix (bench/load_locust.py) at one offered rate
against the release binary, as bench/load.py does, and meanwhile asks for one account's active missions
every 50 ms on a keep-alive connection of its own (Python's http.client, one request at a time). It
prints both p50/p99 for that route: when locust's figures are far above the probe's, the latency is the
load generator's, not the server's.

    python3 bench/load_probe.py --binary target/x86_64-unknown-linux-musl/release/healthsync --rate 100
    LOAD_LOCUST_PROCESSES=1 python3 bench/load_probe.py ...   # locust as one process
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadkit import Locust, Stack, account_token, ensure_venv, quantile, read_samples  # noqa: E402
from need import need, need_binary  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True)
    ap.add_argument("--rate", type=float, default=100)
    ap.add_argument("--accounts", type=int, default=3000)
    ap.add_argument("--probes", type=int, default=300)
    a = ap.parse_args()
    need("psql", "initdb", "pg_ctl", "redis-server")
    need_binary(a.binary)
    py = ensure_venv()
    stack = Stack(a.binary, a.accounts, 60)
    try:
        samples = stack.tmp / "samples.csv"
        seconds = 20 + a.probes * 0.05 + 10
        lo = Locust(py, stack, a.rate, seconds, samples, 0)
        time.sleep(15)
        token = account_token(stack.secret, 7)
        c = http.client.HTTPConnection("127.0.0.1", stack.handler_port, timeout=10)
        t0, probe = time.time(), []
        for _ in range(a.probes):
            t = time.perf_counter()
            c.request("GET", "/api/goals/missions/active", headers={"Authorization": f"Bearer {token}"})
            r = c.getresponse()
            r.read()
            if r.status != 200:
                raise RuntimeError(f"probe answered {r.status}")
            probe.append((time.perf_counter() - t) * 1000)
            time.sleep(0.05)
        t1 = time.time()
        lo.wait()
        lo.close()
        mix = [r[2] for r in read_samples(samples) if r[1] == "active" and t0 <= r[0] <= t1]
        out = {"bench": "load_probe", "rate": a.rate, "locust_processes": Locust.PROCESSES,
               "probe": {"n": len(probe), "p50_ms": round(quantile(probe, 0.5), 2), "p99_ms": round(quantile(probe, 0.99), 2)},
               "locust": {"n": len(mix), "p50_ms": round(quantile(mix, 0.5), 2), "p99_ms": round(quantile(mix, 0.99), 2)}}
        print(json.dumps(out))
        print(f"active missions at {a.rate:g} req/s offered: probe p50 {out['probe']['p50_ms']} / p99 {out['probe']['p99_ms']} ms; "
              f"locust ({Locust.PROCESSES} processes) p50 {out['locust']['p50_ms']} / p99 {out['locust']['p99_ms']} ms")
        return 0
    finally:
        stack.close()


if __name__ == "__main__":
    sys.exit(main())
