package feed

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/policy"
)

func newFileManager(t *testing.T) (*Manager, string) {
	t.Helper()
	zone := filepath.Join(t.TempDir(), "z.rpz")
	if err := os.WriteFile(zone, []byte(zoneOf(20, "g")), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{{Name: "f", Kind: policy.KindFile, Format: "rpz", Path: zone}}, MaxShrink: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Refresh(context.Background(), "f"); err != nil {
		t.Fatal(err)
	}
	return m, zone
}

// A damaged status stops the refresh and the accept; an emptied feed never
// replaces the last good copy because the status is unreadable.
func TestDamagedStatusStopsRefresh(t *testing.T) {
	for _, damage := range []string{"", "{", `{"records": "many"}`, "\x00\x01"} {
		m, zone := newFileManager(t)
		statusPath := m.path("f", ".status.json")
		if err := os.WriteFile(statusPath, []byte(damage), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(zone, []byte("$ORIGIN feed.rpz.\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := m.Refresh(context.Background(), "f")
		if err == nil || !strings.Contains(err.Error(), "damaged") || !strings.Contains(err.Error(), statusPath) {
			t.Fatalf("status %q: refresh err %v, want one that names the damaged status", damage, err)
		}
		if n := records(t, m); n != 20 {
			t.Errorf("status %q: the last good copy holds %d records, want 20", damage, n)
		}
		if err := m.Accept("f"); err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("status %q: accept err %v", damage, err)
		}
		if st := m.Status("f"); !strings.Contains(st.LastError, "damaged") {
			t.Errorf("status %q: shown as %+v", damage, st)
		}
		b, _ := os.ReadFile(statusPath)
		if string(b) != damage {
			t.Errorf("status %q was overwritten with %q", damage, b)
		}
	}
}

// Removing the status, as the error advises, recounts the last good copy:
// the shrink guard still holds an emptied feed.
func TestMissingStatusIsRebuiltFromTheGoodCopy(t *testing.T) {
	m, zone := newFileManager(t)
	if err := os.Remove(m.path("f", ".status.json")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zone, []byte("$ORIGIN feed.rpz.\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if changed, err := m.Refresh(context.Background(), "f"); changed || err != nil {
		t.Fatalf("changed %v err %v", changed, err)
	}
	if st := m.Status("f"); st.Held == nil || st.Records != 20 || records(t, m) != 20 {
		t.Fatalf("status %+v, %d records current", st, records(t, m))
	}
}

// A status that cannot be written is reported, whatever else happened.
func TestStatusWriteErrorsAreReported(t *testing.T) {
	for _, tc := range []struct {
		name  string
		zone  string
		wants []string
	}{
		{"update", zoneOf(21, "h"), []string{"saving the status"}},
		{"parse failure", "$ORIGIN feed.rpz.\nnot a zone\n", []string{"does not parse", "saving the status"}},
		{"held shrink", zoneOf(2, "s"), []string{"saving the status"}},
		{"unchanged", "", []string{"saving the status"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, zone := newFileManager(t)
			if tc.zone != "" {
				if err := os.WriteFile(zone, []byte(tc.zone), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			m.writeFile = func(path string, b []byte) error {
				if strings.HasSuffix(path, ".status.json") {
					return errors.New("disk full")
				}
				return os.WriteFile(path, b, 0o600)
			}
			_, err := m.Refresh(context.Background(), "f")
			if err == nil {
				t.Fatal("refresh succeeded though its status could not be saved")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) || !strings.Contains(err.Error(), "disk full") {
					t.Errorf("err %v, want %q and the cause", err, w)
				}
			}
		})
	}
	// A failed fetch whose status cannot be saved reports both.
	m, zone := newFileManager(t)
	os.Remove(zone)
	m.writeFile = func(string, []byte) error { return errors.New("disk full") }
	_, err := m.Refresh(context.Background(), "f")
	if err == nil || !strings.Contains(err.Error(), "no such file") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("failed fetch: %v", err)
	}
}
