package fsutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteAtomic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "state.json")
	for _, content := range []string{"first", "second, longer", ""} {
		if err := WriteAtomic(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != content {
			t.Fatalf("read %q, wrote %q", b, content)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 {
		t.Errorf("the directory holds %d entries, want only the file (no temporary files left)", len(ents))
	}
}

func TestWriteAtomicFailureLeavesOldContent(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := WriteAtomic(path, []byte("old")); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should be: the rename fails.
	bad := filepath.Join(dir, "d")
	if err := os.MkdirAll(filepath.Join(bad, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteAtomic(bad, []byte("new")); err == nil {
		t.Fatal("writing over a non-empty directory succeeded")
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("%d entries after a failed write, want 2 (no temporary file left)", len(ents))
	}
	b, _ := os.ReadFile(path)
	if string(b) != "old" {
		t.Errorf("read %q", b)
	}
}

func TestCheckName(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"rslvr-frg-0123456789abcdef0", true},
		{"prod_eu.west-1", true},
		{"a", true},
		{"", false},
		{"..", false},
		{".", false},
		{"../../etc", false},
		{"a/b", false},
		{"a..b", false},
		{".hidden", false},
		{"-flag", false},
		{"a b", false},
		{`a\b`, false},
		{"a\x00b", false},
		{string(make([]byte, MaxNameLen+1)), false},
	} {
		if err := CheckName(tc.name); (err == nil) != tc.ok {
			t.Errorf("CheckName(%q) = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
