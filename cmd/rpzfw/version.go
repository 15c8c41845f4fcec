package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// a plain go build says "dev".
var version = "dev"

// buildInfo is what `rpzfw version` prints: the version, and the commit
// and its time as the go command recorded them (go build stamps VCS
// details into binaries built inside a git checkout).
type buildInfo struct {
	Version, Commit, CommitTime, GoVersion string
	Modified                               bool
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Commit: "unknown", GoVersion: runtime.Version()}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.CommitTime = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if b.Version == "dev" && info.Main.Version != "" && info.Main.Version != "(devel)" {
		b.Version = info.Main.Version
	}
	return b
}

func (b buildInfo) String() string {
	s := "rpzfw " + b.Version + " commit " + b.Commit
	if b.Modified {
		s += " (modified)"
	}
	if b.CommitTime != "" {
		s += " from " + b.CommitTime
	}
	return s + " built with " + b.GoVersion
}

func runVersion(_ context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	fs.SetOutput(stdout)
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: version takes no arguments", errUsage)
	}
	_, err := fmt.Fprintln(stdout, readBuildInfo())
	return err
}

// runHealth asks a running service whether it is alive: the container
// health check (a minimal image has no curl).
func runHealth(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("health", flag.ContinueOnError)
	fs.SetOutput(stdout)
	url := fs.String("url", "http://127.0.0.1:8080/healthz", "the service's health URL (/healthz: alive; /readyz: ready for work)")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the answer")
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return fmt.Errorf("%w: --url %q: %v", errUsage, *url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("asking %s: %w", *url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return errors.New(*url + " answered " + resp.Status + ": " + string(body))
	}
	_, err = fmt.Fprintf(stdout, "%s: %s\n", *url, resp.Status)
	return err
}
