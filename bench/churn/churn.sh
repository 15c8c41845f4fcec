#!/usr/bin/env bash
# Real feed churn: the consecutive published versions of a public
# blocklist, each converted to RPZ the way its publisher writes its RPZ
# editions (every domain as "name CNAME ." and "*.name CNAME ."), synced one
# after another into one rule group of the emulator (in process, 5
# requests/s, 2 s settle). Prints a Markdown table a version a row. The
# versions are extracted to a temporary directory and removed afterwards:
# the data is never committed.
#
#   bench/churn/churn.sh GIT_DIR [PATH [MAX_VERSIONS]]
#       GIT_DIR: a clone (its .git directory, or a bare repository) of
#                hagezi/dns-blocklists with its history
#       PATH:    the list in it (default wildcard/personal.txt, "*.name" lines)
#   bench/churn/churn.sh -synthetic [-staging]
#       a synthetic feed of wildcard pairs that grows past 250,000 entries
#       and shrinks back (-staging: with a staging bucket, moto_server on PATH)
set -euo pipefail
cd "$(dirname "$0")/../.."
export AWS_EC2_METADATA_DISABLED=true
if [[ "${1:-}" == -synthetic ]]; then
	exec go run ./bench/churn "$@"
fi
git_dir=${1:?usage: bench/churn/churn.sh GIT_DIR [PATH [MAX_VERSIONS]]}
path=${2:-wildcard/personal.txt}
max=${3:-1000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# --follow keeps the list's history across renames, so each commit comes
# with the path the list had then; tac puts the oldest first. A shallow
# or partial clone may stop the walk early (git says it cannot read an
# object): the versions found up to there are used.
{ git --git-dir="$git_dir" log --follow --format='@%H %ad' --date=format:%Y-%m-%dT%H%M --name-only -- "$path" 2>/dev/null || true; } |
	awk '/^@/ { c = substr($0, 2); next } NF { print c, $0 }' | tac >"$work/versions"
[[ -s "$work/versions" ]] || { echo "no versions of $path in $git_dir" >&2; exit 1; }
n=0
while read -r commit date file; do
	((n < max)) || break
	# A version whose blob the clone lacks is skipped, and said so.
	if ! git --git-dir="$git_dir" show "$commit:$file" >"$work/raw" 2>/dev/null; then
		echo "skipping ${commit:0:7} ($date): $file not in the clone" >&2
		continue
	fi
	{
		echo '$TTL 300'
		# "*.name" and "name" lines both stand for the domain and all below
		# it; comments and blank lines go.
		sed -e 's/[[:space:]]*#.*$//' -e 's/^\*\.//' -e '/^[[:space:]]*$/d' "$work/raw" |
			tr 'A-Z' 'a-z' | sort -u | awk '{ print $1 " CNAME ."; print "*." $1 " CNAME ." }'
	} >"$(printf '%s/%04d-%s-%s.rpz' "$work" "$n" "$date" "${commit:0:7}")"
	n=$((n + 1))
done <"$work/versions"
rm -f "$work/raw" "$work/versions"
go run ./bench/churn -zones "$work" "${@:4}"
