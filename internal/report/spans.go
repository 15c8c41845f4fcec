package report

import (
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Granularities of the log tables.
const (
	Minute = time.Minute
	Hour   = time.Hour
	Day    = 24 * time.Hour
)

// Spans covers [from, to) with the coarsest rows each part allows: whole
// days from daily rows, whole hours from hourly rows, and so on down to
// the last width, which covers the rest (0: hits one by one, exact to the
// nanosecond; otherwise from and to should be multiples of it). widths go
// from the coarsest to the finest.
//
// Rows finer than a day are kept only for the hits' retention: before
// fineSince only whole days are read, so the part of the range before it
// widens to whole days.
func Spans(from, to time.Time, widths []time.Duration, fineSince time.Time) []store.Span {
	if !from.Before(to) || len(widths) == 0 {
		return nil
	}
	var out []store.Span
	if !fineSince.IsZero() && from.Before(fineSince) && widths[0] == Day && len(widths) > 1 {
		cut := ceil(fineSince, Day)
		if cut.After(to) {
			cut = ceil(to, Day)
		}
		out = append(out, store.Span{From: floor(from, Day), To: cut, Width: Day})
		if !cut.Before(to) {
			return out
		}
		from = cut
	}
	return append(out, cover(from, to, widths)...)
}

// cover splits [from, to) by widths, coarsest in the middle.
func cover(from, to time.Time, widths []time.Duration) []store.Span {
	if !from.Before(to) {
		return nil
	}
	w := widths[0]
	if len(widths) == 1 {
		if w > 0 {
			from, to = floor(from, w), ceil(to, w)
		}
		return []store.Span{{From: from, To: to, Width: w}}
	}
	a, b := ceil(from, w), floor(to, w)
	if !a.Before(b) {
		return cover(from, to, widths[1:])
	}
	out := cover(from, a, widths[1:])
	out = append(out, store.Span{From: a, To: b, Width: w})
	return append(out, cover(b, to, widths[1:])...)
}

// floor and ceil round t to a multiple of d since the epoch, in UTC:
// bucket times are map keys, and time.Time keys match only in the same
// location (a clock in Local time would find no bucket the store returns).
func floor(t time.Time, d time.Duration) time.Time {
	if d <= 0 {
		return t.UTC()
	}
	return t.Truncate(d).UTC()
}

func ceil(t time.Time, d time.Duration) time.Time {
	f := floor(t, d)
	if f.Equal(t) {
		return f
	}
	return f.Add(d)
}

// BucketFor chooses the timeline's bucket for a range: about 150 to 300
// points at most.
func BucketFor(from, to time.Time) time.Duration {
	r := to.Sub(from)
	for _, c := range []struct{ upTo, bucket time.Duration }{
		{3 * Hour, Minute},
		{12 * Hour, 5 * Minute},
		{2 * Day, 15 * Minute},
		{8 * Day, Hour},
		{50 * Day, 6 * Hour},
	} {
		if r <= c.upTo {
			return c.bucket
		}
	}
	return Day
}
