#!/usr/bin/env bash
# The NHIS open-data import (`healthsync import-nhis`) as a ratio to `psql \copy` of the same rows
# (the same CP949 file, ENCODING 'UHC') into a plain typed table, measured in the same run against
# the same PostgreSQL, rounds alternating. Rows/s of the load (parse + COPY into the year's table)
# are compared; the percentile step (sorts per item, sex and age band) is reported beside it.
#
# Knobs: ROWS (1000000), ROUNDS (2), BIN (target/release/healthsync), PGURL (the server's
# postgres:// URL without a database; a scratch database is created and dropped).
set -euo pipefail
python3 "$(dirname "${BASH_SOURCE[0]}")/need.py" psql || exit 2
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/healthsync}"
ROWS="${ROWS:-1000000}"
ROUNDS="${ROUNDS:-2}"
PGURL="${PGURL:-postgres://postgres@127.0.0.1:5432}"
DB="hs_bench_import_$$"
WORK="$(mktemp -d)"
cleanup() { psql -q "$PGURL/postgres" -c "DROP DATABASE IF EXISTS $DB" >/dev/null 2>&1 || true; rm -rf "$WORK"; }
trap cleanup EXIT
[[ -x "$BIN" ]] || { echo "error: $BIN not found; run \`cargo build --release\` first" >&2; exit 2; }

FILE="$WORK/nhis_2024.csv"
"$ROOT/scripts/nhis-sample" --rows "$ROWS" --year 2024 --out "$FILE"
echo "file: $(du -h "$FILE" | cut -f1), $ROWS rows, CP949, 33 columns"
psql -q "$PGURL/postgres" -c "CREATE DATABASE $DB" >/dev/null
URL="$PGURL/$DB"
DATABASE_URL="$URL" RUST_LOG=warn "$BIN" migrate >/dev/null
psql -q "$URL" -c "CREATE TABLE plain (year int, id int, sido int, sex int, band int, height int, weight int,
  waist real, vl real, vr real, hl int, hr int, sbp int, dbp int, glucose int, tc int, tg int, hdl int, ldl int,
  hb real, up int, creat real, ast int, alt int, ggt int, smoking int, drinking int, oral text, c1 text, c2 text,
  c3 text, c4 text, c5 text)"

now() { date +%s.%N; }
for r in $(seq "$ROUNDS"); do
    psql -q "$URL" -c "TRUNCATE plain" >/dev/null
    t0="$(now)"
    psql -q "$URL" -c "\\copy plain FROM '$FILE' WITH (FORMAT csv, HEADER true, ENCODING 'UHC')"
    t1="$(now)"
    psql_rps="$(awk -v n="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')"
    out="$(DATABASE_URL="$URL" RUST_LOG=warn "$BIN" import-nhis "$FILE")"
    load_s="$(sed -n 's/.*; load \([0-9.]*\)s .*/\1/p' <<<"$out")"
    pct_s="$(sed -n 's/.*percentiles \([0-9.]*\)s .*/\1/p' <<<"$out")"
    loaded="$(sed -n 's/.*, \([0-9]*\) loaded,.*/\1/p' <<<"$out")"
    ours_rps="$(awk -v n="$loaded" -v s="$load_s" 'BEGIN { printf "%.0f", n / s }')"
    echo "round $r: psql \\copy $psql_rps rows/s ($(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.2f", b-a}')s); import-nhis load $ours_rps rows/s (${load_s}s, $loaded rows), percentiles ${pct_s}s; ratio $(awk -v a="$ours_rps" -v b="$psql_rps" 'BEGIN{printf "%.3f", a/b}')"
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
