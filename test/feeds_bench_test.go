package test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/feed"
)

// BenchmarkNotifyToPlan: from an nsupdate on a BIND primary to the new
// plan being compiled, through BIND's NOTIFY, the listener, IXFR and the
// compiler.
func BenchmarkNotifyToPlan(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	notifyPort := freePort(b)
	var recs strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&recs, "d%d.test CNAME .\n", i)
	}
	p := startPrimary(b, recs.String(), notifyPort)
	m, _ := feed.NewManager(b.TempDir(), xfrPolicy(p.addr, tsigSecret))
	m.Log = quietLog()
	if _, err := m.ListenNotify(ctx, fmt.Sprintf("127.0.0.1:%d", notifyPort)); err != nil {
		b.Fatal(err)
	}
	ready := make(chan *compile.Plan, 1)
	go m.Watch(ctx, func(string) { ready <- planOf(b, m) })
	<-ready
	var total time.Duration
	for i := 0; b.Loop(); i++ {
		start := time.Now()
		p.nsupdate(b, fmt.Sprintf("update add n%d.bench.rpz.test. 300 CNAME .", i))
		select {
		case <-ready:
		case <-time.After(20 * time.Second):
			b.Fatal("no new plan after the update")
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/update")
}

// BenchmarkIXFRvsAXFR1M: a 1,000,000-record zone on a BIND primary; 1% of
// it changes (5,000 deletions, 5,000 additions); the cost of bringing the
// copy up to date by IXFR against a full AXFR of the same zone.
func BenchmarkIXFRvsAXFR1M(b *testing.B) {
	const n = 1000000
	ctx := context.Background()
	var recs strings.Builder
	for i := range n {
		fmt.Fprintf(&recs, "d%07d.example CNAME .\n", i)
	}
	p := startPrimary(b, recs.String(), 0)
	m, _ := feed.NewManager(b.TempDir(), xfrPolicy(p.addr, tsigSecret))
	m.Log = quietLog()
	if _, err := m.Refresh(ctx, "vendor"); err != nil {
		b.Fatal(err)
	}
	first := m.Status("vendor")
	for batch := 0; batch < 5000; batch += 500 {
		var ups []string
		for i := batch; i < batch+500; i++ {
			ups = append(ups, fmt.Sprintf("update delete d%07d.example.rpz.test. CNAME", i), fmt.Sprintf("update add new%07d.example.rpz.test. 300 CNAME .", i))
		}
		p.nsupdate(b, ups...)
	}
	b.ResetTimer()
	if _, err := m.Refresh(ctx, "vendor"); err != nil {
		b.Fatal(err)
	}
	ix := m.Status("vendor")
	fresh, _ := feed.NewManager(b.TempDir(), xfrPolicy(p.addr, tsigSecret))
	fresh.Log = quietLog()
	if _, err := fresh.Refresh(ctx, "vendor"); err != nil {
		b.Fatal(err)
	}
	ax := fresh.Status("vendor")
	if ix.Records != n || ax.Records != n || ix.Transfer != "IXFR" {
		b.Fatalf("IXFR %+v, AXFR %+v", ix, ax)
	}
	b.ReportMetric(float64(first.Took.Milliseconds()), "first-axfr-ms")
	b.ReportMetric(float64(ix.Bytes), "ixfr-bytes")
	b.ReportMetric(float64(ix.Took.Milliseconds()), "ixfr-ms")
	b.ReportMetric(float64(ax.Bytes), "axfr-bytes")
	b.ReportMetric(float64(ax.Took.Milliseconds()), "axfr-ms")
}
