package test

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
	"github.com/aws/aws-sdk-go-v2/service/route53resolver/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/miekg/dns"

	"github.com/rpzfw/rpzfw/internal/emulator"
)

var logKeyRe = regexp.MustCompile(`^AWSLogs/123456789012/vpcdnsquerylogs/vpc-emulated/\d{4}/\d{2}/\d{2}/vpc-emulated_vpcdnsquerylogs_123456789012_\d{8}T\d{4}Z_[0-9a-f]+\.log\.gz$`)

// TestEmulatorQueryLogsReachS3AndSQS: queries through the data plane end up
// as Route 53 Resolver log objects in moto's S3, whose event notification
// reaches SQS, with every field as DESIGN.md describes.
func TestEmulatorQueryLogsReachS3AndSQS(t *testing.T) {
	ctx := context.Background()
	moto := startMoto(t)
	queue := logBucket(t, moto, "dns-logs")
	store, err := emulator.NewS3Store(ctx, moto, "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	m := startEmulator(t, emulator.Config{Objects: store})
	lctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := m.e.EnableQueryLogs(lctx, emulator.LogConfig{Bucket: "dns-logs", Flush: time.Hour}); err != nil {
		t.Fatal(err)
	}
	makeGroup(t, m.client(3), m.e.VPCID(), 101,
		ruleSpec{priority: 1, action: types.ActionBlock, response: types.BlockResponseNxdomain, domains: []string{"blocked.test"}},
		ruleSpec{priority: 2, action: types.ActionAlert, domains: []string{"alerted.test"}},
	)
	for _, q := range []string{"blocked.test", "alerted.test", "clean.test"} {
		query(t, m.dp.Addr(), "udp", q, dns.TypeA)
	}
	m.e.FlushLogs(ctx)
	if st := m.e.LogStats(); st.Objects != 1 || st.Records != 3 {
		t.Fatalf("log stats: %+v", st)
	}

	// The S3 event on SQS names the object (form-encoded key).
	sqsc := motoSQS(moto)
	var key string
	for deadline := time.Now().Add(20 * time.Second); key == "" && time.Now().Before(deadline); {
		out, err := sqsc.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &queue, WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, msg := range out.Messages {
			var ev struct {
				Records []struct {
					EventName string
					S3        struct {
						Bucket struct{ Name string }
						Object struct{ Key string }
					}
				}
			}
			if json.Unmarshal([]byte(*msg.Body), &ev) == nil && len(ev.Records) > 0 && strings.HasPrefix(ev.Records[0].EventName, "ObjectCreated") {
				key, _ = url.QueryUnescape(ev.Records[0].S3.Object.Key)
			}
		}
	}
	if !logKeyRe.MatchString(key) {
		t.Fatalf("no S3 event with a query-log key arrived (got %q)", key)
	}
	obj, err := motoS3(moto).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("dns-logs"), Key: &key})
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(obj.Body)
	if err != nil {
		t.Fatalf("log object is not gzip: %v", err)
	}
	byName := map[string]map[string]any{}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("log line is not JSON: %s", sc.Text())
		}
		byName[rec["query_name"].(string)] = rec
	}
	if len(byName) != 3 {
		t.Fatalf("want 3 records, got %v", byName)
	}
	for name, rec := range byName {
		for _, f := range []string{"version", "account_id", "region", "vpc_id", "query_timestamp", "query_name", "query_type", "query_class", "rcode", "answers", "srcaddr", "srcport", "transport", "srcids"} {
			if _, ok := rec[f]; !ok {
				t.Errorf("%s: missing %s", name, f)
			}
		}
		if _, ok := rec["srcport"].(string); !ok {
			t.Errorf("%s: srcport must be a string: %v", name, rec["srcport"])
		}
		if _, err := time.Parse(time.RFC3339, rec["query_timestamp"].(string)); err != nil {
			t.Errorf("%s: timestamp %v", name, rec["query_timestamp"])
		}
		if rec["version"] != "1.100000" || rec["vpc_id"] != "vpc-emulated" || rec["transport"] != "UDP" || rec["query_class"] != "IN" {
			t.Errorf("%s: %v", name, rec)
		}
	}
	if r := byName["blocked.test."]; r["rcode"] != "NXDOMAIN" || r["firewall_rule_action"] != "BLOCK" || !strings.HasPrefix(r["firewall_domain_list_id"].(string), "rslvr-fdl-") || !strings.HasPrefix(r["firewall_rule_group_id"].(string), "rslvr-frg-") || len(r["answers"].([]any)) != 0 {
		t.Errorf("blocked record: %v", r)
	}
	if r := byName["alerted.test."]; r["rcode"] != "NOERROR" || r["firewall_rule_action"] != "ALERT" || len(r["answers"].([]any)) != 1 {
		t.Errorf("alerted record: %v", r)
	}
	if r := byName["clean.test."]; r["firewall_rule_action"] != nil || r["firewall_domain_list_id"] != nil {
		t.Errorf("a record without a firewall match must not carry firewall fields: %v", r)
	}
}

