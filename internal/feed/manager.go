package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/rpzfw/rpzfw/internal/fsutil"
	"github.com/rpzfw/rpzfw/internal/policy"
	"github.com/rpzfw/rpzfw/internal/rpz"
)

// Status is what rpzfw knows of one source.
type Status struct {
	Name         string    `json:"name"`
	Kind         string    `json:"kind"`
	Serial       uint32    `json:"serial,omitempty"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	Records      int       `json:"records"`
	LastSuccess  time.Time `json:"last_success,omitempty"`
	LastAttempt  time.Time `json:"last_attempt,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	// Bytes and Took describe the last fetch that brought data.
	Bytes int64         `json:"bytes"`
	Took  time.Duration `json:"took_ns"`
	// Transfer says how the last fetch went: "AXFR", "IXFR", "unchanged",
	// "304", "file".
	Transfer string `json:"transfer,omitempty"`
	Held     *Held  `json:"held,omitempty"`
	// Refresh and Retry come from the zone's SOA (zone transfers).
	Refresh time.Duration `json:"refresh_ns,omitempty"`
	Retry   time.Duration `json:"retry_ns,omitempty"`
	// FileSize and FileMod let a file source skip an unchanged file.
	FileSize int64     `json:"file_size,omitempty"`
	FileMod  time.Time `json:"file_mod,omitempty"`
}

// Held is an update waiting for a person.
type Held struct {
	Records int       `json:"records"`
	Since   time.Time `json:"since"`
	Reason  string    `json:"reason"`
	Serial  uint32    `json:"serial,omitempty"`
	ETag    string    `json:"etag,omitempty"`
}

// DefaultFetchTimeout bounds one fetch of one source.
const DefaultFetchTimeout = 5 * time.Minute

// DefaultSlowAfter is how long a fetch runs before a warning says what is
// being waited for.
const DefaultSlowAfter = 10 * time.Second

// Manager fetches and keeps the sources of one policy.
type Manager struct {
	Dir    string
	Policy policy.Policy
	HTTP   *http.Client
	Now    func() time.Time
	// Log receives what the manager does: updates, failures, held
	// shrinks, slow fetches (nil: nowhere).
	Log *slog.Logger
	// FetchTimeout bounds one fetch (zero: DefaultFetchTimeout); a fetch
	// that runs longer fails and the last good copy is kept.
	FetchTimeout time.Duration
	// SlowAfter is how long a fetch may run before a warning names what it
	// waits for (zero: DefaultSlowAfter).
	SlowAfter time.Duration

	mu        sync.Mutex
	locks     map[string]*sync.Mutex
	trigger   chan string
	writeFile func(path string, b []byte) error // nil: fsutil.WriteAtomic
}

// NewManager makes a manager keeping copies in dir.
func NewManager(dir string, p policy.Policy) (*Manager, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("feed cache: %w", err)
	}
	// No client timeout: each fetch is bounded by FetchTimeout instead.
	return &Manager{Dir: dir, Policy: p, HTTP: &http.Client{}, Now: time.Now, Log: slog.New(slog.DiscardHandler),
		locks: map[string]*sync.Mutex{}, trigger: make(chan string, 16)}, nil
}

// log is m.Log, or a logger that discards when it is nil.
func (m *Manager) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

func (m *Manager) source(name string) (policy.SourceSpec, error) {
	for _, s := range m.Policy.Sources {
		if s.Name == name {
			return s, nil
		}
	}
	return policy.SourceSpec{}, fmt.Errorf("the policy has no source named %q", name)
}

func (m *Manager) path(name, ext string) string { return filepath.Join(m.Dir, name+ext) }

func (m *Manager) lock(name string) func() {
	m.mu.Lock()
	l, ok := m.locks[name]
	if !ok {
		l = &sync.Mutex{}
		m.locks[name] = l
	}
	m.mu.Unlock()
	l.Lock()
	return l.Unlock
}

