package fwsync

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/fsutil"
)

// ListRecord is what rpzfw remembers of one of its lists.
type ListRecord struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Count int    `json:"count"`
	// Dirty is set before a change is sent and cleared once the list has
	// settled and its content is saved: a dirty list is read back in full.
	Dirty bool `json:"dirty"`
	// Modified is the list's ModificationTime when its content was last
	// recorded: a list whose time moved was changed by someone else, even
	// if its count did not, and is read back.
	Modified string `json:"modified,omitempty"`
	// Checked is when the service last confirmed Modified (the syncer's
	// clock): until it is VerifyEvery old, a clean list is trusted without
	// asking (see Config.VerifyEvery).
	Checked time.Time `json:"checked,omitzero"`
}

// State is what rpzfw remembers of one device between syncs.
type State struct {
	Device      string                 `json:"device"`
	RuleGroupID string                 `json:"rule_group_id"`
	Lists       map[string]*ListRecord `json:"lists"`
	// NextSlot numbers new lists, so names and CreatorRequestIds never
	// repeat.
	NextSlot int `json:"next_slot"`
	// Creating names the lists being created: one found but not known
	// afterwards was this state's, left by a sync that stopped during
	// CreateFirewallDomainList, and need not wait for the orphan grace.
	Creating []string `json:"creating,omitempty"`
	// Instance tells this state's lists from those of other states of the
	// same device (another host): it is part of their names and
	// CreatorRequestIds. Empty in states saved before; set at the first
	// list created.
	Instance string `json:"instance,omitempty"`
	// SettleNanos is the settle delay the syncs of this device have
	// learned (how long to wait after a change before looking at the
	// list), so a run starts from it rather than from PollInitial.
	SettleNanos int64 `json:"settle_ns,omitempty"`
	// SettleShortNanos is the longest such delay lately found too short:
	// the tuning keeps clear of it.
	SettleShortNanos int64 `json:"settle_short_ns,omitempty"`
	// SettleOKNanos is the shortest such delay lately seen to suffice,
	// and SettleStreak how many have sufficed since the tuning last
	// tried a shorter one.
	SettleOKNanos int64 `json:"settle_ok_ns,omitempty"`
	SettleStreak  int   `json:"settle_streak,omitempty"`
	// Others caches the count of domains in lists that are not ours.
	Others *OthersCount `json:"others,omitempty"`
}

// OthersCount is a count of the domains other lists hold.
type OthersCount struct {
	// Lists identifies the lists counted (their sorted IDs, joined).
	Lists   string    `json:"lists"`
	Domains int       `json:"domains"`
	At      time.Time `json:"at"`
}

// StateStore keeps State and list contents. The file store below is the
// command line's; the service keeps them in its database.
type StateStore interface {
	Load(ctx context.Context) (*State, error)
	Save(ctx context.Context, s *State) error
	LoadDomains(ctx context.Context, listID string) ([]string, error)
	SaveDomains(ctx context.Context, listID string, domains []string) error
	DeleteDomains(ctx context.Context, listID string) error
}

// FileStore keeps the state of one device in a directory: state.json and
// one gzipped file of domains per list.
type FileStore struct{ Dir string }

// DefaultStateDir is $XDG_STATE_HOME/rpzfw or ~/.local/state/rpzfw.
func DefaultStateDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "rpzfw")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ".rpzfw-state"
	}
	return filepath.Join(home, ".local", "state", "rpzfw")
}

func (f FileStore) path(name string) string { return filepath.Join(f.Dir, name) }

// Load returns the saved state, or an empty one.
func (f FileStore) Load(context.Context) (*State, error) {
	b, err := os.ReadFile(f.path("state.json"))
	if errors.Is(err, os.ErrNotExist) {
		return &State{Lists: map[string]*ListRecord{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading sync state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("sync state %s is damaged (%v); remove it and rpzfw will read the rule group back", f.path("state.json"), err)
	}
	if s.Lists == nil {
		s.Lists = map[string]*ListRecord{}
	}
	return &s, nil
}

// Save writes the state atomically.
func (f FileStore) Save(_ context.Context, s *State) error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomic(f.path("state.json"), b)
}

// LoadDomains returns the saved content of a list.
func (f FileStore) LoadDomains(_ context.Context, id string) ([]string, error) {
	fh, err := os.Open(f.path(id + ".domains.gz"))
	if err != nil {
		return nil, fmt.Errorf("reading saved domains of %s: %w", id, err)
	}
	defer fh.Close()
	zr, err := gzip.NewReader(fh)
	if err != nil {
		return nil, fmt.Errorf("reading saved domains of %s: %w", id, err)
	}
	var out []string
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading saved domains of %s: %w", id, err)
	}
	return out, nil
}

// SaveDomains writes the content of a list.
func (f FileStore) SaveDomains(_ context.Context, id string, domains []string) error {
	var b strings.Builder
	zw := gzip.NewWriter(&b)
	for _, d := range domains {
		fmt.Fprintln(zw, d)
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return writeAtomic(f.path(id+".domains.gz"), []byte(b.String()))
}

// DeleteDomains forgets a list's content.
func (f FileStore) DeleteDomains(_ context.Context, id string) error {
	err := os.Remove(f.path(id + ".domains.gz"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

func writeAtomic(path string, b []byte) error {
	if err := fsutil.WriteAtomic(path, b); err != nil {
		return fmt.Errorf("saving sync state: %w", err)
	}
	return nil
}
