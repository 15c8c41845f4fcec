package feed

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpzfw/rpzfw/internal/fsutil"
	"github.com/rpzfw/rpzfw/internal/policy"
)

// CacheDir returns the directory, under stateDir, that holds the last good
// copies of p's sources: feeds/<name>-<key>, where key is a hash of the
// policy file's absolute path (symbolic links resolved). Two policy files
// with the same name in different folders never share a cache; a policy
// without a file is keyed by its name.
//
// Earlier versions kept the cache in feeds/<name>. When the new directory
// does not exist yet and the old one holds only sources of p (same names
// and kinds), it is moved to the new place so that no fetch is needed; an
// old directory that holds another policy's sources is left alone.
func CacheDir(stateDir string, p policy.Policy, log *slog.Logger) (string, error) {
	name := p.Name
	if err := fsutil.CheckName(name); err != nil {
		return "", fmt.Errorf("policy name: %w", err)
	}
	dir := filepath.Join(stateDir, "feeds", name+"-"+cacheKey(p))
	if _, err := os.Stat(dir); err == nil || !errors.Is(err, os.ErrNotExist) {
		return dir, nil
	}
	legacy := filepath.Join(stateDir, "feeds", name)
	if !legacyBelongsTo(legacy, p) {
		return dir, nil
	}
	if err := os.Rename(legacy, dir); err != nil {
		return "", fmt.Errorf("moving the feed cache %s to %s: %w", legacy, dir, err)
	}
	if log != nil {
		log.Info("moved the policy's feed cache to its new place", "from", legacy, "to", dir)
	}
	return dir, nil
}

// cacheKey is 12 hex digits of a hash of where p came from.
func cacheKey(p policy.Policy) string {
	key := "name:" + p.Name
	if p.File != "" {
		path, err := filepath.Abs(p.File)
		if err == nil {
			if real, err := filepath.EvalSymlinks(path); err == nil {
				path = real
			}
			key = "file:" + path
		}
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

// legacyBelongsTo says whether an old-style cache directory exists and
// holds nothing but sources of p.
func legacyBelongsTo(dir string, p policy.Policy) bool {
	ents, err := os.ReadDir(dir)
	if err != nil || len(ents) == 0 {
		return false
	}
	kinds := map[string]string{}
	for _, s := range p.Sources {
		kinds[s.Name] = s.Kind
	}
	for _, e := range ents {
		src, ok := strings.CutSuffix(e.Name(), ".status.json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			return false
		}
		var st Status
		if err := json.Unmarshal(b, &st); err != nil || st.Name != src || kinds[src] == "" || st.Kind != "" && st.Kind != kinds[src] {
			return false
		}
	}
	for _, e := range ents {
		src := e.Name()
		for _, ext := range []string{".status.json", ".good", ".held"} {
			src = strings.TrimSuffix(src, ext)
		}
		if _, ok := kinds[src]; !ok {
			return false
		}
	}
	return true
}
