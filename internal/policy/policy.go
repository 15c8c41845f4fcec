package policy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// Zone is an RPZ zone read from a file.
type Zone struct {
	// Name identifies the zone in reports; defaults to the origin, or the
	// file name when the origin comes from the file.
	Name string
	// Origin is the zone name; empty takes the file's first $ORIGIN.
	Origin string
	Path   string
}

// ParseZoneArg reads a command-line zone argument: "FILE" or
// "ORIGIN=FILE".
func ParseZoneArg(arg string) (Zone, error) {
	z := Zone{Path: arg}
	if origin, path, ok := strings.Cut(arg, "="); ok {
		if origin == "" || path == "" {
			return Zone{}, fmt.Errorf("zone argument %q: want FILE or ORIGIN=FILE", arg)
		}
		z.Origin, z.Path = origin, path
	}
	return z, nil
}

// Policy is an ordered set of sources. The allow list comes first, then the
// block list, then the zones in order.
type Policy struct {
	AllowList string // path of a domain list, optional
	BlockList string // path of a domain list, optional
	Zones     []Zone
}

// Sink receives sources and records; compile.Builder and compile.Reference
// are sinks.
type Sink interface {
	AddSource(compile.Source) (int, error)
	Add(src int, r rpz.Record)
}

// tee feeds several sinks at once, so one read serves both the compiler
// and the reference evaluator.
type tee []Sink

func (t tee) AddSource(s compile.Source) (int, error) {
	idx := -1
	for _, sk := range t {
		i, err := sk.AddSource(s)
		if err != nil {
			return 0, err
		}
		if idx >= 0 && i != idx {
			return 0, fmt.Errorf("sinks disagree on source index for %s", s.Name)
		}
		idx = i
	}
	return idx, nil
}

func (t tee) Add(src int, r rpz.Record) {
	for _, sk := range t {
		sk.Add(src, r)
	}
}

// Tee returns a sink that feeds every sink given.
func Tee(sinks ...Sink) Sink { return tee(sinks) }

// Load reads every source of p into sink, in precedence order. A source
// that cannot be read or parsed fails the whole load: a half-read policy is
// never compiled.
func (p Policy) Load(ctx context.Context, sink Sink) error {
	if p.AllowList == "" && p.BlockList == "" && len(p.Zones) == 0 {
		return fmt.Errorf("the policy has no sources: give at least one zone or list")
	}
	if p.AllowList != "" {
		if err := loadList(ctx, sink, "allow-list", p.AllowList, true); err != nil {
			return err
		}
	}
	if p.BlockList != "" {
		if err := loadList(ctx, sink, "block-list", p.BlockList, false); err != nil {
			return err
		}
	}
	for _, z := range p.Zones {
		if err := loadZone(ctx, sink, z); err != nil {
			return err
		}
	}
	return nil
}

func loadList(ctx context.Context, sink Sink, name, path string, allow bool) error {
	return withFile(ctx, path, func(r io.Reader) (int, error) {
		idx, err := sink.AddSource(compile.Source{Name: name, File: path, Kind: compile.KindList, Allow: allow})
		if err != nil {
			return 0, err
		}
		return rpz.ReadList(r, path, func(rec rpz.Record) error { sink.Add(idx, rec); return nil })
	})
}

func loadZone(ctx context.Context, sink Sink, z Zone) error {
	return withFile(ctx, z.Path, func(r io.Reader) (int, error) {
		br := bufio.NewReaderSize(r, 64<<10)
		name := z.Name
		if name == "" {
			name = strings.TrimSuffix(z.Origin, ".")
		}
		if name == "" {
			name = rpz.SniffOrigin(br)
		}
		if name == "" {
			name = filepath.Base(z.Path)
		}
		idx, err := sink.AddSource(compile.Source{Name: name, File: z.Path, Kind: compile.KindZone})
		if err != nil {
			return 0, err
		}
		return rpz.ReadZone(br, rpz.ZoneOptions{File: z.Path, Origin: z.Origin}, func(rec rpz.Record) error {
			sink.Add(idx, rec)
			return nil
		})
	})
}

// withFile opens path, hands it to read, and logs how much was read.
func withFile(ctx context.Context, path string, read func(io.Reader) (int, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening source: %w", err)
	}
	defer f.Close()
	start := time.Now()
	n, err := read(f)
	if err != nil {
		return err
	}
	slog.InfoContext(ctx, "read source", "file", path, "records", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
