package rpz

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

func BenchmarkReadZone(b *testing.B) { benchmarkReadZone(b, ReadZone) }

// BenchmarkReadZoneFull is the same zone through the full parser alone.
func BenchmarkReadZoneFull(b *testing.B) { benchmarkReadZone(b, readZoneFull) }

func benchmarkReadZone(b *testing.B, read func(io.Reader, ZoneOptions, func(Record) error) (int, error)) {
	var sb strings.Builder
	sb.WriteString("$TTL 300\n$ORIGIN rpz.bench.\n")
	const n = 100000
	for i := range n {
		fmt.Fprintf(&sb, "d%d-example.com CNAME .\n", i)
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		_, err := read(strings.NewReader(text), ZoneOptions{File: "bench"}, func(Record) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(n, "records/op")
}
