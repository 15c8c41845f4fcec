package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// world is what the generated logs are about: an organization with two
// devices (rule groups rslvr-frg-a and -b, VPCs vpc-a and vpc-b; vpc-c
// belongs to no device), each with a deployed plan of feed entries.
type world struct {
	org     int64
	devices []store.Device
	// entries are the plan's wildcard entries, *.badN.example.
	entries int
}

const (
	listID    = "rslvr-fdl-threats"
	ruleName  = "rpzfw-1-nxdomain"
	feedName  = "threats"
	planLines = 20_000
)

// setupWorld makes the organization, devices and deployments in s.
func setupWorld(ctx context.Context, s store.Store, queue string) (*world, error) {
	o, err := s.CreateOrg(ctx, "bench")
	if err != nil {
		return nil, err
	}
	if _, err := s.CreatePolicy(ctx, store.Policy{OrgID: o.ID, Name: "p", Doc: []byte(`{}`)}); err != nil {
		return nil, err
	}
	w := &world{org: o.ID, entries: planLines}
	var dep store.Deployment
	dep.Fingerprint, dep.Lists = "bench", []store.DeployedList{{ListID: listID, Rule: ruleName}}
	for i := range planLines {
		dep.Entries = append(dep.Entries, store.PlanEntry{Domain: "*.bad" + strconv.Itoa(i) + ".example", Rule: ruleName, Source: feedName, Line: i + 5})
	}
	for _, n := range []string{"a", "b"} {
		d, err := s.CreateDevice(ctx, store.Device{OrgID: o.ID, Nickname: "fw-" + n, Provider: "aws-dns-firewall", Policy: "p", Region: "us-east-1",
			RuleGroupID: "rslvr-frg-" + n, LogEnabled: true, LogQueueURL: queue})
		if err != nil {
			return nil, err
		}
		if err := s.PutStatus(ctx, store.Status{DeviceID: d.ID, State: store.StateInSync, VPCs: []string{"vpc-" + n}}); err != nil {
			return nil, err
		}
		if err := s.RecordDeployment(ctx, d.ID, time.Now().Add(-365*24*time.Hour), dep); err != nil {
			return nil, err
		}
		w.devices = append(w.devices, d)
	}
	return w, nil
}

// zipf draws ranks 0..n-1 with a Zipf law of exponent s (s > 1).
type zipf struct{ z *rand.Zipf }

func newZipf(rng *rand.Rand, s float64, n uint64) zipf { return zipf{rand.NewZipf(rng, s, 1, n-1)} }

func (z zipf) next() int { return int(z.z.Uint64()) }

// lineGen writes Route 53 Resolver log lines in the real format: mostly
// clean names from 400 clients, hitShare of them names under the plan's
// entries (BLOCK), with answers for the clean ones.
type lineGen struct {
	rng      *rand.Rand
	names    zipf
	bad      zipf
	hitShare float64
	entries  int
}

func newLineGen(seed uint64, hitShare float64, entries int) *lineGen {
	rng := rand.New(rand.NewPCG(seed, 11))
	return &lineGen{rng: rng, names: newZipf(rng, 1.1, 200_000), bad: newZipf(rng, 1.2, uint64(entries)), hitShare: hitShare, entries: entries}
}

var vpcs = []string{"vpc-a", "vpc-b", "vpc-c"}

func (g *lineGen) line(b []byte, at time.Time) []byte {
	vpc := vpcs[g.rng.IntN(3)]
	src := "10." + strconv.Itoa(g.rng.IntN(4)) + "." + strconv.Itoa(g.rng.IntN(100)) + ".7"
	ts := at.UTC().Format(time.RFC3339)
	if g.rng.Float64() < g.hitShare {
		rg := "rslvr-frg-" + vpc[4:]
		if vpc == "vpc-c" {
			rg = "rslvr-frg-other" // a rule group no device names
		}
		name := "h" + strconv.Itoa(g.rng.IntN(50)) + ".bad" + strconv.Itoa(g.bad.next()) + ".example."
		return fmt.Appendf(b, `{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"%s","query_timestamp":"%s",`+
			`"query_name":"%s","query_type":"A","query_class":"IN","rcode":"NXDOMAIN","answers":[],"srcaddr":"%s","srcport":"%d",`+
			`"transport":"UDP","srcids":{"instance":"i-0d15cd0d3e%04d"},"firewall_rule_group_id":"%s","firewall_rule_action":"BLOCK",`+
			`"firewall_domain_list_id":"%s"}`+"\n", vpc, ts, name, src, 1024+g.rng.IntN(60000), g.rng.IntN(400), rg, listID)
	}
	name := "host" + strconv.Itoa(g.names.next()) + ".example.com."
	return fmt.Appendf(b, `{"version":"1.100000","account_id":"111122223333","region":"us-east-1","vpc_id":"%s","query_timestamp":"%s",`+
		`"query_name":"%s","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"203.0.113.%d","Type":"A","Class":"IN"}],`+
		`"srcaddr":"%s","srcport":"%d","transport":"UDP","srcids":{"instance":"i-0d15cd0d3e%04d"}}`+"\n",
		vpc, ts, name, g.rng.IntN(250), src, 1024+g.rng.IntN(60000), g.rng.IntN(400))
}

// object is one gzipped log object of n lines over five minutes from at,
// and its size uncompressed.
func (g *lineGen) object(n int, at time.Time) ([]byte, int) {
	var raw bytes.Buffer
	var line []byte
	for i := range n {
		line = g.line(line[:0], at.Add(time.Duration(i)*5*time.Minute/time.Duration(n)))
		raw.Write(line)
	}
	var z bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&z, gzip.DefaultCompression)
	zw.Write(raw.Bytes())
	zw.Close()
	return z.Bytes(), raw.Len()
}

// median of durations.
func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[len(s)/2]
}

// pct is the p-th percentile (0..1) of durations.
func pct(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s[int(math.Min(float64(len(s)-1), math.Ceil(p*float64(len(s)))-1))]
}
