package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// The queries reports are built of. Package report chooses buckets and
// spans; these sum what the spans cover. Every query filters by org_id
// first: it leads every index of the log tables.

// cond builds a WHERE clause with ? placeholders, numbered at the end.
type cond struct {
	parts []string
	args  []any
}

func (c *cond) add(sql string, args ...any) {
	c.parts = append(c.parts, sql)
	c.args = append(c.args, args...)
}

// in adds "col IN (?, ?, ...)" unless vals is empty.
func inList[T any](c *cond, col string, vals []T) {
	if len(vals) == 0 {
		return
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ")
	args := make([]any, len(vals))
	for i, v := range vals {
		args[i] = v
	}
	c.add(col+" IN ("+marks+")", args...)
}

// spans adds the time ranges of spans of one kind: widths > 0 read
// tables of that width, width 0 reads hits.
func (c *cond) spans(spans []store.Span, withWidth bool) {
	var ors []string
	var args []any
	for _, s := range spans {
		if withWidth {
			ors = append(ors, "(width = ? AND at >= ? AND at < ?)")
			args = append(args, int64(s.Width/time.Second), nanos(s.From), nanos(s.To))
		} else {
			ors = append(ors, "(at >= ? AND at < ?)")
			args = append(args, nanos(s.From), nanos(s.To))
		}
	}
	if len(ors) == 0 {
		ors = []string{"1 = 0"}
	}
	c.add("("+strings.Join(ors, " OR ")+")", args...)
}

// sql returns the clause with placeholders numbered from first.
func (c *cond) sql(first int) string {
	s := strings.Join(c.parts, " AND ")
	var b strings.Builder
	n := first
	for _, r := range s {
		if r == '?' {
			fmt.Fprintf(&b, "$%d", n)
			n++
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// base starts a clause with the filter's organization, devices, actions
// and (for tables that have them) sources.
func base(f store.LogFilter, sources bool) *cond {
	c := &cond{}
	c.add("org_id = ?", f.OrgID)
	inList(c, "device_id", f.Devices)
	inList(c, "action", f.Actions)
	if sources {
		inList(c, "source", f.Sources)
	}
	return c
}

func splitSpans(spans []store.Span) (raw, rolled []store.Span) {
	for _, s := range spans {
		if s.Width == 0 {
			raw = append(raw, s)
		} else {
			rolled = append(rolled, s)
		}
	}
	return raw, rolled
}

// SumCounts sums resolutions by action over spans of counts.
func (d *DB) SumCounts(ctx context.Context, f store.LogFilter, spans []store.Span) (map[string]int64, error) {
	c := base(f, false)
	c.spans(spans, true)
	return d.sumByAction(ctx, `SELECT action, sum(n) FROM log_counts WHERE `+c.sql(1)+` GROUP BY action`, c.args)
}

// SumHits sums hits by action over spans: rule rollups, and hits one by
// one for width 0.
func (d *DB) SumHits(ctx context.Context, f store.LogFilter, spans []store.Span) (map[string]int64, error) {
	raw, rolled := splitSpans(spans)
	r := base(f, true)
	r.add("dim = ?", store.DimRule)
	r.spans(rolled, true)
	h := base(f, true)
	h.spans(raw, false)
	q := `SELECT action, sum(n) FROM (SELECT action, n FROM log_rollups WHERE ` + r.sql(1) +
		` UNION ALL SELECT action, 1 AS n FROM log_hits WHERE ` + h.sql(len(r.args)+1) + `) u GROUP BY action`
	return d.sumByAction(ctx, q, append(r.args, h.args...))
}

func (d *DB) sumByAction(ctx context.Context, q string, args []any) (map[string]int64, error) {
	rows, err := d.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("summing log data: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var (
			action string
			n      int64
		)
		if err := rows.Scan(&action, &n); err != nil {
			return nil, fmt.Errorf("summing log data: %w", err)
		}
		out[action] += n
	}
	return out, rows.Err()
}

// CountSeries sums counts of width into buckets.
func (d *DB) CountSeries(ctx context.Context, f store.LogFilter, width, bucket time.Duration) ([]store.SeriesPoint, error) {
	c := base(f, false)
	c.spans([]store.Span{{From: f.From, To: f.To, Width: width}}, true)
	return d.series(ctx, "log_counts", c, bucket)
}

// HitSeries sums the rule rollups of width into buckets.
func (d *DB) HitSeries(ctx context.Context, f store.LogFilter, width, bucket time.Duration) ([]store.SeriesPoint, error) {
	c := base(f, true)
	c.add("dim = ?", store.DimRule)
	c.spans([]store.Span{{From: f.From, To: f.To, Width: width}}, true)
	return d.series(ctx, "log_rollups", c, bucket)
}

func (d *DB) series(ctx context.Context, table string, c *cond, bucket time.Duration) ([]store.SeriesPoint, error) {
	b := int64(bucket)
	if b <= 0 {
		return nil, fmt.Errorf("a series needs a positive bucket, not %v", bucket)
	}
	q := fmt.Sprintf(`SELECT at - (at %% %d) AS b, action, sum(n) FROM %s WHERE %s GROUP BY b, action ORDER BY b, action`, b, table, c.sql(1))
	rows, err := d.db.QueryContext(ctx, q, c.args...)
	if err != nil {
		return nil, fmt.Errorf("reading a timeline: %w", err)
	}
	defer rows.Close()
	var out []store.SeriesPoint
	for rows.Next() {
		var (
			p  store.SeriesPoint
			at int64
		)
		if err := rows.Scan(&at, &p.Action, &p.N); err != nil {
			return nil, fmt.Errorf("reading a timeline: %w", err)
		}
		p.At = fromNanos(at)
		out = append(out, p)
	}
	return out, rows.Err()
}

// hitColumn is the column of log_hits that holds a top's dimension.
var hitColumn = map[string]string{
	store.DimRule:   "rule_name",
	store.DimDomain: "query_name",
	store.DimClient: "src_addr",
	"source":        "source",
}

// Top ranks the values of dim by hits (BLOCK and ALERT) over spans.
func (d *DB) Top(ctx context.Context, f store.LogFilter, dim string, spans []store.Span, limit int) ([]store.TopRow, error) {
	col, ok := hitColumn[dim]
	if !ok {
		return nil, fmt.Errorf("no top by %q", dim)
	}
	rollDim, rollCol := dim, "value"
	if dim == "source" {
		rollDim, rollCol = store.DimRule, "source"
	}
	if len(f.Actions) == 0 {
		f.Actions = []string{store.ActionBlock, store.ActionAlert}
	}
	raw, rolled := splitSpans(spans)
	r := base(f, true)
	r.add("dim = ?", rollDim)
	r.spans(rolled, true)
	h := base(f, true)
	h.spans(raw, false)
	q := fmt.Sprintf(`SELECT v, sum(CASE WHEN action = 'BLOCK' THEN n ELSE 0 END), sum(CASE WHEN action = 'ALERT' THEN n ELSE 0 END)
		FROM (SELECT %s AS v, action, n FROM log_rollups WHERE %s
		      UNION ALL SELECT %s AS v, action, 1 AS n FROM log_hits WHERE %s) u
		GROUP BY v ORDER BY sum(n) DESC, v LIMIT %d`, rollCol, r.sql(1), col, h.sql(len(r.args)+1), max(limit, 1))
	rows, err := d.db.QueryContext(ctx, q, append(r.args, h.args...)...)
	if err != nil {
		return nil, fmt.Errorf("ranking hits by %s: %w", dim, err)
	}
	defer rows.Close()
	var out []store.TopRow
	for rows.Next() {
		var t store.TopRow
		if err := rows.Scan(&t.Value, &t.Blocked, &t.Alerted); err != nil {
			return nil, fmt.Errorf("ranking hits by %s: %w", dim, err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DistinctClients counts client addresses in the client rollups of the
// spans (spans of width 0 are not counted: clients are rolled up by hour).
func (d *DB) DistinctClients(ctx context.Context, f store.LogFilter, spans []store.Span) (int64, error) {
	_, rolled := splitSpans(spans)
	c := base(f, false)
	c.add("dim = ?", store.DimClient)
	c.spans(rolled, true)
	var n int64
	err := d.db.QueryRowContext(ctx, `SELECT count(DISTINCT value) FROM log_rollups WHERE `+c.sql(1), c.args...).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("counting clients: %w", err)
	}
	return n, nil
}

// maxHitPage bounds one page of hits.
const maxHitPage = 1000

// SearchHits returns hits newest first.
func (d *DB) SearchHits(ctx context.Context, q store.HitQuery) ([]store.Hit, error) {
	c := base(q.LogFilter, true)
	c.add("at >= ? AND at < ?", nanos(q.From), nanos(q.To))
	if name := strings.ToLower(q.Name); name != "" {
		if rest, ok := strings.CutPrefix(name, "*."); ok {
			c.add("query_name LIKE ?", "%."+strings.TrimSuffix(rest, ".")+".")
		} else {
			c.add("query_name = ?", strings.TrimSuffix(name, ".")+".")
		}
	}
	if q.Client != "" {
		c.add("src_addr = ?", q.Client)
	}
	if !q.Before.IsZero() {
		c.add("(at < ? OR (at = ? AND id < ?))", nanos(q.Before), nanos(q.Before), q.BeforeID)
	}
	limit := q.Limit
	if limit <= 0 || limit > maxHitPage {
		limit = maxHitPage
	}
	rows, err := d.db.QueryContext(ctx, `SELECT id, org_id, device_id, at, query_name, query_type, rcode, src_addr, src_id, vpc_id,
		action, kind, rule_name, list_id, entry, source, line FROM log_hits WHERE `+c.sql(1)+
		fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT %d`, limit), c.args...)
	if err != nil {
		return nil, fmt.Errorf("searching hits: %w", err)
	}
	defer rows.Close()
	var out []store.Hit
	for rows.Next() {
		var (
			h        store.Hit
			at, line int64
		)
		if err := rows.Scan(&h.ID, &h.OrgID, &h.DeviceID, &at, &h.QueryName, &h.QueryType, &h.Rcode, &h.SrcAddr, &h.SrcID,
			&h.VPCID, &h.Action, &h.Kind, &h.Rule, &h.ListID, &h.Entry, &h.Source, &line); err != nil {
			return nil, fmt.Errorf("searching hits: %w", err)
		}
		h.At, h.Line = fromNanos(at), int(line)
		out = append(out, h)
	}
	return out, rows.Err()
}
