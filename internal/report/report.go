// Package report builds the reports of query logs from the store: a
// summary, a timeline, top lists and hit searches. It decides which rows
// answer each part of a range (per-minute, hourly or daily counts and
// rollups, or hits one by one) so that a report over a month reads a few
// thousand rows, not millions of hits. No HTTP here: package api serves
// these.
//
// Every report carries Note: queries answered from a resolver's cache
// are not logged, so its counts are a lower bound.
package report

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Note is said by every report.
const Note = "Route 53 Resolver logs only the queries it did not answer from its cache: every count is a lower bound."

// Store is what reports read.
type Store interface {
	store.LogReports
	store.LogTops
}

// Reporter answers reports from a store.
type Reporter struct {
	Store Store
	// Now is the clock (default time.Now); Retention says which rows are
	// kept (default store.DefaultRetention).
	Now       func() time.Time
	Retention store.Retention
}

func (r *Reporter) now() time.Time {
	if r.Now == nil {
		return time.Now()
	}
	return r.Now()
}

// fineSince is the start of the rows finer than a day.
func (r *Reporter) fineSince() time.Time {
	ret := r.Retention.Hits
	if ret <= 0 {
		ret = store.DefaultRetention.Hits
	}
	return r.now().Add(-ret)
}

// ErrRange is a range a report cannot answer.
var ErrRange = errors.New("bad range")

// check validates f's range: from before to, at most the counts'
// retention long.
func check(f store.LogFilter) error {
	switch {
	case f.From.IsZero() || f.To.IsZero():
		return fmt.Errorf("%w: from and to are required", ErrRange)
	case !f.From.Before(f.To):
		return fmt.Errorf("%w: from (%s) must be before to (%s)", ErrRange, f.From.Format(time.RFC3339), f.To.Format(time.RFC3339))
	case f.To.Sub(f.From) > 400*Day:
		return fmt.Errorf("%w: at most 400 days at once", ErrRange)
	}
	return nil
}

// toMinutes widens a range to whole minutes, the finest counts.
func toMinutes(f store.LogFilter) store.LogFilter {
	f.From, f.To = floor(f.From, Minute), ceil(f.To, Minute)
	return f
}

// Summary is the totals of a range.
type Summary struct {
	From, To time.Time
	// Resolutions counts every query logged (blocked, alerted, and those
	// no rule matched); Blocked and Alerted the hits (of the sources
	// asked, when the filter names sources).
	Resolutions, Blocked, Alerted int64
	// PercentBlocked is Blocked out of Resolutions.
	PercentBlocked float64
	// DistinctClients counts client addresses over the hours (days,
	// before the hits' retention) the range touches.
	DistinctClients int64
	// Unattributed counts the lines of no device (only without a device
	// filter).
	Unattributed int64
	Note         string
}

// Summary sums a range, to the minute.
func (r *Reporter) Summary(ctx context.Context, f store.LogFilter) (Summary, error) {
	if err := check(f); err != nil {
		return Summary{}, err
	}
	f = toMinutes(f)
	s := Summary{From: f.From, To: f.To, Note: Note}
	all := f
	all.Actions, all.Sources = nil, nil
	spans := Spans(f.From, f.To, []time.Duration{Hour, Minute}, time.Time{})
	sums, err := r.Store.SumCounts(ctx, all, spans)
	if err != nil {
		return s, err
	}
	for _, n := range sums {
		s.Resolutions += n
	}
	hits := sums
	if len(f.Sources) > 0 || len(f.Actions) > 0 {
		hspans := Spans(f.From, f.To, []time.Duration{Day, Hour, Minute}, r.fineSince())
		if hits, err = r.Store.SumHits(ctx, f, hspans); err != nil {
			return s, err
		}
	}
	s.Blocked, s.Alerted = hits[store.ActionBlock], hits[store.ActionAlert]
	if s.Resolutions > 0 {
		s.PercentBlocked = float64(s.Blocked) * 100 / float64(s.Resolutions)
	}
	cspans := Spans(floor(f.From, Hour), ceil(f.To, Hour), []time.Duration{Day, Hour}, r.fineSince())
	if s.DistinctClients, err = r.Store.DistinctClients(ctx, all, cspans); err != nil {
		return s, err
	}
	if len(f.Devices) == 0 {
		none := all
		none.Devices = []int64{0}
		u, err := r.Store.SumCounts(ctx, none, spans)
		if err != nil {
			return s, err
		}
		for _, n := range u {
			s.Unattributed += n
		}
	}
	return s, nil
}

// Point is one bucket of a timeline.
type Point struct {
	At               time.Time
	Blocked, Alerted int64
	// Passed counts the resolutions no rule matched (not given when the
	// filter names sources: those are hits only).
	Passed int64
}

// Timeline is a range in buckets, by action.
type Timeline struct {
	From, To time.Time
	Bucket   time.Duration
	Points   []Point
	Note     string
}

