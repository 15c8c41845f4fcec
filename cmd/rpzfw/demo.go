package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/demo"
)

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("demo", "[flags] [ZONE...]\n\nRuns the whole loop on this machine, no AWS account needed: starts the DNS\nFirewall emulator, syncs a policy into it and resolves names through it.\nWithout zones it uses the sample policy in examples/.")
	var pf policyFlags
	pf.register(fs)
	names := fs.String("names", strings.Join(demo.DefaultNames, ","), "comma-separated `names` to resolve")
	settle := fs.Duration("settle", 300*time.Millisecond, "how long the emulator's lists take to settle")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := checkRanges(durationAtLeast("settle", *settle, 0)); err != nil {
		return err
	}
	if len(pos) == 0 && pf.allowList == "" && pf.blockList == "" && pf.policyFile == "" {
		pos = []string{"examples/sample.rpz"}
		pf.allowList, pf.blockList = "examples/allow.txt", "examples/block.txt"
	}
	settings, pol, err := pf.resolve(pos)
	if err != nil {
		return err
	}
	if os.Getenv("RPZFW_LOG_LEVEL") == "" {
		// The demo tells its own story; routine logs would only crowd it.
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	}
	dir, err := os.MkdirTemp("", "rpzfw-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	return demo.Run(ctx, stdout, demo.Config{Policy: pol, Settings: settings, Names: strings.Split(*names, ","), StateDir: dir, Settle: *settle})
}
