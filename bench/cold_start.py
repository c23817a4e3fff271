#!/usr/bin/env python3
"""Cold start, idle memory and binary size of `healthsync serve` (DESIGN.md §7).

Cold start: wall time from just before the process is spawned to the first HTTP 200 on
GET /api/system/live, polled over a raw socket every ~0.5 ms. Each run gets a fresh port and a
fresh process, which is then stopped with SIGTERM (SIGKILL if it lingers). One unmeasured
warm-up run first, so the binary is in the page cache, as it is on a warm Functions instance.

Idle RSS: VmRSS from /proc/<pid>/status after startup, a few requests and 1 s of idle.

Exec floor: spawn -> exit of `healthsync --version` (same binary, no runtime, no socket), to
show how much of the cold start is the kernel loading the executable.

Python 3.11 standard library only. Prints one JSON line, then a human summary.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parent))
from need import need, need_binary

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = ROOT / "target" / "release" / "healthsync"
DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/postgres"
LIVE = "/api/system/live"
TARGET_COLD_MEDIAN_MS = 50.0
TARGET_IDLE_RSS_MB = 30.0
POLL_SLEEP_S = 0.0005
READY_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def child_env(port: int, database_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    env.update(
        FUNCTIONS_CUSTOMHANDLER_PORT=str(port),
        DATABASE_URL=database_url,
        RUST_LOG="warn",
    )
    return env


def http_get_status(port: int, path: str, timeout: float = 1.0) -> int | None:
    """One HTTP/1.1 GET over a fresh connection. The status code, or None if nobody listens."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()
            )
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                if not chunk:
                    break
                buf += chunk
            # Drain the rest so the server never sees a reset mid-response.
            while s.recv(65536):
                pass
    except (ConnectionRefusedError, ConnectionResetError, socket.timeout, OSError):
        return None
    parts = buf.split(b" ", 2)
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def stop(proc: subprocess.Popen) -> float:
    """SIGTERM, wait (SIGKILL after 5 s). Returns the graceful shutdown time in ms."""
    t0 = time.perf_counter()
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return (time.perf_counter() - t0) * 1000.0


def spawn(binary: Path, port: int, database_url: str, stderr) -> subprocess.Popen:
    return subprocess.Popen(
        [str(binary), "serve"],
        env=child_env(port, database_url),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=stderr,
        close_fds=True,
    )


def cold_start_once(binary: Path, database_url: str) -> tuple[float, float]:
    """One spawn -> first 200. Returns (cold start ms, shutdown ms)."""
    port = free_port()
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = spawn(binary, port, database_url, err)
        try:
            while True:
                status = http_get_status(port, LIVE)
                if status == 200:
                    elapsed = (time.perf_counter() - t0) * 1000.0
                    break
                if proc.poll() is not None:
                    err.seek(0)
                    raise RuntimeError(
                        f"serve exited with {proc.returncode} before answering: "
                        f"{err.read().decode(errors='replace').strip()}"
                    )
                if status is not None:
                    raise RuntimeError(f"GET {LIVE} answered {status}, expected 200")
                if time.perf_counter() - t0 > READY_TIMEOUT_S:
                    raise RuntimeError(f"no 200 on {LIVE} within {READY_TIMEOUT_S} s")
                time.sleep(POLL_SLEEP_S)
        finally:
            shutdown = stop(proc)
    return elapsed, shutdown


def proc_status(pid: int) -> dict[str, str]:
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def kb_to_mib(field: str) -> float:
    # /proc reports "12345 kB" (KiB).
    return int(field.split()[0]) / 1024.0


def idle_memory(binary: Path, database_url: str, requests: int) -> dict:
    port = free_port()
    proc = spawn(binary, port, database_url, subprocess.DEVNULL)
    try:
        t0 = time.perf_counter()
        while http_get_status(port, LIVE) != 200:
            if proc.poll() is not None or time.perf_counter() - t0 > READY_TIMEOUT_S:
                raise RuntimeError("serve did not become ready for the memory measurement")
            time.sleep(POLL_SLEEP_S)
        at_ready = proc_status(proc.pid)
        for i in range(requests):
            path = LIVE if i % 2 == 0 else "/"
            if http_get_status(port, path) != 200:
                raise RuntimeError(f"GET {path} did not answer 200")
        time.sleep(1.0)
        idle = proc_status(proc.pid)
    finally:
        stop(proc)
    return {
        "rss_at_ready_mib": round(kb_to_mib(at_ready["VmRSS"]), 2),
        "idle_rss_mib": round(kb_to_mib(idle["VmRSS"]), 2),
        "idle_rss_anon_mib": round(kb_to_mib(idle.get("RssAnon", "0 kB")), 2),
        "idle_rss_file_mib": round(kb_to_mib(idle.get("RssFile", "0 kB")), 2),
        "peak_rss_mib": round(kb_to_mib(idle["VmHWM"]), 2),
        "threads": int(idle["Threads"]),
        "requests_before_idle": requests,
    }


