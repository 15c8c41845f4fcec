#!/usr/bin/env bash
# Emulator throughput: DNS queries per second through the data plane with a
# 100,000-domain rule group against the same queries with no rule group
# (same run), and the time to accept a 1000-domain UpdateFirewallDomains on
# a 100,000-domain list. Prints a Markdown table.
#
#   bench/emulator.sh [BENCHTIME]     (default 3s)
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${1:-3s}
out=$(go test -run XXX -bench 'DataPlane|Update1000On100k|IndexRebuild100k' -benchtime "$benchtime" ./internal/emulator/)
echo "$out" | grep -E '^Benchmark' >&2
qps() { echo "$out" | awk -v n="$1" '$1 ~ n { for (i=1;i<=NF;i++) if ($i=="queries/s") print $(i-1) }'; }
nsop() { echo "$out" | awk -v n="$1" '$1 ~ n { print $3 }'; }
none=$(qps 'domains=0-')
full=$(qps 'domains=100000-')
echo
echo "| measurement | value |"
echo "|---|---|"
printf '| DNS queries/s, no rule group (UDP, 4 clients) | %.0f |\n' "$none"
printf '| DNS queries/s, 100,000-domain rule group | %.0f |\n' "$full"
printf '| ratio (with / without) | %.2f |\n' "$(echo "$full / $none" | bc -l)"
printf '| UpdateFirewallDomains, 1000 domains on a 100,000-domain list | %.2f ms |\n' "$(echo "$(nsop Update1000On100k) / 1000000" | bc -l)"
printf '| data plane index rebuild after a change (100,000 domains) | %.1f ms |\n' "$(echo "$(nsop IndexRebuild100k) / 1000000" | bc -l)"
