#!/usr/bin/env bash
# Parse+compile time and peak memory of `rpzfw plan` on a generated
# feed-like zone, beside BIND's named-checkzone on the same file, in the
# same run. Prints a Markdown table: median wall time with the range over
# the runs, the median's ratio to named-checkzone, and the largest peak RSS.
#
#   bench/compile.sh [RECORDS] [RUNS]     (defaults: 1000000 5)
#
# The commands take turns (one run of each per round), so a change in
# machine load during the benchmark touches all of them alike; the load
# average before and after is printed, since other work on the machine
# moves the figures. RPZFW=path measures another build of rpzfw;
# BEFORE=path adds rows for an earlier build, in the same rounds, to
# compare against.
set -euo pipefail
cd "$(dirname "$0")/.."
records=${1:-1000000}
runs=${2:-5}
out=bench/out
mkdir -p "$out"
command -v named-checkzone >/dev/null || { echo "named-checkzone not found: apt-get install bind9-utils" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not found: apt-get install time" >&2; exit 1; }

zone="$out/feed-$records.zone"
if [ ! -s "$zone" ]; then
  echo "generating $records records into $zone" >&2
  go run ./bench/genzone -n "$records" > "$zone"
fi
rpzfw=${RPZFW:-}
if [ -z "$rpzfw" ]; then
  rpzfw="$out/rpzfw"
  go build -o "$rpzfw" ./cmd/rpzfw
fi

names=("named-checkzone (BIND $(named -v | awk '{print $2}'))")
cmds=("named-checkzone -q rpz.bench $zone")
for build in ${BEFORE:+before} now; do
  bin=$rpzfw label=""
  if [ "$build" = before ]; then bin=$BEFORE label=", before"; elif [ -n "${BEFORE:-}" ]; then label=", now"; fi
  names+=("rpzfw plan (max 100,000 domains: truncates$label)"
    "rpzfw plan --max-domains 2000000 --format json (whole plan$label)")
  cmds+=("$bin plan $zone" "$bin plan --max-domains 2000000 --format json $zone")
done

# run I: one run of command I; appends its seconds and peak KB.
declare -a times rss
run() {
  local i=$1
  # shellcheck disable=SC2086 # the commands are word lists
  /usr/bin/time -f '%e %M' -o "$out/time.txt" ${cmds[$i]} > /dev/null 2> "$out/stderr.txt" || { cat "$out/stderr.txt" >&2; exit 1; }
  local t m
  read -r t m < "$out/time.txt"
  times[i]="${times[i]:-} $t"
  rss[i]="${rss[i]:-} $m"
}

# stats "T1 T2 ...": prints "median min max".
stats() {
  printf '%s\n' $1 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)], v[1], v[NR] }'
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for _ in $(seq "$runs"); do
  for i in "${!cmds[@]}"; do run "$i"; done
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

size=$(du -m "$zone" | cut -f1)
echo "Zone: $records records, ${size} MB; $runs rounds, median wall time (min-max), peak RSS."
echo "Load average before: $load_before; after: $load_after ($(nproc) CPUs)."
echo
echo "| command | seconds, median (min-max) | ratio to named-checkzone | peak MB |"
echo "|---|---|---|---|"
read -r base _ _ <<< "$(stats "${times[0]}")"
for i in "${!cmds[@]}"; do
  read -r med lo hi <<< "$(stats "${times[i]}")"
  peak=$(printf '%s\n' ${rss[i]} | sort -n | tail -1)
  ratio=$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.2f", a / b }')
  printf '| %s | %s (%s-%s) | %s | %d |\n' "${names[i]}" "$med" "$lo" "$hi" "$ratio" $(( peak / 1024 ))
done
