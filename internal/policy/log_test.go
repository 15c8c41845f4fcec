package policy

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/compile"
)

// LoadWith logs each source it reads to the logger it is given, and to
// nowhere when given none.
func TestLoadWithLogsToItsLogger(t *testing.T) {
	list := filepath.Join(t.TempDir(), "block.txt")
	if err := os.WriteFile(list, []byte("evil.example\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Policy{Block: ListSpec{File: list}}
	var buf bytes.Buffer
	if err := p.LoadWith(context.Background(), compile.NewBuilder(), nil, slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `msg="read source" file=`+list+" records=1") {
		t.Errorf("logged %q", buf.String())
	}
	if err := p.LoadWith(context.Background(), compile.NewBuilder(), nil, nil); err != nil {
		t.Errorf("without a logger: %v", err)
	}
}
