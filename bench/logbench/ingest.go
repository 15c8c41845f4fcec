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
	"syscall"
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
	var parse, full timing
	if parse, err = measure(func() error { return readOnly(files) }); err != nil {
		return err
	}
	if full, err = ingestAll(ctx, dir, files); err != nil {
		return err
	}
	total := float64(objects * lines)
	// Rates and the ratio are of CPU time: on a shared machine, wall time
	// also counts the waits for a core.
	fmt.Println("| one core | wall s | CPU s | MB/s of lines (CPU) | lines/s (CPU) | against gzip -dc (CPU) |")
	fmt.Println("|---|---|---|---|---|---|")
	for _, r := range []struct {
		name string
		t    timing
	}{{"gzip -dc (baseline)", base}, {"rpzfw: gunzip, split, parse", parse}, {"rpzfw: whole ingest into SQLite", full}} {
		cpu := r.t.cpu.Seconds()
		fmt.Printf("| %s | %.2f | %.2f | %.0f | %.0f | %.2f |\n", r.name, r.t.wall.Seconds(), cpu, mb(raw)/cpu, total/cpu, base.cpu.Seconds()/cpu)
	}
	fmt.Println()
	return nil
}

func mb(n int) float64 { return float64(n) / 1e6 }

// timing is the wall and CPU (user and system) time of some work.
type timing struct{ wall, cpu time.Duration }

// processCPU is the CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure times work in this process.
func measure(work func() error) (timing, error) {
	t, c := time.Now(), processCPU()
	err := work()
	return timing{wall: time.Since(t), cpu: processCPU() - c}, err
}

// gzipDC times gzip -dc of the files, one process (one core).
func gzipDC(files []string) (timing, error) {
	cmd := exec.Command("gzip", append([]string{"-dc"}, files...)...)
	cmd.Stdout = io.Discard
	t := time.Now()
	if err := cmd.Run(); err != nil {
		return timing{}, fmt.Errorf("gzip -dc: %w", err)
	}
	return timing{wall: time.Since(t), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// readOnly is rpzfw's reading of the files: gunzip, lines, parse.
func readOnly(files []string) error {
	var p querylog.LineParser
	var rec querylog.Record
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		lr, err := querylog.NewLineReader(bytes.NewReader(b))
		if err != nil {
			return err
		}
		for {
			line, _, _, err := lr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			if err := p.Parse(line, &rec); err != nil {
				return err
			}
		}
		lr.Close()
	}
	return nil
}

// ingestAll times the whole ingest of the files into a new SQLite store.
func ingestAll(ctx context.Context, dir string, files []string) (timing, error) {
	st, err := sqlstore.Open(ctx, filepath.Join(dir, "rpzfw.db"), nil)
	if err != nil {
		return timing{}, err
	}
	defer st.Close()
	if _, err := setupWorld(ctx, st, benchQueue); err != nil {
		return timing{}, err
	}
	in, err := querylog.NewIngester(ctx, st, benchQueue, nil)
	if err != nil {
		return timing{}, err
	}
	defer startProf("")()
	return measure(func() error {
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				return err
			}
			ref := querylog.ObjectRef{Bucket: "logs", Key: filepath.Base(f), ETag: filepath.Base(f)}
			if _, _, err := in.Ingest(ctx, ref, bytes.NewReader(b), int64(len(b))); err != nil {
				return err
			}
		}
		return nil
	})
}
