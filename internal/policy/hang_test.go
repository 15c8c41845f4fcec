//go:build unix

package policy

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/rpzfw/rpzfw/internal/compile"
)

// Zone files, list files and policy files that never end or block the
// open are refused, and so is a file above its cap; nothing is read.
func TestFilesThatWouldHang(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(strings.Repeat("a.example\n", 100)), 0o600)
	zone := filepath.Join(dir, "z.rpz")
	os.WriteFile(zone, []byte("$ORIGIN z.rpz.\n"+strings.Repeat("a.example CNAME .\n", 100)), 0o600)
	zoneArg := func(path string, max int64) Policy {
		s, _ := ParseZoneArg(path)
		if max > 0 {
			s.MaxSize = max
		}
		return Policy{Sources: []SourceSpec{s}}
	}
	for _, tc := range []struct {
		name string
		p    Policy
		want string
	}{
		{"fifo zone", zoneArg(fifo, 0), "named pipe"},
		{"device zone", zoneArg("/dev/zero", 0), "a device"},
		{"big zone", zoneArg(zone, 100), "larger than 100 bytes (raise max_size"},
		{"fifo list", Policy{Block: ListSpec{File: fifo}}, "named pipe"},
		{"device list", Policy{Allow: ListSpec{File: "/dev/zero"}}, "a device"},
		{"big list", Policy{Block: ListSpec{File: list, MaxSize: 50}}, "larger than 50 bytes"},
	} {
		err := tc.p.Load(context.Background(), compile.NewBuilder(), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want %q", tc.name, err, tc.want)
		}
	}
	for _, path := range []string{fifo, "/dev/zero"} {
		if _, err := ParseFile(path); err == nil || !strings.Contains(err.Error(), "regular file") {
			t.Errorf("policy file %s: err %v", path, err)
		}
	}
	// max_size on a list file and on a file source.
	pf := filepath.Join(dir, "p.yaml")
	os.WriteFile(pf, []byte("block_list: {file: list.txt, max_size: 50B}\nsources:\n  - {name: z, kind: file, path: z.rpz, max_size: 1KB}\n"), 0o600)
	p, err := ParseFile(pf)
	if err != nil {
		t.Fatal(err)
	}
	if p.Block.MaxSize != 50 || p.Sources[0].MaxSize != 1024 {
		t.Fatalf("max sizes: list %d, source %d", p.Block.MaxSize, p.Sources[0].MaxSize)
	}
	if err := p.Load(context.Background(), compile.NewBuilder(), nil); err == nil || !strings.Contains(err.Error(), "larger than 50 bytes") {
		t.Errorf("list over max_size: %v", err)
	}
}
