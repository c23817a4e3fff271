#!/usr/bin/env bash
# Throughput of GET /api/system/live as a ratio to GET / (the host ping: the bare route of the
# same binary), measured in the same run against one `healthsync serve` process (DESIGN.md §7).
#
# Rounds alternate ping, live, ping, live, ... so drift (thermal, noisy neighbours) hits both;
# the ratio is mean live requests/sec over mean ping requests/sec across rounds. Also printed:
# the best round of each (max req/s), since other load on the machine only ever lowers req/s.
#
# Knobs (environment): THREADS (2), CONNECTIONS (64), DURATION (10s), ROUNDS (3), WARMUP (2s),
# BIN (target/release/healthsync), DATABASE_URL. Targets 127.0.0.1 only.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/healthsync}"
THREADS="${THREADS:-2}"
CONNECTIONS="${CONNECTIONS:-64}"
DURATION="${DURATION:-10s}"
ROUNDS="${ROUNDS:-3}"
WARMUP="${WARMUP:-2s}"
DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

python3 "$(dirname "${BASH_SOURCE[0]}")/need.py" wrk curl || exit 2
if [[ ! -x "$BIN" ]]; then
    echo "error: $BIN not found; run \`cargo build --release\` first" >&2
    exit 2
fi

HZ="$(getconf CLK_TCK)"
NPROC="$(nproc)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
LOG="$(mktemp)"
TIMES="$(mktemp)"
PID=""
cleanup() {
    if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -f "$LOG" "$TIMES"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# `exec` twice (subshell, then env) so $! is the server itself and the trap stops the right process.
(exec env -i PATH="$PATH" HOME="${HOME:-/root}" \
    FUNCTIONS_CUSTOMHANDLER_PORT="$PORT" DATABASE_URL="$DATABASE_URL" RUST_LOG=warn \
    "$BIN" serve >/dev/null 2>"$LOG") &
PID=$!

for _ in $(seq 1000); do
    if curl -fsS -o /dev/null "$BASE/api/system/live" 2>/dev/null; then break; fi
    if ! kill -0 "$PID" 2>/dev/null; then echo "error: serve exited: $(cat "$LOG")" >&2; exit 1; fi
    sleep 0.01
done
curl -fsS -o /dev/null "$BASE/api/system/live"
curl -fsS -o /dev/null "$BASE/"
if [[ "$(readlink -f "/proc/$PID/exe")" != "$(readlink -f "$BIN")" ]]; then
    echo "error: pid $PID is not $BIN; refusing to benchmark something else" >&2
    exit 1
fi

# Non-idle jiffies on all CPUs (user, nice, system, irq, softirq, steal), and the server's.
busy_jiffies() {
    local _c u n s _i _w irq sirq st _r
    read -r _c u n s _i _w irq sirq st _r </proc/stat
    echo $((u + n + s + irq + sirq + st))
}
server_jiffies() { local f; read -r -a f <"/proc/$PID/stat"; echo $((f[13] + f[14])); }
# Seconds of CPU used by this shell's reaped children, into $CHILD_CPU. Runs `times` in this
# shell (a $(...) subshell would report its own children, i.e. none).
children_cpu() {
    local line cu cs
    times >"$TIMES"
    { read -r line; read -r cu cs; } <"$TIMES"
    CHILD_CPU="$(awk -v u="$cu" -v s="$cs" 'BEGIN { n = 0; split(u, a, /[ms]/); n += a[1] * 60 + a[2]
        split(s, a, /[ms]/); n += a[1] * 60 + a[2]; printf "%.3f", n }')"
}

# One wrk run; prints "<requests/sec> <p50 ms> <p99 ms> <non-2xx> <socket errors> <other CPU %>
# <server CPU µs per request>".
# "Other CPU" is the CPU time used by everything except wrk and the server during the run, as a
# share of all CPUs: anything but noise means another workload skewed the round. Server CPU per
# request (user + system time of the server process, kernel network work included, over wrk's
# request count; 10 ms tick resolution) hardly depends on what else runs, unlike req/s.
run_wrk() {
    local path="$1" dur="$2" out rps p50 p99 non2xx errs other nreq us b0 b1 v0 v1 c0 c1 w0 w1
    children_cpu; c0="$CHILD_CPU"
    b0="$(busy_jiffies)"; v0="$(server_jiffies)"; w0="$EPOCHREALTIME"
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$dur" --latency "$BASE$path")"
    b1="$(busy_jiffies)"; v1="$(server_jiffies)"; w1="$EPOCHREALTIME"
    children_cpu; c1="$CHILD_CPU"
    rps="$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")"
    p50="$(awk '$1=="50%" {print $2}' <<<"$out")"
    p99="$(awk '$1=="99%" {print $2}' <<<"$out")"
    non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' <<<"$out")"
    errs="$(awk '/Socket errors:/ {s=0; for (i=3;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$out")"
    other="$(awk -v b="$((b1 - b0))" -v v="$((v1 - v0))" -v w="$(awk -v a="$c1" -v b="$c0" 'BEGIN{print a-b}')" \
        -v t="$(awk -v a="$w1" -v b="$w0" 'BEGIN{print a-b}')" -v hz="$HZ" -v n="$NPROC" \
        'BEGIN { o = ((b - v) / hz - w) / (t * n) * 100; if (o < 0) o = 0; printf "%.1f", o }')"
    nreq="$(awk '/ requests in / {print $1}' <<<"$out")"
    us="$(awk -v v="$((v1 - v0))" -v hz="$HZ" -v n="$nreq" 'BEGIN { printf "%.2f", v / hz / n * 1e6 }')"
    echo "$rps $(to_ms "$p50") $(to_ms "$p99") ${non2xx:-0} ${errs:-0} $other $us"
}
# wrk prints latencies as 123.45us / 1.23ms / 1.23s.
to_ms() {
    awk -v v="$1" 'BEGIN {
        if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
        else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
        else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
        else print "nan" }'
}

