// Command rpzfw enforces RPZ threat-intelligence policies in AWS Route 53
// Resolver DNS Firewall. Each subcommand lives in its own file; this file
// only dispatches and reports errors.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, stdout io.Writer) error
}

func commands() []command {
	return []command{
		{"serve", "run the service: devices kept in sync, a JSON API, metrics (no AWS account needed: a sandbox)", runServe},
		{"admin", "manage the service's store: token create, org create, rotate-key", runAdmin},
		{"logs", "set up a device's query logs (S3 notifications to SQS, Resolver query logging), or undo it", runLogs},
		{"demo", "run the whole loop locally: emulator, sync, DNS answers (no AWS account needed)", runDemo},
		{"plan", "compile a policy into DNS Firewall rules and print them", runPlan},
		{"explain", "say which source and rule decide a query name, and why", runExplain},
		{"sync", "make a DNS Firewall rule group match a policy, safely and with few API calls", runSync},
		{"unsync", "remove everything rpzfw made in a rule group", runUnsync},
		{"feeds", "fetch a policy file's sources and show their state (status, refresh, accept, watch)", runFeeds},
		{"iam-policy", "print the least-privilege IAM policy a device needs", runIAMPolicy},
		{"emulator", "run a local Route 53 Resolver DNS Firewall (API, DNS, query logs); 'emulator traffic' sends queries", runEmulator},
		{"health", "ask a running service whether it is alive (the container health check)", runHealth},
		{"version", "print the version, commit and Go version of this build", runVersion},
	}
}

// errUsage marks errors caused by how the command was called.
var errUsage = errors.New("usage")

func usage(w io.Writer) {
	fmt.Fprintln(w, "rpzfw enforces RPZ policies in AWS Route 53 Resolver DNS Firewall.\n\nUsage: rpzfw COMMAND [flags] [args]\n\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'rpzfw COMMAND -h' for a command's flags. Set RPZFW_LOG_LEVEL=debug|info|warn|error (default info; plan, explain and demo show only warnings unless it is set).")
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) (code int) {
	// Bad input must never end in a Go panic trace; a bug still gets one
	// clear line.
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "rpzfw: internal error: %v\n", r)
			code = 70
		}
	}()
	// Commands pass this logger to what they use (see withLogger); it is
	// also the default, for commands that take it from there.
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel()}))
	slog.SetDefault(log)
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		return 0
	}
	ctx, stop := signal.NotifyContext(withLogger(context.Background(), log), os.Interrupt, syscall.SIGTERM)
	defer stop()
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout)
		var status exitStatus
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &status):
			return int(status)
		default:
			fmt.Fprintf(stderr, "rpzfw %s: %v\n", c.name, err)
			return codeOf(err)
		}
	}
	fmt.Fprintf(stderr, "rpzfw: unknown command %q\n", args[0])
	usage(stderr)
	return 2
}

func logLevel() slog.Level {
	var l slog.Level
	if v := os.Getenv("RPZFW_LOG_LEVEL"); v != "" && l.UnmarshalText([]byte(strings.ToLower(v))) == nil {
		return l
	}
	return slog.LevelInfo
}

// newFlags makes a flag set that reports errors instead of exiting, and
// prints its usage only when asked (-h), so a mistake costs one line.
func newFlags(name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // the flag package calls it on every error
	usages[fs] = func() {
		fmt.Fprintf(os.Stderr, "Usage: rpzfw %s %s\n\nFlags:\n", name, synopsis)
		fs.SetOutput(os.Stderr)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// usages holds each flag set's usage printer, for -h.
var usages = map[*flag.FlagSet]func(){}

// parseFlags parses args, letting flags come after positional arguments
// too ("rpzfw plan zone.rpz --format json").
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				usages[fs]()
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v (see 'rpzfw %s -h')", errUsage, err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
