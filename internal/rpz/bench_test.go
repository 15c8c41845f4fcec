package rpz

import (
	"fmt"
	"strings"
	"testing"
)

func BenchmarkReadZone(b *testing.B) {
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
		_, err := ReadZone(strings.NewReader(text), ZoneOptions{File: "bench"}, func(Record) error { return nil })
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(n, "records/op")
}
