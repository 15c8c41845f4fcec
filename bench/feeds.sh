#!/usr/bin/env bash
# Feeds against a real BIND primary on loopback: the time from an nsupdate to
# a new plan (NOTIFY, IXFR, compile), and IXFR against AXFR for a 1% change
# on a 1,000,000-record zone (bytes on the wire and time), in the same run.
# Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test -run XXX -bench 'NotifyToPlan|IXFRvsAXFR1M' -benchtime 1x -timeout 900s ./test/ 2>/dev/null)
notify=$(go test -run XXX -bench 'NotifyToPlan' -benchtime 20x ./test/ 2>/dev/null | awk '/ms\/update/ { for (i=1;i<=NF;i++) if ($i=="ms/update") print $(i-1) }')
metric() { echo "$out" | awk -v m="$1" '/IXFRvsAXFR1M/ { for (i=1;i<=NF;i++) if ($i==m) print $(i-1) }'; }
echo "| measurement | value |"
echo "|---|---|"
echo "| nsupdate to new plan, via NOTIFY + IXFR + compile (10,000-record zone, mean of 20) | ${notify} ms |"
echo "| first AXFR, 1,000,000 records | $(metric first-axfr-ms) ms |"
echo "| 1% change (10,000 records) by IXFR: bytes | $(metric ixfr-bytes) |"
echo "| 1% change by IXFR: time, applied to the stored copy | $(metric ixfr-ms) ms |"
echo "| the same zone by AXFR: bytes | $(metric axfr-bytes) |"
echo "| the same zone by AXFR: time | $(metric axfr-ms) ms |"
