package querylog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// ObjectStats say what one object held.
type ObjectStats struct {
	Lines, BadLines, Hits, Unattributed int64
	// Blocked and Alerted split the hits stored.
	Blocked, Alerted int64
	// Newest is the time of its newest line.
	Newest time.Time
}

// objectIngest reads one object's lines into its rows.
type objectIngest struct {
	ref    ObjectRef
	devs   *devices
	cache  *sourceCache
	deps   store.Deployments
	log    *slog.Logger
	agg    *agg
	parser LineParser
	rec    Record
	stats  ObjectStats
	newest int64
	seen   map[int64]bool
	// badLogged bounds the bad lines logged per object (all are counted).
	badLogged int
}

const maxBadLogged = 3

func newObjectIngest(ref ObjectRef, devs *devices, cache *sourceCache, deps store.Deployments, log *slog.Logger, spillDir string) *objectIngest {
	return &objectIngest{ref: ref, devs: devs, cache: cache, deps: deps, log: log,
		agg: newAgg(devs.orgs, spillDir), seen: map[int64]bool{}}
}

// read reads every line of the object. Bad lines are counted and skipped;
// a damaged stream (a truncated or corrupt gzip) fails the object.
func (o *objectIngest) read(ctx context.Context, body io.Reader) error {
	lr, err := NewLineReader(body)
	if err != nil {
		return err
	}
	defer lr.Close()
	for {
		line, n, long, err := lr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !long && len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		o.stats.Lines++
		if long {
			o.bad(n, fmt.Errorf("longer than %d bytes", MaxLine))
			continue
		}
		if err := o.parser.Parse(line, &o.rec); err != nil {
			o.bad(n, err)
			continue
		}
		if err := o.line(ctx, &o.rec); err != nil {
			return err
		}
		if o.agg.full() {
			if err := o.agg.flush(); err != nil {
				return err
			}
		}
	}
	if o.newest > 0 {
		o.stats.Newest = time.Unix(o.newest, 0).UTC()
	}
	return nil
}

func (o *objectIngest) bad(n int, err error) {
	o.stats.BadLines++
	if o.badLogged < maxBadLogged {
		o.badLogged++
		o.log.Warn("skipped a bad line of a query log object", "bucket", o.ref.Bucket, "key", o.ref.Key, "line", n, "err", err)
	}
}

func actionCode(a []byte) uint8 {
	switch string(a) {
	case store.ActionBlock:
		return actBlock
	case store.ActionAlert:
		return actAlert
	}
	return actNone
}

// line attributes one record: a hit to the device of its rule group, a
// resolution without one to the devices of its VPC, anything else to no
// device.
func (o *objectIngest) line(ctx context.Context, r *Record) error {
	minute, hour := r.Unix/60, r.Unix/3600
	o.newest = max(o.newest, r.Unix)
	act := actionCode(r.Action)
	if act != actNone {
		dev, ok := o.devs.byGroup[string(r.RuleGroupID)]
		if !ok {
			o.unattributed(minute, hour, act, r.SrcAddr)
			return nil
		}
		h, err := o.hit(ctx, dev, r, act)
		if err != nil {
			return err
		}
		o.agg.count(dev.ID, minute, act)
		o.agg.client(dev.ID, hour, r.SrcAddr)
		o.agg.hit(h, act, minute, hour)
		o.stats.Hits++
		if act == actBlock {
			o.stats.Blocked++
		} else {
			o.stats.Alerted++
		}
		o.seen[dev.ID] = true
		return nil
	}
	devs := o.devs.byVPC[string(r.VPCID)]
	if len(devs) == 0 {
		o.unattributed(minute, hour, act, r.SrcAddr)
		return nil
	}
	for _, d := range devs {
		o.agg.count(d.ID, minute, act)
		o.agg.client(d.ID, hour, r.SrcAddr)
		o.seen[d.ID] = true
	}
	return nil
}

func (o *objectIngest) unattributed(minute, hour int64, act uint8, src []byte) {
	o.stats.Unattributed++
	o.agg.count(0, minute, act)
	o.agg.client(0, hour, src)
}

// hit builds the hit of a BLOCK or ALERT line, with the plan entry and
// source that caused it.
func (o *objectIngest) hit(ctx context.Context, dev deviceRef, r *Record, act uint8) (store.Hit, error) {
	at := r.Time()
	qname := strings.ToLower(string(r.QueryName))
	listID := string(r.ListID)
	src, err := o.cache.lookup(ctx, o.deps, dev.ID, listID, qname, at)
	if err != nil {
		return store.Hit{}, fmt.Errorf("attributing a hit on %s: %w", qname, err)
	}
	action := actionNames[act]
	return store.Hit{
		OrgID: dev.OrgID, DeviceID: dev.ID, At: at, QueryName: qname, QueryType: string(r.QueryType), Rcode: string(r.Rcode),
		SrcAddr: string(r.SrcAddr), SrcID: string(r.SrcID), VPCID: string(r.VPCID), Action: action, Kind: hitKind(action, src),
		Rule: src.Rule, ListID: listID, Entry: src.Entry, Source: src.Source, Line: src.Line,
	}, nil
}

// devicesSeen lists the devices the object had lines of.
func (o *objectIngest) devicesSeen() []int64 {
	out := make([]int64, 0, len(o.seen))
	for id := range o.seen {
		out = append(out, id)
	}
	return out
}