// Status returns the saved status of a source, for display: a status that
// cannot be read is shown with the reason as its last error.
func (m *Manager) Status(name string) Status {
	st, err := m.readStatus(name)
	if err != nil {
		return Status{Name: name, LastError: err.Error()}
	}
	return st
}

// readStatus returns the saved status of a source; none saved yet is an
// empty status, one that cannot be read or decoded is an error.
func (m *Manager) readStatus(name string) (Status, error) {
	st := Status{Name: name}
	path := m.path(name, ".status.json")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the feed status: %w", err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return Status{Name: name}, fmt.Errorf("the feed status %s is damaged (%v): without it the shrink guard cannot tell how many records the last good copy holds; remove it and rpzfw counts the last good copy again", path, err)
	}
	return st, nil
}

// loadStatus returns the status a refresh or an accept starts from. A
// damaged status stops it (guessing would reset the shrink guard). A
// missing status beside a last good copy is rebuilt by counting the copy,
// so the next update is still compared with what the copy holds.
func (m *Manager) loadStatus(s policy.SourceSpec) (Status, error) {
	st, err := m.readStatus(s.Name)
	if err != nil {
		return st, err
	}
	if _, serr := os.Stat(m.path(s.Name, ".status.json")); !errors.Is(serr, os.ErrNotExist) {
		return st, nil
	}
	good, err := os.ReadFile(m.path(s.Name, ".good"))
	if errors.Is(err, os.ErrNotExist) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading the last good copy: %w", err)
	}
	n, err := countRecords(s, good)
	if err != nil {
		return st, fmt.Errorf("the feed status is missing and the last good copy does not parse (%v): remove %s to fetch the source afresh", err, m.path(s.Name, ".good"))
	}
	st.Records = n
	m.log().Info("rebuilt a missing feed status from the last good copy", "source", s.Name, "records", n)
	return st, nil
}

// Statuses returns every source's status, in policy order.
func (m *Manager) Statuses() []Status {
	var out []Status
	for _, s := range m.Policy.Sources {
		st := m.Status(s.Name)
		st.Kind = s.Kind
		out = append(out, st)
	}
	return out
}

func (m *Manager) saveStatus(st Status) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("saving the status of %s: %w", st.Name, err)
	}
	if err := m.write(m.path(st.Name, ".status.json"), b); err != nil {
		return fmt.Errorf("saving the status of %s: %w", st.Name, err)
	}
	return nil
}

// write writes a cache file atomically (a seam for tests of failed writes).
func (m *Manager) write(path string, b []byte) error {
	if m.writeFile != nil {
		return m.writeFile(path, b)
	}
	return fsutil.WriteAtomic(path, b)
}

// Open returns the last good copy of a source (policy.Opener).
func (m *Manager) Open(_ context.Context, s policy.SourceSpec) (io.ReadCloser, error) {
	f, err := os.Open(m.path(s.Name, ".good"))
	if errors.Is(err, os.ErrNotExist) {
		st := m.Status(s.Name)
		why := "it was never fetched"
		if st.LastError != "" {
			why = "the last fetch failed: " + st.LastError
		}
		return nil, fmt.Errorf("source %s has no good copy yet: %s", s.Name, why)
	}
	return f, err
}

// fetched is what a fetch brought.
type fetched struct {
	body      []byte // nil: unchanged
	serial    uint32
	etag, mod string
	transfer  string
	bytes     int64
	refresh   time.Duration
	retry     time.Duration
	fileSize  int64
	fileMod   time.Time
}