echo "healthsync serve on 127.0.0.1:$PORT (pid $PID); wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $ROUNDS round(s), $(nproc) CPUs shared by wrk and server"
echo "  load average before: $(cut -d' ' -f1-3 /proc/loadavg) (wrk + server alone push it to ~2-3 on 2 CPUs)"
run_wrk / "$WARMUP" >/dev/null
run_wrk /api/system/live "$WARMUP" >/dev/null

declare -a PING_RPS LIVE_RPS OTHER PING_US LIVE_US
bad=0
for r in $(seq "$ROUNDS"); do
    read -r rps p50 p99 non errs other us < <(run_wrk / "$DURATION")
    PING_RPS+=("$rps"); OTHER+=("$other"); PING_US+=("$us")
    printf '  round %d  GET /                 %10.0f req/s  p50 %6.3f ms  p99 %6.3f ms  server %5.2f µs/req  non-2xx %s  sock err %s  other CPU %s%%\n' "$r" "$rps" "$p50" "$p99" "$us" "$non" "$errs" "$other"
    (( non > 0 || errs > 0 )) && bad=1
    read -r rps p50 p99 non errs other us < <(run_wrk /api/system/live "$DURATION")
    LIVE_RPS+=("$rps"); OTHER+=("$other"); LIVE_US+=("$us")
    printf '  round %d  GET /api/system/live  %10.0f req/s  p50 %6.3f ms  p99 %6.3f ms  server %5.2f µs/req  non-2xx %s  sock err %s  other CPU %s%%\n' "$r" "$rps" "$p50" "$p99" "$us" "$non" "$errs" "$other"
    (( non > 0 || errs > 0 )) && bad=1
done

echo "  load average after:  $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$THREADS" "$CONNECTIONS" "$DURATION" "$bad" "${PING_RPS[*]}" "${LIVE_RPS[*]}" "${OTHER[*]}" "${PING_US[*]}" "${LIVE_US[*]}" <<'EOF'
import json, statistics, sys
threads, conns, dur, bad, ping, live, other, ping_us, live_us = sys.argv[1:]
ping_us = [float(x) for x in ping_us.split()]
live_us = [float(x) for x in live_us.split()]
pu, lu = statistics.median(ping_us), statistics.median(live_us)
other = [float(x) for x in other.split()]
ping = [float(x) for x in ping.split()]
live = [float(x) for x in live.split()]
p, l = sum(ping) / len(ping), sum(live) / len(live)
pb, lb = max(ping), max(live)
print(json.dumps({
    "bench": "throughput", "wrk": {"threads": int(threads), "connections": int(conns), "duration": dur},
    "ping_rps": round(p, 1), "live_rps": round(l, 1), "ratio_live_to_ping": round(l / p, 3),
    "ping_rps_best": pb, "live_rps_best": lb, "ratio_best": round(lb / pb, 3),
    "server_cpu_us_per_req": {"ping": pu, "live": lu, "ratio_ping_to_live": round(pu / lu, 3)},
    "ping_rps_rounds": ping, "live_rps_rounds": live, "other_cpu_pct_rounds": other,
    "ping_us_rounds": ping_us, "live_us_rounds": live_us,
    "errors": bad == "1",
}))
print(f"GET /                {p:10.0f} req/s (mean of {len(ping)})")
print(f"GET /api/system/live {l:10.0f} req/s (mean of {len(live)})")
print(f"ratio live/ping      {l / p:10.3f}   (best rounds: {lb:.0f} / {pb:.0f} = {lb / pb:.3f})")
print(f"server CPU per request (median of rounds): ping {pu:.2f} µs, live {lu:.2f} µs; ping/live {pu / lu:.3f}")
spread = max((max(v) - min(v)) / max(v) for v in (ping, live))
if spread > 0.05:
    print(f"NOTE: rounds differ by up to {spread:.0%}; prefer the best-round ratio or rerun.")
if max(other) > 5:
    print(f"NOTE: other processes used up to {max(other):.0f}% of the CPUs during a round; its req/s are low.")
if bad == "1":
    print("WARNING: non-2xx responses or socket errors occurred; see the rounds above")
EOF
