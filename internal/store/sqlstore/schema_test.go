package sqlstore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
)

// TestOlderBinaryRefusesNewerSchema: a database migrated past what this
// binary knows is not written to (a downgrade, or an old instance beside a
// new one during an upgrade).
func TestOlderBinaryRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	path := filepath.Join(t.TempDir(), "rpzfw.db")
	db, err := Open(ctx, path, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.db.ExecContext(ctx, "INSERT INTO "+migrationsTable+" (version_id, is_applied) VALUES (999999, 1)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if _, err := Open(ctx, path, log); !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("opening a newer schema: %v, want ErrSchemaTooNew", err)
	}
}
