package sqlstore

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// SyncState gives the device's fwsync state store. The device must exist
// when something is saved; loading a device's state that was never saved
// gives an empty state, as fwsync.FileStore does.
func (d *DB) SyncState(deviceID int64) fwsync.StateStore {
	return &syncState{d: d, id: deviceID}
}

// syncState keeps one device's fwsync.State as JSON in fwsync_state and
// each list's domains in fwsync_domains as one gzipped blob of lines: a list
// of 250,000 domains is a few megabytes of text and is always read and
// written whole, so rows per domain would only cost.
type syncState struct {
	d  *DB
	id int64
}

var _ fwsync.StateStore = (*syncState)(nil)

func (s *syncState) Load(ctx context.Context) (*fwsync.State, error) {
	var text string
	err := s.d.db.QueryRowContext(ctx, `SELECT state FROM fwsync_state WHERE device_id = $1`, s.id).Scan(&text)
	if errors.Is(err, sql.ErrNoRows) {
		return &fwsync.State{Lists: map[string]*fwsync.ListRecord{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the sync state of device %d: %w", s.id, err)
	}
	var st fwsync.State
	if err := json.Unmarshal([]byte(text), &st); err != nil {
		return nil, fmt.Errorf("the sync state of device %d is damaged (%v); delete its row in fwsync_state and rpzfw will read the rule group back", s.id, err)
	}
	if st.Lists == nil {
		st.Lists = map[string]*fwsync.ListRecord{}
	}
	return &st, nil
}

func (s *syncState) Save(ctx context.Context, st *fwsync.State) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("saving the sync state of device %d: %w", s.id, err)
	}
	_, err = s.d.db.ExecContext(ctx, `INSERT INTO fwsync_state (device_id, state, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (device_id) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at`,
		s.id, string(b), s.d.nowNanos())
	if isForeignKey(err) {
		err = fmt.Errorf("device %d: %w", s.id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("saving the sync state of device %d: %w", s.id, err)
	}
	return nil
}

func (s *syncState) LoadDomains(ctx context.Context, listID string) ([]string, error) {
	var (
		count int64
		blob  []byte
	)
	err := s.d.db.QueryRowContext(ctx, `SELECT count, domains FROM fwsync_domains WHERE device_id = $1 AND list_id = $2`,
		s.id, listID).Scan(&count, &blob)
	if err != nil {
		return nil, fmt.Errorf("reading saved domains of %s: %w", listID, notFound(err))
	}
	out, err := unpackDomains(blob, int(count))
	if err != nil {
		return nil, fmt.Errorf("reading saved domains of %s: %w", listID, err)
	}
	return out, nil
}

func (s *syncState) SaveDomains(ctx context.Context, listID string, domains []string) error {
	blob, err := packDomains(domains)
	if err != nil {
		return fmt.Errorf("saving domains of %s: %w", listID, err)
	}
	_, err = s.d.db.ExecContext(ctx, `INSERT INTO fwsync_domains (device_id, list_id, count, domains, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (device_id, list_id) DO UPDATE SET count = excluded.count, domains = excluded.domains,
		updated_at = excluded.updated_at`,
		s.id, listID, int64(len(domains)), blob, s.d.nowNanos())
	if isForeignKey(err) {
		err = fmt.Errorf("device %d: %w", s.id, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("saving domains of %s: %w", listID, err)
	}
	return nil
}

func (s *syncState) DeleteDomains(ctx context.Context, listID string) error {
	// Forgetting a list that was never saved is not an error, as in
	// fwsync.FileStore.
	_, err := s.d.db.ExecContext(ctx, `DELETE FROM fwsync_domains WHERE device_id = $1 AND list_id = $2`, s.id, listID)
	if err != nil {
		return fmt.Errorf("forgetting domains of %s: %w", listID, err)
	}
	return nil
}

// packDomains gzips the domains, one a line. BestSpeed: the lists are
// rewritten at every change, and the text of domains compresses well even so.
func packDomains(domains []string) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	for _, dom := range domains {
		if strings.ContainsAny(dom, "\n\r") {
			return nil, fmt.Errorf("domain %q contains a line break", dom)
		}
		if _, err := io.WriteString(zw, dom); err != nil {
			return nil, err
		}
		if _, err := io.WriteString(zw, "\n"); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// unpackDomains reverses packDomains; count, stored beside the blob, checks
// that nothing was lost.
func unpackDomains(blob []byte, count int) ([]string, error) {
	zr, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		return nil, err
	}
	var text strings.Builder
	if _, err := io.Copy(&text, zr); err != nil {
		return nil, err
	}
	if n := strings.Count(text.String(), "\n"); n != count {
		return nil, fmt.Errorf("expected %d domains, found %d", count, n)
	}
	if count == 0 {
		return nil, nil
	}
	t := text.String()
	return strings.Split(t[:len(t)-1], "\n"), nil
}
