package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/service"
)

// serveFlags are the settings of serve and the admin commands: a config
// file, then RPZFW_* variables, then these flags.
type serveFlags struct {
	configFile string
	set        map[string]string
}

var serveSettings = []struct{ key, usage string }{
	{"listen", "`host:port` of the API (default 127.0.0.1:8080)"},
	{"data-dir", "`directory` for the SQLite database, master key, feed caches and sandbox (default ~/.local/share/rpzfw)"},
	{"database", "PostgreSQL `URL` (postgres://...) or SQLite file (default DATA-DIR/rpzfw.db)"},
	{"master-key-file", "`file` of the master key that encrypts stored secrets, made on first start (RPZFW_MASTER_KEY overrides; default DATA-DIR/master.key)"},
	{"sandbox", "run the built-in DNS Firewall emulator as region \"sandbox\" with a sample device (default true)"},
	{"sandbox-api", "`host:port` of the sandbox's DNS Firewall API (default 127.0.0.1:5380)"},
	{"sandbox-dns", "`host:port` of the sandbox's DNS (default 127.0.0.1:5354)"},
	{"sandbox-settle", "`duration` the sandbox's lists stay UPDATING after a change (default 2s)"},
	{"sandbox-logs", "send the sandbox's query logs through a local S3 and SQS to the reports (default true)"},
	{"sandbox-aws", "`host:port` of the sandbox's local S3 and SQS (default 127.0.0.1:5381)"},
	{"sandbox-log-flush", "`interval` at which the sandbox writes a query log object (default 10s)"},
	{"sandbox-traffic", "send a trickle of DNS queries through the sandbox, so its reports have hits (default true)"},
	{"instance", "`name` of this instance in leases and sync history (default host-pid)"},
	{"org", "organization made on first start (default \"default\")"},
	{"reconcile", "`interval` at which every device is synced to repair drift (default 15m)"},
	{"poll", "`interval` at which the store is read for changes by other instances (default 1s)"},
	{"lease-ttl", "`duration` after which another instance takes over an account's devices (default 15s)"},
	{"rate", "API `calls` per second per account and region (default 5)"},
	{"allow-ambient-credentials", "let devices use this server's own AWS credentials (default false)"},
	{"file-roots", "`directories` (colon-separated) that file sources may be read from"},
	{"notify-listen", "UDP `address` answering DNS NOTIFY for zone-transfer sources"},
	{"public-metrics", "serve /metrics without a token (default false)"},
	{"secure-cookies", "mark the portal's cookies Secure on plain HTTP too, behind a proxy that ends TLS (default false)"},
}

func (f *serveFlags) register(fs *flag.FlagSet) {
	f.set = map[string]string{}
	fs.StringVar(&f.configFile, "config", "", "YAML config `file` (keys as the flags, with _ for -)")
	for _, s := range serveSettings {
		key := s.key
		set := func(v string) error { f.set[key] = v; return nil }
		switch key {
		case "sandbox", "sandbox-logs", "sandbox-traffic", "allow-ambient-credentials", "public-metrics", "secure-cookies":
			fs.BoolFunc(key, s.usage, set)
		default:
			fs.Func(key, s.usage, set)
		}
	}
}

// config resolves defaults, file, environment and flags into a config.
func (f *serveFlags) config() (service.Config, error) {
	cfg := service.Defaults()
	if f.configFile != "" {
		if err := cfg.LoadFile(f.configFile); err != nil {
			return cfg, err
		}
	}
	if err := cfg.LoadEnv(os.Getenv); err != nil {
		return cfg, err
	}
	for _, s := range serveSettings {
		if v, ok := f.set[s.key]; ok {
			if err := cfg.Set(strings.ReplaceAll(s.key, "-", "_"), v); err != nil {
				return cfg, fmt.Errorf("%w: --%s: %v", errUsage, s.key, err)
			}
		}
	}
	return cfg, nil
}

func runServe(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("serve", "[flags]\n\nRuns the service: devices kept in sync with their policies, a JSON API under\n/api/v1, Prometheus metrics. With no flags: SQLite in the data directory and\nthe built-in emulator as a sandbox region with a sample device, whose query\nlogs reach the reports through a local S3 and SQS, with a trickle of sample\ntraffic; a portal user \"admin\" is made on first start.")
	var sf serveFlags
	sf.register(fs)
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg, err := sf.config()
	if err != nil {
		return err
	}
	log := slog.Default()
	svc, err := service.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = svc.Shutdown(sctx)
		return err
	}
	printWelcome(stdout, svc)
	<-ctx.Done()
	fmt.Fprintln(stdout, "Stopping: letting running syncs reach a safe point...")
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	return svc.Shutdown(sctx)
}

func printWelcome(w io.Writer, svc *service.Service) {
	fmt.Fprintf(w, "rpzfw is serving at %s\n", svc.URL)
	if svc.FirstToken != "" {
		fmt.Fprintf(w, "\nAn admin API token was made for organization %q (shown once; also in %s):\n\n    %s\n", svc.Org.Name, svc.TokenFile(), svc.FirstToken)
	} else if _, err := os.Stat(svc.TokenFile()); err == nil {
		fmt.Fprintf(w, "API token: the one made on first start is in %s; 'rpzfw admin token create --name NAME' makes more.\n", svc.TokenFile())
	} else {
		fmt.Fprintln(w, "API token: the organization has tokens already (made by another instance, or with 'rpzfw admin token create --name NAME').")
	}
	if _, err := os.Stat(svc.TokenFile()); err == nil {
		fmt.Fprintf(w, "\nTry it:\n\n    curl -s -H \"Authorization: Bearer $(cat %s)\" %s/api/v1/devices\n", svc.TokenFile(), svc.URL)
	}
	if emu := svc.Sandbox(); emu != nil {
		fmt.Fprintf(w, "\nSandbox: the built-in DNS Firewall emulator (API %s, DNS %s) holds device \"sandbox\"\nwith the \"sample\" policy. Ask its DNS what the policy does:\n\n    dig @%s -p %s malware.example\n",
			emu.APIURL, emu.Data.Addr(), hostOf(emu.Data.Addr()), portOf(emu.Data.Addr()))
	}
	if aws := svc.SandboxAWS(); aws != "" {
		fmt.Fprintf(w, "\nIts query logs go to a local S3 and SQS (%s) and on to the reports, where\nthe hits of a trickle of sample traffic show within a minute:\n\n    %s/ui/reports\n", aws, svc.URL)
	}
	printPortalLogin(w, svc)
	fmt.Fprintln(w, "\nStop with Ctrl-C. Docs: docs/service.md")
}

// printPortalLogin says how to log in to the portal: the first user's
// password once, then where it is kept.
func printPortalLogin(w io.Writer, svc *service.Service) {
	switch _, err := os.Stat(svc.PasswordFile()); {
	case svc.FirstPassword != "":
		fmt.Fprintf(w, "\nPortal: %s/\nLog in as %q with this password (shown once; also in %s):\n\n    %s\n",
			svc.URL, service.FirstUserName, svc.PasswordFile(), svc.FirstPassword)
	case err == nil:
		fmt.Fprintf(w, "\nPortal: %s/ (log in as %q with the password in %s)\n", svc.URL, service.FirstUserName, svc.PasswordFile())
	default:
		fmt.Fprintf(w, "\nPortal: %s/ (log in as a user made with 'rpzfw admin user create --name NAME --role admin'; docs/portal.md)\n", svc.URL)
	}
}
