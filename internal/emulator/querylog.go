package emulator

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/dnsfw"
)

// LogRecord is one Route 53 Resolver query log record; the firewall members
// are present only on ALERT and BLOCK matches.
type LogRecord struct {
	Version              string            `json:"version"`
	AccountID            string            `json:"account_id"`
	Region               string            `json:"region"`
	VpcID                string            `json:"vpc_id"`
	QueryTimestamp       string            `json:"query_timestamp"`
	QueryName            string            `json:"query_name"`
	QueryType            string            `json:"query_type"`
	QueryClass           string            `json:"query_class"`
	Rcode                string            `json:"rcode"`
	Answers              []LogAnswer       `json:"answers"`
	SrcAddr              string            `json:"srcaddr"`
	SrcPort              string            `json:"srcport"`
	Transport            string            `json:"transport"`
	SrcIDs               map[string]string `json:"srcids"`
	FirewallRuleGroupID  string            `json:"firewall_rule_group_id,omitempty"`
	FirewallRuleAction   string            `json:"firewall_rule_action,omitempty"`
	FirewallDomainListID string            `json:"firewall_domain_list_id,omitempty"`
}

// LogAnswer is one answer in a log record.
type LogAnswer struct {
	Rdata string `json:"Rdata"`
	Type  string `json:"Type"`
	Class string `json:"Class"`
}

func (d *DataPlane) record(w dns.ResponseWriter, q dns.Question, m *dns.Msg, v dnsfw.Verdict, meta *ruleMeta) LogRecord {
	host, port, _ := net.SplitHostPort(w.RemoteAddr().String())
	transport := "UDP"
	if w.LocalAddr().Network() == "tcp" {
		transport = "TCP"
	}
	rec := LogRecord{
		Version: "1.100000", AccountID: d.cfg.Account, Region: d.cfg.Region, VpcID: d.e.vpc,
		QueryTimestamp: d.e.now().UTC().Format(time.RFC3339), QueryName: dns.Fqdn(strings.ToLower(q.Name)),
		QueryType: dns.TypeToString[q.Qtype], QueryClass: dns.ClassToString[q.Qclass], Rcode: dns.RcodeToString[m.Rcode],
		Answers: []LogAnswer{}, SrcAddr: host, SrcPort: port, Transport: transport,
		SrcIDs: map[string]string{"instance": "i-emulated" + strings.ReplaceAll(host, ".", "")},
	}
	for _, rr := range m.Answer {
		h := rr.Header()
		rdata := strings.TrimPrefix(rr.String(), h.String())
		rec.Answers = append(rec.Answers, LogAnswer{Rdata: rdata, Type: dns.TypeToString[h.Rrtype], Class: dns.ClassToString[h.Class]})
	}
	if meta != nil && (v.Action == dnsfw.ActionBlock || v.Action == dnsfw.ActionAlert) {
		rec.FirewallRuleGroupID, rec.FirewallRuleAction, rec.FirewallDomainListID = meta.groupID, v.Action, meta.listID
	}
	return rec
}

// LogConfig says where query logs go.
type LogConfig struct {
	Bucket string
	Prefix string
	Flush  time.Duration // default 1 minute
	// MaxBuffered bounds records kept while S3 is unreachable; older ones
	// are dropped and counted.
	MaxBuffered int
}

// LogStats counts what the query logger did.
type LogStats struct {
	Records, Objects, Dropped, PutErrors int
}

type queryLogger struct {
	e       *Emulator
	cfg     LogConfig
	mu      sync.Mutex
	pending []LogRecord
	stats   LogStats
	// stopped is closed once the last flush is done, after ctx ended.
	stopped chan struct{}
}

// EnableQueryLogs starts writing query logs to cfg.Bucket through the
// emulator's ObjectStore, flushing every cfg.Flush until ctx ends (then
// once more).
func (e *Emulator) EnableQueryLogs(ctx context.Context, cfg LogConfig) error {
	if e.objects == nil {
		return fmt.Errorf("query logs need an S3 endpoint")
	}
	if cfg.Flush <= 0 {
		cfg.Flush = time.Minute
	}
	if cfg.MaxBuffered <= 0 {
		cfg.MaxBuffered = 1000000
	}
	l := &queryLogger{e: e, cfg: cfg, stopped: make(chan struct{})}
	e.logs = l
	go func() {
		defer close(l.stopped)
		t := time.NewTicker(cfg.Flush)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				l.flush(fctx)
				cancel()
				return
			case <-t.C:
				l.flush(ctx)
			}
		}
	}()
	return nil
}

// FlushLogs writes pending query logs now.
func (e *Emulator) FlushLogs(ctx context.Context) {
	if e.logs != nil {
		e.logs.flush(ctx)
	}
}

// LogsStopped is closed once query logging has written its last records
// after its context ended (at once when it is off), so that whoever
// serves its S3 stays up until then.
func (e *Emulator) LogsStopped() <-chan struct{} {
	if e.logs == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return e.logs.stopped
}

// LogStats reports the query logger's counters.
func (e *Emulator) LogStats() LogStats {
	if e.logs == nil {
		return LogStats{}
	}
	e.logs.mu.Lock()
	defer e.logs.mu.Unlock()
	return e.logs.stats
}

func (l *queryLogger) add(r LogRecord) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) >= l.cfg.MaxBuffered {
		l.pending = l.pending[1:]
		l.stats.Dropped++
	}
	l.pending = append(l.pending, r)
}

// flush writes one object per VPC and account with every pending record.
// A failed put keeps the records for the next flush.
func (l *queryLogger) flush(ctx context.Context) {
	l.mu.Lock()
	recs := l.pending
	l.pending = nil
	l.mu.Unlock()
	if len(recs) == 0 {
		return
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	enc := json.NewEncoder(zw)
	for _, r := range recs {
		_ = enc.Encode(r)
	}
	_ = zw.Close()
	now := l.e.now().UTC()
	first := recs[0]
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	key := fmt.Sprintf("AWSLogs/%s/vpcdnsquerylogs/%s/%s/%s_vpcdnsquerylogs_%s_%s_%s.log.gz",
		first.AccountID, first.VpcID, now.Format("2006/01/02"), first.VpcID, first.AccountID, now.Format("20060102T1504Z"), hex.EncodeToString(rnd[:]))
	if l.cfg.Prefix != "" {
		key = strings.TrimSuffix(l.cfg.Prefix, "/") + "/" + key
	}
	err := l.e.objects.PutObject(ctx, l.cfg.Bucket, key, buf.Bytes())
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.stats.PutErrors++
		l.pending = append(recs, l.pending...)
		l.e.log.Warn("writing query logs failed; will retry", "bucket", l.cfg.Bucket, "records", len(recs), "err", err)
		return
	}
	l.stats.Objects++
	l.stats.Records += len(recs)
	l.e.log.Debug("wrote query logs", "key", key, "records", len(recs))
}
