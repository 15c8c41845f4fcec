#!/usr/bin/env bash
# rpzfw sync against the emulator at 5 requests/s: API calls against the
# make-before-break floor, update calls against their lower bound, and wall
# time, for first syncs (ADD chunks, S3 import) and a 1% change, beside
# "replace everything" (what tools that resend whole lists do), in the same
# run. Prints a Markdown table. A full run (100,000 and 1,000,000 domains)
# takes about half an hour, mostly the 5 requests/s.
#
#   bench/sync.sh [SIZES] [SETTLE]     (defaults: 100000,1000000 200ms)
#   bench/sync.sh small [SETTLE]       (default 2s, the emulator's own): a
#       one-domain change, three small multi-rule policies one after
#       another, the last unchanged and reordered (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true
if [ "${1:-}" = small ]; then
	exec go run ./bench/syncbench -multi -settle "${2:-2s}"
fi
exec go run ./bench/syncbench -sizes "${1:-100000,1000000}" -settle "${2:-200ms}"
