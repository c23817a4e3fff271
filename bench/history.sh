#!/usr/bin/env bash
# GET /api/health/checkup/history with a warm cache (in-process, the local default; REDIS_URL set
# in the environment switches to Redis) as a ratio to GET /api/system/live, same binary, same run,
# rounds alternating. The user is signed in (dev login), registered, has the health-data consent
# and five checkups; one request warms the cache. Server CPU per request is printed too (it resists
# other load on the machine better than req/s).
#
# Knobs: THREADS (2), CONNECTIONS (64), DURATION (10s), ROUNDS (3), BIN, PGURL.
set -euo pipefail
python3 "$(dirname "${BASH_SOURCE[0]}")/need.py" wrk psql || exit 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/healthsync}"
THREADS="${THREADS:-2}"; CONNECTIONS="${CONNECTIONS:-64}"; DURATION="${DURATION:-10s}"; ROUNDS="${ROUNDS:-3}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
DB="hs_bench_history_$$"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
PID=""
cleanup() {
    [[ -n "$PID" ]] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null || true
    psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT
[[ -x "$BIN" ]] || { echo "error: $BIN not found; run \`cargo build --release\` first" >&2; exit 2; }
psql -q "$PGURL/postgres" -c "CREATE DATABASE $DB" >/dev/null
DATABASE_URL="$PGURL/$DB" RUST_LOG=warn "$BIN" migrate >/dev/null
(exec env -i PATH="$PATH" HOME="${HOME:-/root}" FUNCTIONS_CUSTOMHANDLER_PORT="$PORT" DATABASE_URL="$PGURL/$DB" \
    ${REDIS_URL:+REDIS_URL="$REDIS_URL"} DEV_LOGIN_ENABLED=true AUTH_RATE_LIMIT_PER_MINUTE=10000 RUST_LOG=warn \
    AUTH_SIGNING_KEYS="k1:MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY" "$BIN" serve >/dev/null 2>&1) &
PID=$!
for _ in $(seq 500); do curl -fsS -o /dev/null "$BASE/api/system/live" 2>/dev/null && break; sleep 0.02; done

json() { python3 -c "import sys,json; print(json.load(sys.stdin)$1)"; }
TOKEN="$(curl -fsS -X POST "$BASE/api/auth/dev-login" -H 'content-type: application/json' -d '{"email":"bench@example.com"}' | json "['data']['accessToken']")"
H=(-H "authorization: Bearer $TOKEN" -H 'content-type: application/json')
curl -fsS -o /dev/null -X POST "$BASE/api/users/register" "${H[@]}" -d '{"name":"김벤치","birthDate":"1980-01-01","sex":"MALE"}'
curl -fsS -o /dev/null -X PUT "$BASE/api/users/me/consents" "${H[@]}" -d '{"consents":[{"type":"HEALTH_DATA","granted":true,"version":"2026-11"}]}'
for y in 2017 2019 2021 2023 2025; do
    curl -fsS -o /dev/null -X POST "$BASE/api/health/checkups" "${H[@]}" -d "{\"checkupDate\":\"$y-05-01\",\"height\":172,\"weight\":75,\"waist\":88,\"systolic\":128,\"diastolic\":82,\"fastingGlucose\":101,\"totalCholesterol\":205,\"hdl\":48,\"ldl\":130,\"triglycerides\":160,\"hemoglobin\":15,\"urineProtein\":1,\"serumCreatinine\":0.9,\"egfr\":95,\"ast\":25,\"alt\":30,\"ggt\":40}"
done
curl -fsS "$BASE/api/health/checkup/history" -H "authorization: Bearer $TOKEN" | json "['data']['totalRecords']" >/dev/null

server_jiffies() { local f; read -r -a f <"/proc/$PID/stat"; echo $((f[13] + f[14])); }
HZ="$(getconf CLK_TCK)"
run() { # path -> "rps us_per_req non2xx"
    local v0 v1 out
    v0="$(server_jiffies)"
    out="$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" -H "authorization: Bearer $TOKEN" "$BASE$1")"
    v1="$(server_jiffies)"
    awk -v v="$((v1 - v0))" -v hz="$HZ" '/^Requests\/sec:/ {rps=$2} / requests in / {n=$1} /Non-2xx/ {bad=$NF}
        END { printf "%s %.2f %s\n", rps, v / hz / n * 1e6, bad + 0 }' <<<"$out"
}
wrk -t1 -c8 -d2s -H "authorization: Bearer $TOKEN" "$BASE/api/health/checkup/history" >/dev/null
echo "healthsync serve (pid $PID), cache: ${REDIS_URL:+redis}${REDIS_URL:-in-process}; wrk -t$THREADS -c$CONNECTIONS -d$DURATION; load average $(cut -d' ' -f1-3 /proc/loadavg)"
L=(); Hs=(); LU=(); HU=()
for r in $(seq "$ROUNDS"); do
    read -r rps us bad < <(run /api/system/live); L+=("$rps"); LU+=("$us")
    echo "  round $r  live     $rps req/s  server $us µs/req  non-2xx $bad"
    read -r rps us bad < <(run /api/health/checkup/history); Hs+=("$rps"); HU+=("$us")
    echo "  round $r  history  $rps req/s  server $us µs/req  non-2xx $bad"
done
python3 - "${L[*]}" "${Hs[*]}" "${LU[*]}" "${HU[*]}" <<'PY'
import statistics, sys
l, h, lu, hu = ([float(x) for x in a.split()] for a in sys.argv[1:])
print(f"history/live req/s: {statistics.mean(h):.0f} / {statistics.mean(l):.0f} = {statistics.mean(h) / statistics.mean(l):.3f} (best rounds {max(h) / max(l):.3f})")
print(f"server CPU µs/req: live {statistics.median(lu):.1f}, history {statistics.median(hu):.1f}; live/history {statistics.median(lu) / statistics.median(hu):.3f}")
PY
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
