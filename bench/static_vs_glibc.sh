#!/usr/bin/env bash
# The static (musl + mimalloc) build against the glibc build, in one session: cold start and idle
# RSS (bench/cold_start.py) and throughput with server CPU per request (bench/throughput.sh), the
# two binaries alternating so drift on a shared machine hits both.
#
#   bench/static_vs_glibc.sh [GLIBC_BIN] [MUSL_BIN]
#     defaults: target/release/healthsync and target/x86_64-unknown-linux-musl/release/healthsync
#     (cargo build --release; cargo build --release --target x86_64-unknown-linux-musl)
# Knobs: RUNS (cold starts per binary and round, 30), ROUNDS (2), and throughput.sh's
# THREADS, CONNECTIONS, DURATION (default here 5s), WARMUP.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
glibc=${1:-$ROOT/target/release/healthsync}
musl=${2:-$ROOT/target/x86_64-unknown-linux-musl/release/healthsync}
runs=${RUNS:-30}
rounds=${ROUNDS:-2}
export DURATION=${DURATION:-5s} ROUNDS_TP=${ROUNDS_TP:-2}
for b in "$glibc" "$musl"; do [ -x "$b" ] || { echo "error: $b not found" >&2; exit 2; }; done
echo "== $(date -u +%FT%TZ) on $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo) x $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"
for b in "$glibc" "$musl"; do echo "$(basename "$b"): $(du -h "$b" | cut -f1), $(file -b "$b" 2>/dev/null | cut -d, -f1-2 || true)"; done
for r in $(seq "$rounds"); do
  for b in "$glibc" "$musl"; do
    echo "== round $r: $b"
    python3 "$ROOT/bench/cold_start.py" --runs "$runs" --binary "$b" | head -n 1
    BIN="$b" ROUNDS="$ROUNDS_TP" "$ROOT/bench/throughput.sh" | grep -E '^\{"bench"|server CPU|^GET|NOTE|WARNING'
  done
done
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
