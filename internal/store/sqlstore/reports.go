package sqlstore

import (
	"context"
	"fmt"
	"slices"
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

// text is the clause, with ? placeholders.
func (c *cond) text() string { return strings.Join(c.parts, " AND ") }

// union selects cols from table under c once per span, as one UNION ALL:
// each select is one range of the table's index, which an OR of ranges
// would not be. Widths > 0 read rows of that width; width 0 reads hits.
func union(cols, table string, c *cond, spans []store.Span, withWidth bool) (string, []any) {
	var qs []string
	var args []any
	for _, s := range spans {
		q := "SELECT " + cols + " FROM " + table + " WHERE " + c.text()
		args = append(args, c.args...)
		if withWidth {
			q += " AND width = ? AND at >= ? AND at < ?"
			args = append(args, int64(s.Width/time.Second), nanos(s.From), nanos(s.To))
		} else {
			q += " AND at >= ? AND at < ?"
			args = append(args, nanos(s.From), nanos(s.To))
		}
		qs = append(qs, q)
	}
	if len(qs) == 0 {
		return "SELECT " + cols + " FROM " + table + " WHERE 1 = 0", nil
	}
	return strings.Join(qs, " UNION ALL "), args
}

// numbered gives a query's ? placeholders the dialect's form: $1, $2 on
// PostgreSQL; SQLite takes ? as they are (and looks numbered ones up in a
// list, slowly when there are many).
func (d *DB) numbered(q string) string {
	if d.dialect == dialectSQLite {
		return q
	}
	var b strings.Builder
	n := 1
	for _, r := range q {
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
	q, args := union("action, n", "log_counts", base(f, false), spans, true)
	return d.sumByAction(ctx, `SELECT action, sum(n) FROM (`+q+`) u GROUP BY action`, args)
}

// SumHits sums hits by action over spans: rule rollups, and hits one by
// one for width 0.
func (d *DB) SumHits(ctx context.Context, f store.LogFilter, spans []store.Span) (map[string]int64, error) {
	raw, rolled := splitSpans(spans)
	r := base(f, true)
	r.add("dim = ?", store.DimRule)
	rq, rargs := union("action, n", "log_rollups", r, rolled, true)
	hq, hargs := union("action, 1 AS n", "log_hits", base(f, true), raw, false)
	return d.sumByAction(ctx, `SELECT action, sum(n) FROM (`+rq+` UNION ALL `+hq+`) u GROUP BY action`, append(rargs, hargs...))
}

func (d *DB) sumByAction(ctx context.Context, q string, args []any) (map[string]int64, error) {
	rows, err := d.db.QueryContext(ctx, d.numbered(q), args...)
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
	return d.series(ctx, "log_counts", base(f, false), store.Span{From: f.From, To: f.To, Width: width}, bucket)
}

// HitSeries sums the rule rollups of width into buckets.
func (d *DB) HitSeries(ctx context.Context, f store.LogFilter, width, bucket time.Duration) ([]store.SeriesPoint, error) {
	c := base(f, true)
	c.add("dim = ?", store.DimRule)
	return d.series(ctx, "log_rollups", c, store.Span{From: f.From, To: f.To, Width: width}, bucket)
}

func (d *DB) series(ctx context.Context, table string, c *cond, span store.Span, bucket time.Duration) ([]store.SeriesPoint, error) {
	b := int64(bucket)
	if b <= 0 {
		return nil, fmt.Errorf("a series needs a positive bucket, not %v", bucket)
	}
	sub, args := union("at, action, n", table, c, []store.Span{span}, true)
	q := fmt.Sprintf(`SELECT at - (at %% %d) AS b, action, sum(n) FROM (%s) u GROUP BY b, action ORDER BY b, action`, b, sub)
	rows, err := d.db.QueryContext(ctx, d.numbered(q), args...)
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

// Top ranks the values of dim by hits (BLOCK and ALERT) over spans:
// rules and sources from the rule rollups, names and clients from the
// tops of their hours and days; spans of width 0 from the hits.
func (d *DB) Top(ctx context.Context, f store.LogFilter, dim string, spans []store.Span, limit int) ([]store.TopRow, error) {
	col, ok := hitColumn[dim]
	if !ok {
		return nil, fmt.Errorf("no top by %q", dim)
	}
	if len(f.Actions) == 0 {
		f.Actions = []string{store.ActionBlock, store.ActionAlert}
	}
	raw, rolled := splitSpans(spans)
	var rq string
	var rargs []any
	if dim == store.DimDomain || dim == store.DimClient {
		rq, rargs = topsPart(f, dim, rolled)
	} else {
		rollCol := "value"
		if dim == "source" {
			rollCol = "source"
		}
		r := base(f, true)
		r.add("dim = ?", store.DimRule)
		rq, rargs = union(rollCol+` AS v, CASE WHEN action = 'BLOCK' THEN n ELSE 0 END AS b, CASE WHEN action = 'ALERT' THEN n ELSE 0 END AS a`,
			"log_rollups", r, rolled, true)
	}
	hq, hargs := union(col+` AS v, CASE WHEN action = 'BLOCK' THEN 1 ELSE 0 END AS b, CASE WHEN action = 'ALERT' THEN 1 ELSE 0 END AS a`,
		"log_hits", base(f, true), raw, false)
	q := fmt.Sprintf(`SELECT v, sum(b), sum(a) FROM (%s UNION ALL %s) u GROUP BY v ORDER BY sum(b) + sum(a) DESC, v LIMIT %d`, rq, hq, max(limit, 1))
	rows, err := d.db.QueryContext(ctx, d.numbered(q), append(rargs, hargs...)...)
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

// topsPart reads the tops of spans: each device's when the filter names
// devices, all devices' (device 0) otherwise; an action filter picks the
// column. Sources are not in tops: a source filter must come with spans
// of width 0 only.
func topsPart(f store.LogFilter, dim string, spans []store.Span) (string, []any) {
	c := &cond{}
	c.add("org_id = ? AND dim = ?", f.OrgID, dim)
	if len(f.Devices) > 0 {
		inList(c, "device_id", f.Devices)
	} else {
		c.add("device_id = 0")
	}
	b, a := "blocked", "alerted"
	if !slices.Contains(f.Actions, store.ActionBlock) {
		b = "0"
	}
	if !slices.Contains(f.Actions, store.ActionAlert) {
		a = "0"
	}
	return union("value AS v, "+b+" AS b, "+a+" AS a", "log_tops", c, spans, true)
}

// DistinctClients counts the client addresses seen over the spans
// (log_clients: of each device named, or of all the organization's lines;
// spans of width 0 are not counted: addresses are kept by hour and day).
// Addresses are kept whatever the action and source, so those filters do
// not apply.
func (d *DB) DistinctClients(ctx context.Context, f store.LogFilter, spans []store.Span) (int64, error) {
	_, rolled := splitSpans(spans)
	c := &cond{}
	c.add("org_id = ?", f.OrgID)
	if len(f.Devices) > 0 {
		inList(c, "device_id", f.Devices)
	} else {
		c.add("device_id = 0")
	}
	q, args := union("value", "log_clients", c, rolled, true)
	var n int64
	err := d.db.QueryRowContext(ctx, d.numbered(`SELECT count(DISTINCT value) FROM (`+q+`) u`), args...).Scan(&n)
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
	if q.Rule != "" {
		c.add("rule_name = ?", q.Rule)
	}
	if !q.Before.IsZero() {
		c.add("(at < ? OR (at = ? AND id < ?))", nanos(q.Before), nanos(q.Before), q.BeforeID)
	}
	limit := q.Limit
	if limit <= 0 || limit > maxHitPage {
		limit = maxHitPage
	}
	rows, err := d.db.QueryContext(ctx, d.numbered(`SELECT id, org_id, device_id, at, query_name, query_type, rcode, src_addr, src_id, vpc_id,
		action, kind, rule_name, list_id, entry, source, line FROM log_hits WHERE `+c.text()+
		fmt.Sprintf(` ORDER BY at DESC, id DESC LIMIT %d`, limit)), c.args...)
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
