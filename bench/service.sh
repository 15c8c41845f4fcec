#!/usr/bin/env bash
# Measures rpzfw serve at scale: 100 devices over 20 emulated accounts on one
# policy, first sync and a policy change until every device is in_sync,
# against the floor the per-account 5 requests/s sets; peak memory.
# Usage: bench/service.sh [servicebench flags], e.g. -settle 2s -database postgres://...
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%Y-%m-%d)"
go run ./bench/servicebench "$@"
