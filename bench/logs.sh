#!/usr/bin/env bash
# The query-log pipeline, each against a baseline in the same run: ingest of
# real-format objects on one core against gzip -dc of the same objects; the
# time from an object's S3 notification to its hit in the reports API
# (moto_server on PATH) against a bare SQS reader; top lists and timelines
# over HITS hits on SQLite and PostgreSQL against the same answers from the
# hits table. Prints Markdown tables. Storing 10,000,000 hits and making
# their tops takes minutes on each backend (see docs/PERFORMANCE.md).
#
#   bench/logs.sh [HITS] [BACKENDS]     (defaults: 10000000 sqlite,postgres)
#   RPZFW_TEST_POSTGRES=postgres://...  the PostgreSQL to use (a schema is made and dropped)
#   LOGBENCH_KEEP=DIR                   keep the loaded databases and time the
#                                       reports on them again in later runs:
#                                       SQLite in DIR/rpzfw-HITS.db, PostgreSQL
#                                       in the schema logbench_HITS (kept too)
#   LOGBENCH_ONLY_REPORTS=1             with LOGBENCH_KEEP: only the reports
#                                       over the kept loads (fails without one)
#
# Re-timing the reports on kept loads, the other parts left out:
#   go run ./bench/logbench -run reports -keep DIR -only-reports
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true
pg="${RPZFW_TEST_POSTGRES:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}"
args=(-hits "${1:-10000000}" -backends "${2:-sqlite,postgres}" -pg "$pg")
if [ -n "${LOGBENCH_KEEP:-}" ]; then
	args+=(-keep "$LOGBENCH_KEEP")
	if [ -n "${LOGBENCH_ONLY_REPORTS:-}" ]; then
		args+=(-run reports -only-reports)
	fi
fi
go run ./bench/logbench "${args[@]}"
