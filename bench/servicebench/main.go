// Command servicebench measures the service at scale: N devices spread over
// A emulated AWS accounts, all on one policy. It times the first sync of
// every device and then a policy change until every device is in_sync
// again, against the floor that the per-account rate sets (each account's
// devices share 5 requests/s: the floor is the largest account's update
// calls at that rate, plus one settle), and reports the process's memory.
// Prints a Markdown table.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"

	"github.com/rpzfw/rpzfw/internal/awsclient"
	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/service"
)

func main() {
	devices := flag.Int("devices", 100, "devices")
	accounts := flag.Int("accounts", 20, "emulated AWS accounts the devices are spread over")
	domains := flag.Int("domains", 2000, "domains in the policy's block list")
	change := flag.Int("change", 20, "domains replaced by the policy change")
	settle := flag.Duration("settle", 2*time.Second, "emulator settle delay")
	rps := flag.Float64("rps", 5, "per-account request rate (emulator throttle and service budget)")
	database := flag.String("database", "", "PostgreSQL URL (default: SQLite in a temporary directory)")
	flag.Parse()
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	keys := map[string]emulator.Key{}
	for a := 0; a < *accounts; a++ {
		keys[keyID(a)] = emulator.Key{Secret: "bench-secret-key-0000", Account: fmt.Sprintf("1000000000%02d", a)}
	}
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{
		Config: emulator.Config{Settle: *settle, Keys: keys, Faults: emulator.Faults{ThrottleRPS: *rps}, Log: quiet,
			Quotas: emulator.Quotas{Domains: 10 * *domains * (*devices / *accounts + 1), DomainLists: 1000, RulesPerGroup: 100, RuleGroups: 1000}},
		APIAddr: "127.0.0.1:0", DNSAddr: "127.0.0.1:0",
	})
	if err != nil {
		log.Fatal(err)
	}
	groups := make([]string, *devices)
	for i := range groups {
		groups[i] = ruleGroup(ctx, emu.APIURL, keyID(i%*accounts), i)
	}

	dir, err := os.MkdirTemp("", "servicebench-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	cfg := service.Defaults()
	cfg.DataDir, cfg.Listen, cfg.Sandbox, cfg.Poll, cfg.LeaseTTL, cfg.Rate = dir, "127.0.0.1:0", false, 200*time.Millisecond, 5*time.Second, *rps
	if *database != "" {
		cfg.Database = *database
	}
	svc, err := service.New(ctx, cfg, quiet)
	if err != nil {
		log.Fatal(err)
	}
	if err := svc.Start(ctx); err != nil {
		log.Fatal(err)
	}
	c := client{url: svc.URL, token: svc.FirstToken}
	c.do("POST", "/api/v1/policies", map[string]any{"name": "shared", "block_list": names("d", 0, *domains)})
	start := time.Now()
	for i := 0; i < *devices; i++ {
		c.do("POST", "/api/v1/devices", map[string]any{
			"nickname": fmt.Sprintf("dev-%03d", i), "policy": "shared", "region": "us-east-1", "rule_group_id": groups[i],
			"endpoint_url": emu.APIURL,
			"credentials":  map[string]any{"type": "access_key", "access_key_id": keyID(i % *accounts), "secret_access_key": "bench-secret-key-0000"},
		})
	}
	first := c.waitAll(*devices, "")
	firstTook := time.Since(start)
	runtime.GC()
	fmt.Printf("Devices %d over %d accounts (%d each), one policy of %d domains; emulator settle %s, %.0f requests/s per account; store %s.\n\n",
		*devices, *accounts, *devices / *accounts, *domains, *settle, *rps, storeName(*database))
	fmt.Println("| step | wall time | calls, all devices | busiest account's calls at the rate | floor: busiest account's least calls at the rate, plus one settle | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|")
	perAccount := (*devices + *accounts - 1) / *accounts
	// First sync: per device at least one list create, ceil(domains/1000)
	// updates, one rule create.
	floorFirst := floor(perAccount*(2+(*domains+999)/1000), *rps, *settle)
	row := func(step string, took time.Duration, sum summary, fl time.Duration) {
		busiest := 0
		for _, n := range sum.perAccount(*accounts) {
			busiest = max(busiest, n)
		}
		fmt.Printf("| %s | %s | %d | %s | %s | %s |\n", step, took.Round(10*time.Millisecond), sum.calls, floor(busiest, *rps, 0), fl, rss())
	}
	row("first sync of every device", firstTook, first, floorFirst)

	start = time.Now()
	c.do("PUT", "/api/v1/policies/shared", map[string]any{"name": "shared", "block_list": append(names("d", *change, *domains), names("n", 0, *change)...)})
	second := c.waitAll(*devices, first.hash)
	took := time.Since(start)
	// A change: one ADD and one REMOVE update per device at least.
	floorChange := floor(perAccount*2*((*change+999)/1000), *rps, *settle)
	row(fmt.Sprintf("policy change (%d of %d domains) until all in_sync", *change, *domains), took, second, floorChange)
	sctx, scancel := context.WithTimeout(context.Background(), time.Minute)
	defer scancel()
	if err := svc.Shutdown(sctx); err != nil {
		log.Print(err)
	}
}

