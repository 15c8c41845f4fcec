// Command churn syncs consecutive versions of a blocklist, one after
// another, into one rule group of the emulator (in process, 5 requests/s,
// its settle delay), and prints a Markdown table a version a row: entries,
// the real change, what was sent, update calls beside the per-list lower
// bound, the most domains the account held against the plan's size plus
// the documented headroom, and the time. bench/churn/churn.sh feeds it a
// public list's published versions; -synthetic makes a feed of wildcard
// pairs that grows past 250,000 entries and shrinks back.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

func main() {
	zones := flag.String("zones", "", "directory of RPZ zone files, synced in name order")
	synthetic := flag.Bool("synthetic", false, "sync a synthetic feed that grows past 250,000 entries and shrinks back")
	settle := flag.Duration("settle", 2*time.Second, "emulator settle delay")
	rps := flag.Float64("rps", 5, "emulator throttle and client rate (requests/s)")
	staging := flag.Bool("staging", false, "give the sync a staging bucket (moto_server on PATH) so new lists are imported")
	flag.Parse()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	var versions []version
	switch {
	case *synthetic:
		versions = syntheticVersions()
	case *zones != "":
		var err error
		if versions, err = zoneVersions(*zones); err != nil {
			log.Fatal(err)
		}
	default:
		log.Fatal("give -zones DIR or -synthetic")
	}
	ctx := context.Background()
	b, err := newBench(ctx, *settle, *rps, *staging)
	if err != nil {
		log.Fatal(err)
	}
	defer b.close()
	fmt.Printf("Emulator in process: %.0f requests/s, settle %s, staging bucket %v. %d versions.\n\n", *rps, *settle, *staging, len(versions))
	fmt.Println("| version | entries | real +/- | sent +/- | lists | update calls | per-list lower bound | all calls | peak held | plan + headroom | time |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|---|")
	var tot totals
	var prev []string
	for _, v := range versions {
		p, err := v.compile()
		if err != nil {
			log.Fatalf("%s: %v", v.name, err)
		}
		r, err := b.sync(ctx, p, prev)
		if err != nil {
			log.Fatalf("%s: %v", v.name, err)
		}
		prev = entries(p)
		tot.add(r)
		fmt.Printf("| %s | %d | +%d -%d | +%d -%d | %d | %d | %d | %d | %d | %d | %s |\n", v.name, r.entries, r.realAdded, r.realRemoved,
			r.sentAdded, r.sentRemoved, r.lists, r.updates, r.bound, r.calls, r.peak, r.entries+r.headroom, r.took.Round(100*time.Millisecond))
	}
	fmt.Printf("| all | | +%d -%d | +%d -%d | | %d | %d | %d | | %d over | %s |\n", tot.realAdded, tot.realRemoved, tot.sentAdded, tot.sentRemoved,
		tot.updates, tot.bound, tot.calls, tot.over, tot.took.Round(time.Second))
	fmt.Printf("\nUpdate calls / per-list lower bound: %.3f. Versions whose peak exceeded plan + headroom: %d.\n", float64(tot.updates)/float64(max(tot.bound, 1)), tot.over)
}

// version is one published version of a feed.
type version struct {
	name string
	zone func() (io.ReadCloser, error)
}

func (v version) compile() (*compile.Plan, error) {
	r, err := v.zone()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	bl := compile.NewBuilder()
	src, err := bl.AddSource(compile.Source{Name: v.name, Kind: compile.KindZone})
	if err != nil {
		return nil, err
	}
	if _, err := rpz.ReadZone(bufio.NewReader(r), rpz.ZoneOptions{File: v.name, Origin: "rpz"}, func(rec rpz.Record) error { bl.Add(src, rec); return nil }); err != nil {
		return nil, fmt.Errorf("reading the zone: %w", err)
	}
	return bl.Compile(compile.Settings{MaxDomains: 4000000})
}

func zoneVersions(dir string) ([]version, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.rpz"))
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no *.rpz files in %s", dir)
	}
	slices.Sort(files)
	var out []version
	for _, f := range files {
		out = append(out, version{name: strings.TrimSuffix(filepath.Base(f), ".rpz"), zone: func() (io.ReadCloser, error) { return os.Open(f) }})
	}
	return out, nil
}

// syntheticVersions is a feed of names, each as an entry and its wildcard
// (as wildcard lists' RPZ editions are written): 120,000 names (240,000
// entries), then growth past 250,000 entries, churn, and a shrink back
// below, with names dropped across the whole list.
func syntheticVersions() []version {
	steps := []struct {
		name          string
		add, dropEach int // names added; every dropEach-th name dropped (0: none)
	}{
		{"s1 first", 120000, 0},
		{"s2 grows past 250k", 8000, 200},
		{"s3 grows", 6000, 150},
		{"s4 churn", 2000, 60},
		{"s5 shrinks below 250k", 1000, 8},
		{"s6 churn", 3000, 40},
	}
	var live []int
	next := 0
	var out []version
	for _, s := range steps {
		if s.dropEach > 0 {
			kept := live[:0:0]
			for i, n := range live {
				if i%s.dropEach != s.dropEach/2 {
					kept = append(kept, n)
				}
			}
			live = kept
		}
		for range s.add {
			live = append(live, next)
			next++
		}
		names := slices.Clone(live)
		out = append(out, version{name: s.name, zone: func() (io.ReadCloser, error) {
			var b strings.Builder
			b.WriteString("$TTL 60\n")
			for _, n := range names {
				// Spread names over the alphabet, as real ones are.
				name := fmt.Sprintf("h%08x.n%d.example", uint32(n)*2654435761, n)
				fmt.Fprintf(&b, "%s CNAME .\n*.%s CNAME .\n", name, name)
			}
			return io.NopCloser(strings.NewReader(b.String())), nil
		}})
	}
	return out
}

type totals struct {
	result
	over int
}

func (t *totals) add(r result) {
	t.realAdded += r.realAdded
	t.realRemoved += r.realRemoved
	t.sentAdded += r.sentAdded
	t.sentRemoved += r.sentRemoved
	t.updates += r.updates
	t.bound += r.bound
	t.calls += r.calls
	t.took += r.took
	if r.peak > r.entries+r.headroom {
		t.over++
	}
}
