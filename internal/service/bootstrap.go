package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"

	"github.com/rpzfw/rpzfw/examples"
	"github.com/rpzfw/rpzfw/internal/policydoc"
	"github.com/rpzfw/rpzfw/internal/store"
)

// predefinedDir is where the embedded examples are written, so that the
// pre-defined policies can name them as file sources.
func predefinedDir(dataDir string) string { return filepath.Join(dataDir, "predefined") }

// writeExamples puts the embedded example files in the data directory.
// They are rewritten at every start, so an upgrade brings new versions.
func writeExamples(dataDir string) error {
	dir := predefinedDir(dataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing the pre-defined policies' files: %w", err)
	}
	return fs.WalkDir(examples.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := examples.FS.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, path), b, 0o600); err != nil {
			return fmt.Errorf("writing the pre-defined policies' files: %w", err)
		}
		return nil
	})
}

// predefined returns the pre-defined policies: the sample policy the demo
// runs, and one built from each example.
func predefined() map[string]map[string]any {
	// Relative paths: each instance resolves them in its own data directory.
	file := func(name string) string { return name }
	zone := func(name string) []any {
		return []any{map[string]any{"name": name, "kind": "file", "path": file("sample.rpz")}}
	}
	return map[string]map[string]any{
		"sample": {
			"allow_list": map[string]any{"file": file("allow.txt")},
			"block_list": map[string]any{"file": file("block.txt")},
			"sources":    zone("sample"),
		},
		"example": {
			"max_shrink": "50%",
			"allow_list": []any{"intranet.corp.example", "*.updates.vendor.example"},
			"block_list": map[string]any{"file": file("block.txt")},
			"sources":    zone("local"),
		},
		"sample-zone": {"sources": zone("sample")},
		"block-list":  {"block_list": map[string]any{"file": file("block.txt")}},
	}
}

// ensurePredefined creates or refreshes the pre-defined policies of an
// organization. A user's policy of the same name is left alone.
func ensurePredefined(ctx context.Context, st store.Policies, orgID int64, dataDir string) error {
	opts := policydoc.Options{BaseDir: predefinedDir(dataDir)}
	for name, doc := range predefined() {
		raw, err := json.Marshal(doc)
		if err != nil {
			return err
		}
		checked, err := policydoc.Check(name, raw, policydoc.Secrets{}, opts)
		if err != nil {
			return fmt.Errorf("pre-defined policy %s: %w", name, err)
		}
		p := store.Policy{OrgID: orgID, Name: name, Doc: checked.Doc, Predefined: true}
		cur, err := st.GetPolicy(ctx, orgID, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if _, err := st.CreatePolicy(ctx, p); err != nil && !errors.Is(err, store.ErrConflict) {
				return fmt.Errorf("creating pre-defined policy %s: %w", name, err)
			}
		case err != nil:
			return fmt.Errorf("reading policy %s: %w", name, err)
		case cur.Predefined && string(cur.Doc) != string(checked.Doc):
			if _, err := st.UpdatePolicy(ctx, p); err != nil {
				return fmt.Errorf("updating pre-defined policy %s: %w", name, err)
			}
		}
	}
	return nil
}

// CreateOrg makes an organization with the pre-defined policies.
func CreateOrg(ctx context.Context, st store.Store, cfg Config, name string) (store.Org, error) {
	if !orgNameRe.MatchString(name) {
		return store.Org{}, fmt.Errorf("organization name %q: want 1-64 letters, digits, '_', '.' or '-'", name)
	}
	if err := writeExamples(cfg.DataDir); err != nil {
		return store.Org{}, err
	}
	o, err := st.CreateOrg(ctx, name)
	if err != nil {
		return o, fmt.Errorf("creating organization %q: %w", name, err)
	}
	return o, ensurePredefined(ctx, st, o.ID, cfg.DataDir)
}

var orgNameRe = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
