#!/usr/bin/env bash
# Parse+compile time and peak memory of `rpzfw plan` on a generated
# feed-like zone, beside BIND's named-checkzone on the same file, in the
# same run. Prints a Markdown table.
#
#   bench/compile.sh [RECORDS] [RUNS]     (defaults: 1000000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
runs=${2:-3}
out=bench/out
mkdir -p "$out"
command -v named-checkzone >/dev/null || { echo "named-checkzone not found: apt-get install bind9-utils" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }

zone="$out/feed-$records.zone"
if [ ! -s "$zone" ]; then
  echo "generating $records records into $zone" >&2
  go run ./bench/genzone -n "$records" > "$zone"
fi
go build -o "$out/rpzfw" ./cmd/rpzfw

# measure NAME CMD...: runs CMD $runs times, prints "NAME|median s|max RSS MB".
measure() {
  local name=$1; shift
  local times=() rss=0
  for _ in $(seq "$runs"); do
    /usr/bin/time -f '%e %M' -o "$out/time.txt" "$@" > /dev/null 2> "$out/stderr.txt" || { cat "$out/stderr.txt" >&2; exit 1; }
    read -r t m < "$out/time.txt"
    times+=("$t")
    (( m > rss )) && rss=$m
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  printf '| %s | %s | %d |\n' "$name" "$median" $(( rss / 1024 ))
}

size=$(du -m "$zone" | cut -f1)
echo "Zone: $records records, ${size} MB; $runs runs each, median wall time, peak RSS."
echo
echo "| command | seconds | peak MB |"
echo "|---|---|---|"
measure "named-checkzone (BIND $(named -v | awk '{print $2}'))" named-checkzone -q rpz.bench "$zone"
measure "rpzfw plan (max 100,000 domains: truncates)" "$out/rpzfw" plan "$zone"
measure "rpzfw plan --max-domains 2000000 --format json (whole plan)" "$out/rpzfw" plan --max-domains 2000000 --format json "$zone"
