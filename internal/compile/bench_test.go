package compile

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/rpzfw/rpzfw/internal/rpz"
)

// benchRecords makes n feed-like records: blocks, some wildcards with
// passthrus under them, some walled gardens.
func benchRecords(n int) []rpz.Record {
	rng := rand.New(rand.NewPCG(1, 2))
	recs := make([]rpz.Record, 0, n)
	for i := 0; len(recs) < n; i++ {
		d := fmt.Sprintf("d%x%d.%s", rng.Uint32(), i, []string{"com", "net", "org", "xyz"}[i%4])
		switch i % 100 {
		case 0:
			recs = append(recs, rpz.Record{Name: d, Wildcard: true, Action: rpz.ActionNXDomain, Line: i},
				rpz.Record{Name: "www." + d, Action: rpz.ActionPassthru, Line: i})
		case 1:
			recs = append(recs, rpz.Record{Name: d, Action: rpz.ActionCNAME, Target: "walled.example", TTL: 300, Line: i})
		default:
			recs = append(recs, rpz.Record{Name: d, Action: rpz.ActionNXDomain, Line: i})
		}
	}
	return recs
}

func benchmarkCompile(b *testing.B, n, max int) {
	recs := benchRecords(n)
	b.ReportAllocs()
	for b.Loop() {
		bl := NewBuilder()
		src, _ := bl.AddSource(Source{Name: "feed", Kind: KindZone})
		for _, r := range recs {
			bl.Add(src, r)
		}
		if _, err := bl.Compile(Settings{MaxDomains: max}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n), "records/op")
}

func BenchmarkCompile100k(b *testing.B)            { benchmarkCompile(b, 100000, 1<<30) }
func BenchmarkCompile1M(b *testing.B)              { benchmarkCompile(b, 1000000, 1<<30) }
func BenchmarkCompile1MTruncated100k(b *testing.B) { benchmarkCompile(b, 1000000, 100000) }

func BenchmarkReferenceDecide(b *testing.B) {
	ref := NewReference()
	src, _ := ref.AddSource(Source{Name: "feed"})
	for _, r := range benchRecords(100000) {
		ref.Add(src, r)
	}
	names := []string{"www.d1.com", "a.b.c.example.org", "d0.net"}
	for i := 0; b.Loop(); i++ {
		ref.Decide(names[i%len(names)])
	}
}