def exec_floor(binary: Path, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run([str(binary), "--version"], stdout=subprocess.DEVNULL, check=True)
        times.append((time.perf_counter() - t0) * 1000.0)
    return times


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100)."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def summarize(values: list[float]) -> dict:
    return {
        "min": round(min(values), 2),
        "median": round(statistics.median(values), 2),
        "p90": round(percentile(values, 90), 2),
        "max": round(max(values), 2),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=50, help="cold starts to measure (default 50)")
    ap.add_argument("--binary", type=Path, default=DEFAULT_BINARY, help="release binary")
    ap.add_argument("--database-url", default=DEFAULT_DB)
    ap.add_argument("--requests", type=int, default=20, help="requests before the idle RSS reading")
    args = ap.parse_args()
    need_binary(args.binary)

    if not args.binary.is_file():
        print(f"error: {args.binary} not found; run `cargo build --release` first", file=sys.stderr)
        return 2

    cold_start_once(args.binary, args.database_url)  # warm-up: page cache, not measured
    cold, shutdown = [], []
    for _ in range(args.runs):
        c, s = cold_start_once(args.binary, args.database_url)
        cold.append(c)
        shutdown.append(s)
    floor = exec_floor(args.binary, max(10, args.runs // 2))
    mem = idle_memory(args.binary, args.database_url, args.requests)
    size = args.binary.stat().st_size

    cold_s = summarize(cold)
    result = {
        "bench": "cold_start",
        "binary": str(args.binary),
        "binary_size_mib": round(size / (1 << 20), 2),
        "binary_size_bytes": size,
        "runs": args.runs,
        "cold_start_ms": cold_s,
        "exec_floor_ms": summarize(floor),
        "sigterm_shutdown_ms": summarize(shutdown),
        **mem,
        "targets": {
            "cold_start_median_ms": TARGET_COLD_MEDIAN_MS,
            "idle_rss_mib": TARGET_IDLE_RSS_MB,
            "cold_start_ok": cold_s["median"] < TARGET_COLD_MEDIAN_MS,
            "idle_rss_ok": mem["idle_rss_mib"] < TARGET_IDLE_RSS_MB,
        },
        "host": {"nproc": os.cpu_count(), "kernel": platform.release(), "python": platform.python_version()},
    }
    print(json.dumps(result))

    ok = lambda b: "OK" if b else "MISS"  # noqa: E731
    t = result["targets"]
    f = result["exec_floor_ms"]
    d = result["sigterm_shutdown_ms"]
    print(
        f"""
healthsync serve: cold start over {args.runs} runs (spawn -> first 200 on GET {LIVE})
  min {cold_s['min']:.2f} ms   median {cold_s['median']:.2f} ms   p90 {cold_s['p90']:.2f} ms   max {cold_s['max']:.2f} ms
  target: median < {TARGET_COLD_MEDIAN_MS:.0f} ms ... {ok(t['cold_start_ok'])}
  exec floor (`healthsync --version`, spawn -> exit): median {f['median']:.2f} ms, p90 {f['p90']:.2f} ms
  SIGTERM -> exit: median {d['median']:.2f} ms, max {d['max']:.2f} ms
idle memory (after {mem['requests_before_idle']} requests + 1 s idle)
  VmRSS {mem['idle_rss_mib']:.2f} MiB (anon {mem['idle_rss_anon_mib']:.2f}, file {mem['idle_rss_file_mib']:.2f}); at ready {mem['rss_at_ready_mib']:.2f} MiB; peak {mem['peak_rss_mib']:.2f} MiB; {mem['threads']} threads
  target: < {TARGET_IDLE_RSS_MB:.0f} MB ... {ok(t['idle_rss_ok'])}
binary: {result['binary_size_mib']:.2f} MiB ({size} bytes)"""
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
