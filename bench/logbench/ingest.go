package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/rpzfw/rpzfw/internal/querylog"
	"github.com/rpzfw/rpzfw/internal/store/sqlstore"
)

const benchQueue = "https://sqs.us-east-1.amazonaws.com/111122223333/rpzfw-logs"

// ingestBench writes objects real-format objects of lines lines each,
// then times on one core: gzip -dc of them (the baseline), rpzfw's reading
// alone (gunzip, split, parse), and rpzfw's whole ingest into SQLite
// (attribution, hits, counts, rollups, one transaction per object).
func ingestBench(ctx context.Context, objects, lines int, hitShare float64) error {
	dir, err := os.MkdirTemp("", "logbench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	g := newLineGen(1, hitShare, planLines)
	var files []string
	var raw, gz int
	start := time.Now().Add(-24 * time.Hour).Truncate(time.Hour)
	for i := range objects {
		b, n := g.object(lines, start.Add(time.Duration(i)*5*time.Minute))
		f := filepath.Join(dir, fmt.Sprintf("vpc_vpcdnsquerylogs_111122223333_%d.log.gz", i))
		if err := os.WriteFile(f, b, 0o600); err != nil {
			return err
		}
		files, raw, gz = append(files, f), raw+n, gz+len(b)
	}
	fmt.Printf("%d objects of %d lines (%.0f%% hits): %.1f MB gzipped, %.1f MB of lines.\n\n", objects, lines, hitShare*100, mb(gz), mb(raw))
	prev := runtime.GOMAXPROCS(1)
	defer runtime.GOMAXPROCS(prev)
	base, err := gzipDC(files)
	if err != nil {
		return err
	}
	parse, err := readOnly(files)
	if err != nil {
		return err
	}
	full, err := ingestAll(ctx, dir, files)
	if err != nil {
		return err
	}
	total := float64(objects * lines)
	fmt.Println("| one core | seconds | MB/s of lines | lines/s | against gzip -dc |")
	fmt.Println("|---|---|---|---|---|")
	for _, r := range []struct {
		name string
		d    time.Duration
	}{{"gzip -dc (baseline)", base}, {"rpzfw: gunzip, split, parse", parse}, {"rpzfw: whole ingest into SQLite", full}} {
		fmt.Printf("| %s | %.2f | %.0f | %.0f | %.2f |\n", r.name, r.d.Seconds(), mb(raw)/r.d.Seconds(), total/r.d.Seconds(), base.Seconds()/r.d.Seconds())
	}
	fmt.Println()
	return nil
}

func mb(n int) float64 { return float64(n) / 1e6 }

// gzipDC times gzip -dc of the files, one process (one core).
func gzipDC(files []string) (time.Duration, error) {
	cmd := exec.Command("gzip", append([]string{"-dc"}, files...)...)
	cmd.Stdout = io.Discard
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("gzip -dc: %w", err)
	}
	return time.Since(t), nil
}

// readOnly times rpzfw's reading of the files: gunzip, lines, parse.
func readOnly(files []string) (time.Duration, error) {
	var p querylog.LineParser
	var rec querylog.Record
	t := time.Now()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		lr, err := querylog.NewLineReader(bytes.NewReader(b))
		if err != nil {
			return 0, err
		}
		for {
			line, _, _, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return 0, err
			}
			if err := p.Parse(line, &rec); err != nil {
				return 0, err
			}
		}
		lr.Close()
	}
	return time.Since(t), nil
}

// ingestAll times the whole ingest of the files into a new SQLite store.
func ingestAll(ctx context.Context, dir string, files []string) (time.Duration, error) {
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "rpzfw.db"), nil)
	if err != nil {
		return 0, err
	}
	defer st.Close()
	if _, err := setupWorld(ctx, st, benchQueue); err != nil {
		return 0, err
	}
	in, err := querylog.NewIngester(ctx, st, benchQueue, nil)
	if err != nil {
		return 0, err
	}
	defer startProf()()
	t := time.Now()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return 0, err
		}
		ref := querylog.ObjectRef{Bucket: "logs", Key: filepath.Base(f), ETag: filepath.Base(f)}
		if _, _, err := in.Ingest(ctx, ref, bytes.NewReader(b), int64(len(b))); err != nil {
			return 0, err
		}
	}
	return time.Since(t), nil
}
