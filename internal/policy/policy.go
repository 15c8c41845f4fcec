package policy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/fsutil"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// Policy is an ordered set of sources: the allow list first, then the block
// list, then the sources in order; the first that matches decides.
type Policy struct {
	Name string
	// File is the policy file it came from, if any.
	File    string
	Allow   ListSpec
	Block   ListSpec
	Sources []SourceSpec
	// MaxShrink is the share a source may lose in one update before the
	// update is held for a person to accept.
	MaxShrink float64
	// AllowBlockAll lets a plan that blocks every name be deployed (see
	// compile.Plan.CheckBlockAll).
	AllowBlockAll bool
}

// ParseZoneArg reads a command-line zone argument, "FILE" or
// "ORIGIN=FILE", as a file source.
func ParseZoneArg(arg string) (SourceSpec, error) {
	s := SourceSpec{Kind: KindFile, Format: "rpz", Path: arg, MaxSize: DefaultMaxSize}
	if origin, path, ok := strings.Cut(arg, "="); ok {
		if origin == "" || path == "" {
			return SourceSpec{}, fmt.Errorf("zone argument %q: want FILE or ORIGIN=FILE", arg)
		}
		s.Origin, s.Path = origin, path
	}
	return s, nil
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

// Opener gives the current copy of a source: the file itself, or the last
// good copy a feed fetched.
type Opener interface {
	Open(ctx context.Context, s SourceSpec) (io.ReadCloser, error)
}

// FileOpener opens file sources; other kinds need a feed manager.
type FileOpener struct{}

// Open opens a file source.
func (FileOpener) Open(_ context.Context, s SourceSpec) (io.ReadCloser, error) {
	if s.Kind != KindFile {
		return nil, fmt.Errorf("source %s is a %s source: it must be fetched first (rpzfw feeds refresh)", s.Name, s.Kind)
	}
	f, err := openCapped(s.Path, s.MaxSize)
	if err != nil {
		return nil, fmt.Errorf("opening source %s: %w", s.Name, err)
	}
	return f, nil
}

// openCapped opens a regular file, reading at most max bytes (zero:
// DefaultMaxSize).
func openCapped(path string, max int64) (io.ReadCloser, error) {
	if max <= 0 {
		max = DefaultMaxSize
	}
	rc, err := fsutil.OpenRegular(path, max)
	if err != nil {
		return nil, withSizeHint(err)
	}
	return &sizeHint{rc}, nil
}

// withSizeHint names the setting that caps a file when err says the cap
// was hit.
func withSizeHint(err error) error {
	var tl *fsutil.TooLargeError
	if errors.As(err, &tl) {
		return fmt.Errorf("%w (raise max_size, or --max-file-size on the command line)", err)
	}
	return err
}

type sizeHint struct{ io.ReadCloser }

func (s *sizeHint) Read(p []byte) (int, error) {
	n, err := s.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = withSizeHint(err)
	}
	return n, err
}

// Load reads every source of p into sink, in precedence order, through
// open (nil: files only). A source that cannot be read or parsed fails the
// whole load: a half-read policy is never compiled. It logs each source
// read to slog.Default(), for callers that have no logger of their own;
// LoadWith takes one.
func (p Policy) Load(ctx context.Context, sink Sink, open Opener) error {
	return p.LoadWith(ctx, sink, open, slog.Default())
}

// LoadWith is Load, logging each source read (records, time taken) to log
// at info level (nil: nowhere).
func (p Policy) LoadWith(ctx context.Context, sink Sink, open Opener, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if open == nil {
		open = FileOpener{}
	}
	if p.Allow.empty() && p.Block.empty() && len(p.Sources) == 0 {
		return fmt.Errorf("the policy has no sources: give at least one zone or list")
	}
	for _, l := range []struct {
		spec  ListSpec
		name  string
		allow bool
	}{{p.Allow, "allow-list", true}, {p.Block, "block-list", false}} {
		if l.spec.empty() {
			continue
		}
		if err := loadList(ctx, log, sink, l.name, l.spec, l.allow); err != nil {
			return err
		}
	}
	for _, s := range p.Sources {
		if err := loadSource(ctx, log, sink, open, s); err != nil {
			return err
		}
	}
	return nil
}

func loadList(ctx context.Context, log *slog.Logger, sink Sink, name string, l ListSpec, allow bool) error {
	file := l.File
	if file == "" {
		file = name
	}
	idx, err := sink.AddSource(compile.Source{Name: name, File: file, Kind: compile.KindList, Allow: allow})
	if err != nil {
		return err
	}
	if l.File == "" {
		for i, d := range l.Domains {
			_, err := rpz.ReadList(strings.NewReader(d), name, func(r rpz.Record) error {
				r.Line = l.Line + i + 1
				sink.Add(idx, r)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	}
	return timed(ctx, log, file, func() (int, error) {
		f, err := openCapped(l.File, l.MaxSize)
		if err != nil {
			return 0, fmt.Errorf("opening %s: %w", name, err)
		}
		defer f.Close()
		return rpz.ReadList(f, l.File, func(r rpz.Record) error { sink.Add(idx, r); return nil })
	})
}

func loadSource(ctx context.Context, log *slog.Logger, sink Sink, open Opener, s SourceSpec) error {
	rc, err := open.Open(ctx, s)
	if err != nil {
		return err
	}
	defer rc.Close()
	file := s.Path
	if file == "" {
		file = s.Name
	}
	br := bufio.NewReaderSize(rc, 64<<10)
	name := s.Name
	origin := s.Origin
	if origin == "" && s.Kind == KindZoneTransfer {
		origin = s.Zone
	}
	if name == "" {
		name = strings.TrimSuffix(origin, ".")
	}
	if name == "" && s.Format != "list" {
		name = rpz.SniffOrigin(br)
	}
	if name == "" {
		name = filepath.Base(file)
	}
	kind := compile.KindZone
	if s.Format == "list" {
		kind = compile.KindList
	}
	idx, err := sink.AddSource(compile.Source{Name: name, File: file, Kind: kind, Allow: s.Allow})
	if err != nil {
		return err
	}
	return timed(ctx, log, file, func() (int, error) {
		add := func(r rpz.Record) error { sink.Add(idx, r); return nil }
		if kind == compile.KindList {
			return rpz.ReadList(br, file, add)
		}
		return rpz.ReadZone(br, rpz.ZoneOptions{File: file, Origin: origin}, add)
	})
}

// timed runs read and logs how much it read and how long it took.
func timed(ctx context.Context, log *slog.Logger, file string, read func() (int, error)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	start := time.Now()
	n, err := read()
	if err != nil {
		return err
	}
	log.InfoContext(ctx, "read source", "file", file, "records", n, "took", time.Since(start).Round(time.Millisecond))
	return nil
}
