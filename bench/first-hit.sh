#!/usr/bin/env bash
# Measures the embedded default's promise: from `rpzfw serve` on a fresh data
# directory (sandbox, local S3 and SQS, sample traffic) to the first hit with
# a feed in the reports API. Prints one row per run and the median.
# Usage: bench/first-hit.sh [RUNS] (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
command -v curl >/dev/null && command -v python3 >/dev/null || { echo "needs curl and python3" >&2; exit 1; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d)"
bin=$(mktemp -d)/rpzfw
go build -o "$bin" ./cmd/rpzfw
now() { date +%s.%N; }
since() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(now)"; }
times=()
printf '| run | API ready (s) | first hit in reports (s) |\n|---|---|---|\n'
for i in $(seq 1 "$runs"); do
  d=$(mktemp -d)
  start=$(now)
  "$bin" serve --data-dir "$d" --listen 127.0.0.1:18080 --sandbox-api 127.0.0.1:15380 \
    --sandbox-dns 127.0.0.1:15354 --sandbox-aws 127.0.0.1:15381 >"$d/out" 2>"$d/err" &
  pid=$!
  until [ -s "$d/admin.token" ] && curl -sf http://127.0.0.1:18080/healthz >/dev/null; do
    kill -0 $pid 2>/dev/null || { cat "$d/err" >&2; exit 1; }
    sleep 0.1
  done
  ready=$(since "$start")
  tok=$(cat "$d/admin.token")
  deadline=$(( $(date +%s) + 180 ))
  until curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:18080/api/v1/reports/hits?device=sandbox&from=-1h&limit=5" |
      python3 -c 'import json,sys; sys.exit(0 if any(h.get("feed") for h in json.load(sys.stdin)["hits"]) else 1)' 2>/dev/null; do
    [ "$(date +%s)" -lt "$deadline" ] || { echo "no hit after 180 s; see $d/err" >&2; kill $pid; exit 1; }
    sleep 0.2
  done
  hit=$(since "$start")
  times+=("$hit")
  printf '| %d | %s | %s |\n' "$i" "$ready" "$hit"
  kill $pid; wait $pid || true
  rm -rf "$d"
done
printf 'median first hit: %s s\n' "$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{print (NR%2)? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}')"