// Refresh fetches one source now and makes it current if it is good. The
// returned bool says whether the current copy changed.
func (m *Manager) Refresh(ctx context.Context, name string) (bool, error) {
	s, err := m.source(name)
	if err != nil {
		return false, err
	}
	defer m.lock(name)()
	st, err := m.loadStatus(s)
	if err != nil {
		return false, fmt.Errorf("source %s: %w", name, err)
	}
	st.Name, st.Kind = name, s.Kind
	st.LastAttempt = m.Now()
	start := time.Now()
	f, err := m.fetch(ctx, s, st)
	took := time.Since(start)
	if err != nil {
		st.LastError = err.Error()
		m.log().Warn("fetching a source failed; keeping its last good copy", "source", name, "err", err)
		return false, errors.Join(fmt.Errorf("source %s: %w", name, err), m.saveStatus(st))
	}
	if f.refresh > 0 {
		st.Refresh, st.Retry = f.refresh, f.retry
	}
	if f.body == nil {
		st.LastSuccess, st.LastError, st.Transfer = m.Now(), "", f.transfer
		if f.fileSize > 0 {
			st.FileSize, st.FileMod = f.fileSize, f.fileMod
		}
		return false, m.saveStatus(st)
	}
	n, perr := countRecords(s, f.body)
	if perr != nil {
		st.LastError = "the new copy does not parse: " + perr.Error()
		m.log().Warn("a source's new copy does not parse; keeping the last good copy", "source", name, "err", perr)
		return false, errors.Join(fmt.Errorf("source %s: %s", name, st.LastError), m.saveStatus(st))
	}
	if _, statErr := os.Stat(m.path(name, ".good")); statErr == nil && st.Held == nil {
		shrunk := n == 0 && st.Records > 0 || float64(n) < (1-m.Policy.MaxShrink)*float64(st.Records)
		if shrunk {
			reason := fmt.Sprintf("shrank from %d to %d records (more than %.0f%%)", st.Records, n, m.Policy.MaxShrink*100)
			if err := m.write(m.path(name, ".held"), f.body); err != nil {
				return false, err
			}
			st.Held = &Held{Records: n, Since: m.Now(), Reason: reason, Serial: f.serial, ETag: f.etag}
			st.LastError = "update held: " + reason + "; run 'rpzfw feeds accept " + name + "' to use it"
			m.log().Warn("a source shrank sharply; holding the update until it is accepted", "source", name, "from", st.Records, "to", n)
			return false, m.saveStatus(st)
		}
	} else if st.Held != nil && n >= st.Held.Records && float64(n) >= (1-m.Policy.MaxShrink)*float64(st.Records) {
		st.Held = nil // the source recovered on its own
		if err := os.Remove(m.path(name, ".held")); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.log().Warn("removing a held update that is no longer needed", "source", name, "err", err)
		}
	} else if st.Held != nil {
		if err := m.write(m.path(name, ".held"), f.body); err != nil {
			return false, err
		}
		st.Held.Records, st.Held.Serial, st.Held.ETag = n, f.serial, f.etag
		return false, m.saveStatus(st)
	}
	if err := m.write(m.path(name, ".good"), f.body); err != nil {
		return false, err
	}
	st.Records, st.Serial, st.ETag, st.LastModified = n, f.serial, f.etag, f.mod
	st.LastSuccess, st.LastError, st.Bytes, st.Took, st.Transfer = m.Now(), "", f.bytes, took, f.transfer
	st.FileSize, st.FileMod = f.fileSize, f.fileMod
	m.log().Info("source updated", "source", name, "records", n, "bytes", f.bytes, "took", took.Round(time.Millisecond), "how", f.transfer)
	return true, m.saveStatus(st)
}

// fetch fetches one source within FetchTimeout, warning once when it takes
// longer than SlowAfter so that a dead server never stalls a sync silently.
func (m *Manager) fetch(ctx context.Context, s policy.SourceSpec, st Status) (fetched, error) {
	timeout := m.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultFetchTimeout
	}
	slow := m.SlowAfter
	if slow <= 0 {
		slow = DefaultSlowAfter
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	warn := time.AfterFunc(slow, func() {
		m.log().Warn("still waiting for a source", "source", s.Name, "waiting_for", waitingFor(s), "for", slow, "gives_up_after", timeout)
	})
	defer warn.Stop()
	var f fetched
	var err error
	switch s.Kind {
	case policy.KindFile:
		f, err = fetchFile(s, st)
	case policy.KindHTTPS:
		f, err = fetchHTTPS(fctx, m.HTTP, s, st)
	case policy.KindZoneTransfer:
		f, err = m.fetchZone(fctx, s, st)
	default:
		err = fmt.Errorf("unknown source kind %q", s.Kind)
	}
	if err != nil && ctx.Err() == nil && errors.Is(fctx.Err(), context.DeadlineExceeded) {
		err = fmt.Errorf("gave up after %s (the fetch timeout) waiting for %s: %w", timeout, waitingFor(s), err)
	}
	return f, err
}

