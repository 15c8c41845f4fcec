// Command logbench measures the query-log pipeline, each against a
// baseline in the same run, and prints Markdown tables:
//
//   - ingest: real-format objects on one core, against gzip -dc of the
//     same objects;
//   - latency: from an object's S3 notification to its hit in the reports
//     API, at the default long poll, against the notification reaching a
//     bare SQS reader (moto_server on PATH);
//   - reports: top lists and timelines over many hits on SQLite and
//     PostgreSQL, against the same answers computed from the hits alone.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime"
	"strings"
	"time"
)

func main() {
	runs := flag.String("run", "ingest,latency,reports", "what to measure: ingest, latency, reports")
	objects := flag.Int("objects", 8, "ingest: objects")
	lines := flag.Int("lines", 100_000, "ingest: lines an object")
	hitShare := flag.Float64("hit-share", 0.03, "ingest: share of lines that are hits")
	samples := flag.Int("samples", 10, "latency: objects measured")
	hits := flag.Int("hits", 10_000_000, "reports: hits stored")
	backends := flag.String("backends", "sqlite,postgres", "reports: stores")
	pg := flag.String("pg", "postgres://postgres@127.0.0.1:5432/test?sslmode=disable", "reports: PostgreSQL URL (a schema is made, and dropped unless -keep)")
	keep := flag.String("keep", "", "reports: keep the loaded databases and use them again: SQLite in DIR/rpzfw-HITS.db, PostgreSQL in the schema logbench_HITS")
	onlyReports := flag.Bool("only-reports", false, "reports: time the reports of a load kept by -keep; fail without one")
	workers := flag.Int("workers", 0, "reports: buckets whose tops are made at once (0: one a CPU)")
	flag.Parse()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx := context.Background()
	host, _ := os.Hostname()
	fmt.Printf("Machine: %s, %d CPUs, %s/%s, %s. Date: %s.\n\n", host, runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Now().Format("2006-01-02"))
	for _, r := range strings.Split(*runs, ",") {
		var err error
		switch r {
		case "ingest":
			err = ingestBench(ctx, *objects, *lines, *hitShare)
		case "latency":
			err = latencyBench(ctx, *samples)
		case "reports":
			err = reportsBench(ctx, reportsOpts{hits: *hits, backends: strings.Split(*backends, ","), pg: *pg,
				keep: *keep, onlyReports: *onlyReports, workers: *workers})
		default:
			err = fmt.Errorf("no benchmark %q", r)
		}
		if err != nil {
			log.Fatalf("%s: %v", r, err)
		}
	}
}