func storeName(db string) string {
	if db == "" {
		return "SQLite"
	}
	return "PostgreSQL"
}

// floor is the least time calls take at rate, plus one settle.
func floor(calls int, rate float64, settle time.Duration) time.Duration {
	return (time.Duration(float64(calls)/rate*float64(time.Second)) + settle).Round(10 * time.Millisecond)
}

func keyID(a int) string { return fmt.Sprintf("AKIABENCH%011d", a) }

func names(prefix string, from, to int) []string {
	out := make([]string, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s%d.bench.example", prefix, i))
	}
	return out
}

func ruleGroup(ctx context.Context, endpoint, key string, i int) string {
	opts := awsclient.Options{Region: "us-east-1", Endpoint: endpoint}
	cfg, err := awsclient.Config(ctx, opts)
	if err != nil {
		log.Fatal(err)
	}
	cfg.Credentials = credentials.NewStaticCredentialsProvider(key, "bench-secret-key-0000", "")
	api := awsclient.Resolver(cfg, opts)
	g, err := api.CreateFirewallRuleGroup(ctx, &r53r.CreateFirewallRuleGroupInput{CreatorRequestId: aws.String(fmt.Sprint("g", i)), Name: aws.String(fmt.Sprint("bench-", i))})
	if err != nil {
		log.Fatal(err)
	}
	return aws.ToString(g.FirewallRuleGroup.Id)
}

// rss is the process's peak resident memory.
func rss() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "VmHWM:"))
		}
	}
	return "?"
}

type client struct{ url, token string }

// do makes a request, waiting and retrying when the API's rate limit
// answers 429.
func (c client) do(method, path string, body any) []byte {
	b, _ := json.Marshal(body)
	for {
		req, _ := http.NewRequest(method, c.url+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+c.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatalf("%s %s: %v", method, path, err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if resp.StatusCode >= 300 {
			log.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, out)
		}
		return out
	}
}

type summary struct {
	hash  string
	calls int
	// byDevice holds each device's calls in its last sync, by index.
	byDevice map[int]int
}

// perAccount adds the devices' calls up by account (device i is in account
// i mod accounts).
func (s summary) perAccount(accounts int) []int {
	out := make([]int, accounts)
	for i, n := range s.byDevice {
		out[i%accounts] += n
	}
	return out
}

// waitAll waits until every device is in_sync with one plan hash other
// than old, and adds up the calls of their last syncs.
func (c client) waitAll(n int, old string) summary {
	for {
		var page struct {
			Devices []struct {
				Nickname string `json:"nickname"`
				Status   struct {
					State    string `json:"state"`
					Error    string `json:"error"`
					PlanHash string `json:"plan_hash"`
				} `json:"status"`
			} `json:"devices"`
		}
		if err := json.Unmarshal(c.do("GET", "/api/v1/devices", nil), &page); err != nil {
			log.Fatal(err)
		}
		done, hash := 0, ""
		for _, d := range page.Devices {
			if d.Status.State == "error" {
				log.Printf("%s: %s", d.Nickname, d.Status.Error)
			}
			if d.Status.State == "in_sync" && d.Status.PlanHash != old {
				done++
				hash = d.Status.PlanHash
			}
		}
		if done == n {
			by := c.calls(page.Devices)
			total := 0
			for _, v := range by {
				total += v
			}
			return summary{hash: hash, calls: total, byDevice: by}
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (c client) calls(devs []struct {
	Nickname string `json:"nickname"`
	Status   struct {
		State    string `json:"state"`
		Error    string `json:"error"`
		PlanHash string `json:"plan_hash"`
	} `json:"status"`
}) map[int]int {
	by := map[int]int{}
	for _, d := range devs {
		var idx int
		if _, err := fmt.Sscanf(d.Nickname, "dev-%d", &idx); err != nil {
			log.Fatalf("device %q: %v", d.Nickname, err)
		}
		var page struct {
			Syncs []struct {
				Calls map[string]int `json:"calls"`
			} `json:"syncs"`
		}
		if err := json.Unmarshal(c.do("GET", "/api/v1/devices/"+d.Nickname+"/syncs?limit=1", nil), &page); err != nil {
			log.Fatal(err)
		}
		for _, s := range page.Syncs {
			for _, n := range s.Calls {
				by[idx] += n
			}
		}
	}
	return by
}
