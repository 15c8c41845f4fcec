//go:build unix

package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestOpenRegular(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small")
	os.WriteFile(small, []byte("12345"), 0o600)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(small, link)
	for _, tc := range []struct {
		path    string
		max     int64
		want    string
		wantErr string
	}{
		{small, 5, "12345", ""},
		{small, 0, "12345", ""},
		{link, 10, "12345", ""},
		{small, 4, "", "larger than 4 bytes"},
		{fifo, 10, "", "a named pipe (FIFO)"},
		{"/dev/zero", 10, "", "a device"},
		{"/dev/null", 10, "", "a device"},
		{dir, 10, "", "a directory"},
		{filepath.Join(dir, "missing"), 10, "", "no such file"},
	} {
		b, err := ReadRegular(tc.path, tc.max)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s max %d: err %v, want %q", tc.path, tc.max, err, tc.wantErr)
			}
			continue
		}
		if err != nil || string(b) != tc.want {
			t.Errorf("%s max %d: %q %v", tc.path, tc.max, b, err)
		}
	}
}

// A file that grows after the size was checked is still cut off with an
// error, never truncated silently.
func TestOpenRegularGrowingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	os.WriteFile(path, []byte("1234"), 0o600)
	rc, err := OpenRegular(path, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString("5678")
	f.Close()
	_, err = io.ReadAll(rc)
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("err %v, want a TooLargeError", err)
	}
}