// Timeline splits a range into buckets chosen for its length (BucketFor);
// the range widens to whole buckets. Buckets with nothing are given as
// zeros.
func (r *Reporter) Timeline(ctx context.Context, f store.LogFilter) (Timeline, error) {
	if err := check(f); err != nil {
		return Timeline{}, err
	}
	b := BucketFor(f.From, f.To)
	f.From, f.To = floor(f.From, b), ceil(f.To, b)
	tl := Timeline{From: f.From, To: f.To, Bucket: b, Note: Note}
	width := Minute
	if b >= Hour {
		width = Hour
	}
	var pts []store.SeriesPoint
	var err error
	if len(f.Sources) > 0 {
		if b >= Day {
			width = Day
		}
		pts, err = r.Store.HitSeries(ctx, f, width, b)
	} else {
		pts, err = r.Store.CountSeries(ctx, f, width, b)
	}
	if err != nil {
		return tl, err
	}
	byAt := map[time.Time]*Point{}
	for at := f.From; at.Before(f.To); at = at.Add(b) {
		tl.Points = append(tl.Points, Point{At: at})
	}
	for i := range tl.Points {
		byAt[tl.Points[i].At] = &tl.Points[i]
	}
	for _, p := range pts {
		pt := byAt[p.At]
		if pt == nil {
			continue
		}
		switch p.Action {
		case store.ActionBlock:
			pt.Blocked += p.N
		case store.ActionAlert:
			pt.Alerted += p.N
		default:
			pt.Passed += p.N
		}
	}
	return tl, nil
}

// Top dimensions.
const (
	ByDomain = "domain"
	ByClient = "client"
	ByRule   = "rule"
	// BySource ranks the feeds and lists that caused hits (the API's
	// "feed").
	BySource = "source"
)

// MaxTop bounds a top list.
const MaxTop = 1000

// Top is a ranking of hits.
type Top struct {
	From, To time.Time
	By       string
	Rows     []store.TopRow
	Note     string
}

// Top ranks the values of by over a range. Rules and feeds come from
// exact rollups, to the minute. Query names and clients come from the tops
// of the hours and days the range covers, and hits for the rest, exact to
// the nanosecond: exact for every value among each hour's or day's most
// hit (store.LogTops), a lower bound for the others. With a feed filter
// they are counted from the hits alone (exact, slower over long ranges,
// and only within the hits' retention).
func (r *Reporter) Top(ctx context.Context, f store.LogFilter, by string, limit int) (Top, error) {
	if err := check(f); err != nil {
		return Top{}, err
	}
	if limit <= 0 || limit > MaxTop {
		return Top{}, fmt.Errorf("%w: limit must be 1 to %d", ErrRange, MaxTop)
	}
	var spans []store.Span
	var err error
	switch by {
	case ByDomain, ByClient:
		if len(f.Sources) > 0 {
			spans = []store.Span{{From: f.From, To: f.To}}
		} else if spans, err = r.topSpans(ctx, f); err != nil {
			return Top{}, err
		}
	case ByRule, BySource:
		f = toMinutes(f)
		spans = Spans(f.From, f.To, []time.Duration{Day, Hour, Minute}, r.fineSince())
	default:
		return Top{}, fmt.Errorf("%w: no top by %q (domain, client, rule or feed)", ErrRange, by)
	}
	rows, err := r.Store.Top(ctx, f, by, spans, limit)
	if err != nil {
		return Top{}, err
	}
	return Top{From: f.From, To: f.To, By: by, Rows: rows, Note: Note}, nil
}

// topSpans covers a range with the days and hours whose tops are made,
// and hits for the rest.
func (r *Reporter) topSpans(ctx context.Context, f store.LogFilter) ([]store.Span, error) {
	made := map[time.Duration]map[time.Time]bool{}
	for _, w := range []time.Duration{Day, Hour} {
		ats, err := r.Store.TopsMade(ctx, f.OrgID, w, floor(f.From, w), ceil(f.To, w))
		if err != nil {
			return nil, err
		}
		made[w] = map[time.Time]bool{}
		for _, at := range ats {
			made[w][at] = true
		}
	}
	var out []store.Span
	add := func(s store.Span) {
		if n := len(out); n > 0 && out[n-1].Width == s.Width && out[n-1].To.Equal(s.From) {
			out[n-1].To = s.To
			return
		}
		out = append(out, s)
	}
	for at := f.From; at.Before(f.To); {
		switch {
		case floor(at, Day).Equal(at) && made[Day][at] && !at.Add(Day).After(f.To):
			add(store.Span{From: at, To: at.Add(Day), Width: Day})
			at = at.Add(Day)
		case floor(at, Hour).Equal(at) && made[Hour][at] && !at.Add(Hour).After(f.To):
			add(store.Span{From: at, To: at.Add(Hour), Width: Hour})
			at = at.Add(Hour)
		default:
			next := floor(at, Hour).Add(Hour)
			if next.After(f.To) {
				next = f.To
			}
			add(store.Span{From: at, To: next})
			at = next
		}
	}
	return out, nil
}

// Hits searches hits, newest first.
func (r *Reporter) Hits(ctx context.Context, q store.HitQuery) ([]store.Hit, error) {
	if err := check(q.LogFilter); err != nil {
		return nil, err
	}
	return r.Store.SearchHits(ctx, q)
}