func TestEmulatorImportFromS3(t *testing.T) {
	ctx := context.Background()
	moto, s3c := startStaging(t)
	put := func(key, body string) {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("staging"), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	var b strings.Builder
	for i := range 2500 {
		fmt.Fprintf(&b, "%s-%c-%d.example\n", strings.Repeat("x", i%5+1), 'a'+i%26, i)
	}
	put("good.txt", b.String())
	put("bad.txt", "ok.example\nbad_name.example\n")
	store, _ := emulator.NewS3Store(ctx, moto, "us-east-1")
	m := startEmulator(t, emulator.Config{Objects: store})
	c := m.client(3)
	l, _ := c.CreateFirewallDomainList(ctx, &r53r.CreateFirewallDomainListInput{CreatorRequestId: aws.String("i"), Name: aws.String("imported")})
	id := l.FirewallDomainList.Id
	imp := func(key string) types.FirewallDomainListStatus {
		out, err := c.ImportFirewallDomains(ctx, &r53r.ImportFirewallDomainsInput{FirewallDomainListId: id, Operation: types.FirewallDomainImportOperationReplace, DomainFileUrl: aws.String("s3://staging/" + key)})
		if err != nil || out.Status != types.FirewallDomainListStatusImporting {
			t.Fatalf("import %s: %v %+v", key, err, out)
		}
		waitComplete(t, c, *id)
		got, _ := c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: id})
		return got.FirewallDomainList.Status
	}
	if st := imp("good.txt"); st != types.FirewallDomainListStatusComplete {
		t.Fatalf("good import: %s", st)
	}
	got, _ := c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: id})
	if *got.FirewallDomainList.DomainCount != 2500 {
		t.Fatalf("imported %d domains", *got.FirewallDomainList.DomainCount)
	}
	if st := imp("bad.txt"); st != types.FirewallDomainListStatusCompleteImportFailed {
		t.Fatalf("bad file: %s", st)
	}
	if st := imp("missing.txt"); st != types.FirewallDomainListStatusCompleteImportFailed {
		t.Fatalf("missing file: %s", st)
	}
	m.e.SetFaults(emulator.Faults{Ops: map[string]emulator.OpFault{"ImportFirewallDomains": {FailImport: true}}})
	if st := imp("good.txt"); st != types.FirewallDomainListStatusCompleteImportFailed {
		t.Fatalf("injected failure: %s", st)
	}
	got, _ = c.GetFirewallDomainList(ctx, &r53r.GetFirewallDomainListInput{FirewallDomainListId: id})
	if *got.FirewallDomainList.DomainCount != 2500 || !strings.Contains(*got.FirewallDomainList.StatusMessage, "Injected") {
		t.Fatalf("a failed import must leave the list as it was: %d, %q", *got.FirewallDomainList.DomainCount, *got.FirewallDomainList.StatusMessage)
	}
}