// waitingFor says what a fetch of s waits for, without secrets.
func waitingFor(s policy.SourceSpec) string {
	switch s.Kind {
	case policy.KindHTTPS:
		return redactURL(s.URL)
	case policy.KindZoneTransfer:
		return "a zone transfer of " + s.Zone + " from " + strings.Join(s.Primaries, ", ")
	}
	return s.Path
}

// RefreshAll refreshes every source; it returns the errors by source.
func (m *Manager) RefreshAll(ctx context.Context) map[string]error {
	errs := map[string]error{}
	for _, s := range m.Policy.Sources {
		if _, err := m.Refresh(ctx, s.Name); err != nil {
			errs[s.Name] = err
		}
	}
	return errs
}

// Accept makes a held update current.
func (m *Manager) Accept(name string) error {
	s, err := m.source(name)
	if err != nil {
		return err
	}
	defer m.lock(name)()
	st, err := m.loadStatus(s)
	if err != nil {
		return fmt.Errorf("source %s: %w", name, err)
	}
	if st.Held == nil {
		return fmt.Errorf("source %s has no held update", name)
	}
	if err := os.Rename(m.path(name, ".held"), m.path(name, ".good")); err != nil {
		return fmt.Errorf("accepting the held update of %s: %w", name, err)
	}
	st.Records, st.Serial, st.ETag = st.Held.Records, st.Held.Serial, st.Held.ETag
	st.Held, st.LastError, st.LastSuccess = nil, "", m.Now()
	return m.saveStatus(st)
}

// countRecords parses a candidate copy, which must be a valid source.
func countRecords(s policy.SourceSpec, body []byte) (int, error) {
	if s.Format == "list" {
		return rpz.ReadList(bytes.NewReader(body), s.Name, func(rpz.Record) error { return nil })
	}
	origin := s.Origin
	if origin == "" {
		origin = s.Zone
	}
	return rpz.ReadZone(bytes.NewReader(body), rpz.ZoneOptions{File: s.Name, Origin: origin}, func(rpz.Record) error { return nil })
}

// maxSize is the cap of a copy of s.
func maxSize(s policy.SourceSpec) int64 {
	if s.MaxSize > 0 {
		return s.MaxSize
	}
	return policy.DefaultMaxSize
}

func fetchFile(s policy.SourceSpec, st Status) (fetched, error) {
	fi, err := os.Stat(s.Path)
	if err != nil {
		return fetched{}, fmt.Errorf("reading %s: %w", s.Path, err)
	}
	if fi.Mode().IsRegular() && fi.Size() == st.FileSize && fi.ModTime().Equal(st.FileMod) {
		return fetched{transfer: "unchanged", fileSize: fi.Size(), fileMod: fi.ModTime()}, nil
	}
	body, err := fsutil.ReadRegular(s.Path, maxSize(s))
	var tl *fsutil.TooLargeError
	if errors.As(err, &tl) {
		return fetched{}, fmt.Errorf("reading %s: %w (max_size)", s.Path, err)
	}
	if err != nil {
		return fetched{}, fmt.Errorf("reading %s: %w", s.Path, err)
	}
	return fetched{body: body, transfer: "file", bytes: int64(len(body)), fileSize: fi.Size(), fileMod: fi.ModTime()}, nil
}
