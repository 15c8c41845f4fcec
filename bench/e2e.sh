#!/usr/bin/env bash
# The whole loop, measured, beside the seed's figures:
#  1. feed change to firewall: nsupdate at a BIND primary (TSIG), its signed
#     NOTIFY, IXFR and sync by two rpzfw serve instances on PostgreSQL, until
#     the emulator's DNS blocks the name; and log object to report: from the
#     log object holding that block landing in moto's S3 until its hit is in
#     the reports API. SAMPLES names, through test/e2e_test.go (TestE2E).
#  2. one instance's capacity: devices kept in sync and query log lines
#     ingested per second, alone and at the same time, with CPU and memory
#     (bench/e2ebench).
# Needs named, nsupdate, moto_server and PostgreSQL, as the tests do.
#
#   bench/e2e.sh [SAMPLES] [e2ebench flags...]     (SAMPLES default 7)
#   RPZFW_TEST_POSTGRES=postgres://...  the PostgreSQL to use (a schema is made and dropped)
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true
samples="${1:-7}"
shift || true
pg="${RPZFW_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"

echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d)"
echo

log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! RPZFW_E2E_SAMPLES="$samples" go test -count=1 -timeout 30m -run '^TestE2E$' -v ./test/ >"$log" 2>&1; then
	tail -80 "$log"
	echo "TestE2E failed" >&2
	exit 1
fi
# Go durations (1.2s, 850ms, 1m2.5s) in seconds.
secs='function secs(d,  m, s) { m = 0; if (d ~ /m[0-9]/) { m = substr(d, 1, index(d, "m") - 1); d = substr(d, index(d, "m") + 1) }
	if (d ~ /ms$/) s = substr(d, 1, length(d) - 2) / 1000; else if (d ~ /µs$/) s = substr(d, 1, length(d) - 2) / 1e6; else s = substr(d, 1, length(d) - 1)
	return m * 60 + s }'
stat() { # name: median and max of the samples' values of name
	grep -o "e2e-sample .*" "$log" | tr ' ' '\n' | grep "^$1=" | cut -d= -f2 |
		awk "$secs"'{ v[NR] = secs($0) } END { n = asort(v); printf "%.3f s | %.3f s", v[int((n + 1) / 2)], v[n] }'
}
settle=$(grep -o 'emulator settle [^)]*' "$log" | head -1 | cut -d' ' -f3)
echo "Feed change and log to report, $samples samples (two instances on PostgreSQL, emulator settle $settle, query logs flushed every 1 s):"
echo
echo "| path | median | max | the seed's service |"
echo "|---|---|---|---|"
echo "| feed change to firewall: nsupdate at the primary to the emulator's DNS blocking the name (signed NOTIFY, IXFR, sync) | $(stat feed_to_firewall) | policy changes live within 2 hours |"
echo "| log object to report: the object holding the block lands in S3 to its hit in the reports API (S3 notification, SQS, ingest) | $(stat log_to_report) | logs pulled every 15 min, shown 15 min later (up to 30 min) |"
grep -o 'e2e: the survivor finished.*\|e2e: every log line counted once.*\|e2e: took.*' "$log" | sed 's/^e2e: /- /'
echo

go build -o "$(dirname "$log")/rpzfw-e2ebench" ./cmd/rpzfw
go run ./bench/e2ebench -rpzfw "$(dirname "$log")/rpzfw-e2ebench" -database "$pg" "$@"
rm -f "$(dirname "$log")/rpzfw-e2ebench"
