package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/examples"
	"github.com/rpzfw/rpzfw/internal/demo"
)

func runDemo(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("demo", "[flags] [ZONE...]\n\nRuns the whole loop on this machine, no AWS account needed: starts the DNS\nFirewall emulator, syncs a policy into it and resolves names through it.\nWithout zones it uses the sample policy built into rpzfw (examples/ in\nthe source).")
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
	dir, err := os.MkdirTemp("", "rpzfw-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if len(pos) == 0 && pf.allowList == "" && pf.blockList == "" && pf.policyFile == "" {
		// The sample policy is built in, so the demo runs from any folder.
		sample, err := writeExamples(filepath.Join(dir, "examples"))
		if err != nil {
			return err
		}
		pos = []string{sample["sample.rpz"]}
		pf.allowList, pf.blockList = sample["allow.txt"], sample["block.txt"]
	}
	settings, pol, err := pf.resolve(pos)
	if err != nil {
		return err
	}
	// The demo tells its own story; routine logs would only crowd it.
	log := quietUnlessAsked(logger(ctx))
	return demo.Run(ctx, stdout, demo.Config{Policy: pol, Settings: settings, Names: strings.Split(*names, ","), StateDir: dir, Settle: *settle, AllowBlockAll: pf.allowBlockAll, Log: log})
}

// writeExamples copies the embedded sample policy's files into dir and
// returns their paths by name.
func writeExamples(dir string) (map[string]string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, name := range []string{"sample.rpz", "allow.txt", "block.txt"} {
		b, err := examples.FS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("the built-in sample policy: %w", err)
		}
		paths[name] = filepath.Join(dir, name)
		if err := os.WriteFile(paths[name], b, 0o600); err != nil {
			return nil, err
		}
	}
	return paths, nil
}
