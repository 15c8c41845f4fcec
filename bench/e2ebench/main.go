// Command e2ebench measures one "rpzfw serve" process's capacity: devices
// kept in sync and query log lines ingested per second, each alone and
// both at the same time, with the process's CPU and memory. The devices
// live in an in-process emulator (several accounts, each throttled at
// 5 requests/s as AWS is); their query logs are objects in moto's S3
// whose notifications reach moto's SQS, one bucket and queue per account.
// Prints a Markdown table.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/rpzfw/rpzfw/internal/emulator"
)

type config struct {
	bin                        string
	devices, accounts, domains int
	change                     int
	objects, lines             int
	hitShare                   float64
	settle                     time.Duration
	database                   string
}

func main() {
	var c config
	flag.StringVar(&c.bin, "rpzfw", "", "the rpzfw binary to run (required)")
	flag.IntVar(&c.devices, "devices", 100, "devices")
	flag.IntVar(&c.accounts, "accounts", 20, "emulated AWS accounts the devices are spread over (one log bucket and queue each)")
	flag.IntVar(&c.domains, "domains", 2000, "domains in the policy's block list")
	flag.IntVar(&c.change, "change", 20, "domains replaced by each policy change")
	flag.IntVar(&c.objects, "objects", 40, "log objects put for each ingest run")
	flag.IntVar(&c.lines, "lines", 50_000, "lines a log object")
	flag.Float64Var(&c.hitShare, "hit-share", 0.03, "share of lines that are hits (BLOCK)")
	flag.DurationVar(&c.settle, "settle", 2*time.Second, "emulator settle delay")
	flag.StringVar(&c.database, "database", "", "PostgreSQL URL (a schema is made and dropped); default SQLite")
	flag.Parse()
	if c.bin == "" {
		log.Fatal("-rpzfw is required (go build -o /tmp/rpzfw ./cmd/rpzfw)")
	}
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	if err := run(context.Background(), c); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, c config) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	moto, motoPID, stopMoto, err := startMoto()
	if err != nil {
		return err
	}
	defer stopMoto()
	keys := map[string]emulator.Key{}
	for a := range c.accounts {
		keys[keyID(a)] = emulator.Key{Secret: secretKey, Account: account(a)}
	}
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{
		Config: emulator.Config{Settle: c.settle, Keys: keys, Faults: emulator.Faults{ThrottleRPS: 5}, Log: quiet,
			Quotas: emulator.Quotas{Domains: 10 * c.domains * (c.devices/c.accounts + 1), DomainLists: 1000, RulesPerGroup: 100, RuleGroups: 1000}},
		APIAddr: "127.0.0.1:0",
	})
	if err != nil {
		return err
	}
	dsn, dropDB, err := database(ctx, c.database)
	if err != nil {
		return err
	}
	defer dropDB()
	srv, err := startServe(ctx, c.bin, dsn)
	if err != nil {
		return err
	}
	defer srv.stop()
	w, err := setUp(ctx, c, srv, emu.APIURL, moto)
	if err != nil {
		return err
	}
	w.motoPID = motoPID
	host, _ := os.Hostname()
	fmt.Printf("Machine: %s, %d CPUs, %s. Date: %s. One rpzfw serve process, store %s.\n", host, runtime.NumCPU(), cpuModel(), time.Now().Format("2006-01-02"), storeName(c.database))
	fmt.Printf("%d devices over %d emulated accounts (5 requests/s each, settle %s), one policy of %d domains, first sync of all: %s.\n",
		c.devices, c.accounts, c.settle, c.domains, w.firstSync.Round(10*time.Millisecond))
	fmt.Printf("Each ingest run: %d objects of %d lines (%.0f%% hits) over %d queues, put at once.\n\n", c.objects, c.lines, 100*c.hitShare, c.accounts)
	fmt.Println("| load | policy change until all devices in_sync | lines ingested per second | CPU of rpzfw serve (cores, average) | CPU of PostgreSQL | CPU of moto_server (S3, SQS) | RSS of rpzfw serve now / peak | machine load average after |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, m := range []struct {
		name         string
		sync, ingest bool
	}{{"policy change alone", true, false}, {"log ingest alone", false, true}, {"both at once", true, true}} {
		r, err := w.measure(ctx, m.sync, m.ingest)
		if err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		fmt.Printf("| %s | %s | %s | %.2f | %.2f | %.2f | %s | %s |\n", m.name, r.syncCol(), r.ingestCol(), r.cpu, r.pgCPU, r.motoCPU, srv.memory(), loadAverage())
	}
	return nil
}

func storeName(db string) string {
	if db == "" {
		return "SQLite"
	}
	return "PostgreSQL"
}

const secretKey = "bench-secret-key-0000"

func keyID(a int) string   { return fmt.Sprintf("AKIAE2EB%012d", a) }
func account(a int) string { return fmt.Sprintf("2000000000%02d", a) }

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "?"
	}
	for _, line := range splitLines(string(b)) {
		if len(line) > 10 && line[:10] == "model name" {
			for i := range line {
				if line[i] == ':' {
					return trim(line[i+1:])
				}
			}
		}
	}
	return "?"
}
