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
	// BySource counts the hits stored by the source that caused them (a
	// feed's name, or the allow or block list); "" when none was found.
	BySource map[string]int64
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
	// pending are hits waiting for their sources (see resolve).
	pending []pendingHit
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
		o.line(&o.rec)
		if len(o.pending) >= maxPending {
			if err := o.resolve(ctx); err != nil {
				return err
			}
		}
		if o.agg.full() {
			if err := o.agg.flush(); err != nil {
				return err
			}
		}
	}
	if err := o.resolve(ctx); err != nil {
		return err
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
// device. A hit waits in pending for its source.
func (o *objectIngest) line(r *Record) {
	minute, hour := r.Unix/60, r.Unix/3600
	o.newest = max(o.newest, r.Unix)
	act := actionCode(r.Action)
	if act != actNone {
		dev, ok := o.devs.byGroup[string(r.RuleGroupID)]
		if !ok {
			o.unattributed(minute, hour, act, r.SrcAddr)
			return
		}
		o.pending = append(o.pending, pendingHit{h: o.hit(dev, r, act), act: act, minute: minute, hour: hour})
		o.agg.count(dev.ID, minute, act)
		o.agg.client(dev.ID, hour, r.SrcAddr)
		o.stats.Hits++
		if act == actBlock {
			o.stats.Blocked++
		} else {
			o.stats.Alerted++
		}
		o.seen[dev.ID] = true
		return
	}
	devs := o.devs.byVPC[string(r.VPCID)]
	if len(devs) == 0 {
		o.unattributed(minute, hour, act, r.SrcAddr)
		return
	}
	for _, d := range devs {
		o.agg.count(d.ID, minute, act)
		o.agg.client(d.ID, hour, r.SrcAddr)
		o.seen[d.ID] = true
	}
}

func (o *objectIngest) unattributed(minute, hour int64, act uint8, src []byte) {
	o.stats.Unattributed++
	o.agg.count(0, minute, act)
	o.agg.client(0, hour, src)
}

// hit builds the hit of a BLOCK or ALERT line, all but its source.
func (o *objectIngest) hit(dev deviceRef, r *Record, act uint8) store.Hit {
	return store.Hit{
		OrgID: dev.OrgID, DeviceID: dev.ID, At: r.Time(), QueryName: strings.ToLower(string(r.QueryName)), QueryType: string(r.QueryType),
		Rcode: string(r.Rcode), SrcAddr: string(r.SrcAddr), SrcID: string(r.SrcID), VPCID: string(r.VPCID), Action: actionNames[act],
		ListID: string(r.ListID),
	}
}

// pendingHit is a hit waiting for its source.
type pendingHit struct {
	h            store.Hit
	act          uint8
	minute, hour int64
}

// maxPending bounds the hits waiting for their sources.
const maxPending = 2000

type pendingKey struct {
	dev    int64
	list   string
	window int64
}

// resolve finds the sources of the pending hits, from the plan deployed
// at their time, a few queries for all of them (one per device, list and
// cache window at most), and adds them to the object's rows.
func (o *objectIngest) resolve(ctx context.Context) error {
	if len(o.pending) == 0 {
		return nil
	}
	groups := map[pendingKey][]int{}
	var order []pendingKey
	for i, p := range o.pending {
		k := pendingKey{p.h.DeviceID, p.h.ListID, p.h.At.UnixNano() / int64(cacheWindow)}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], i)
	}
	for _, k := range order {
		idx := groups[k]
		names := make([]string, len(idx))
		for j, i := range idx {
			names[j] = o.pending[i].h.QueryName
		}
		first := o.pending[idx[0]].h
		srcs, err := o.cache.lookupMany(ctx, o.deps, k.dev, k.list, first.At, names)
		if err != nil {
			return fmt.Errorf("attributing the hits on %s and others: %w", first.QueryName, err)
		}
		for j, i := range idx {
			h, src := &o.pending[i].h, srcs[j]
			h.Kind, h.Rule, h.Entry, h.Source, h.Line = hitKind(h.Action, src), src.Rule, src.Entry, src.Source, src.Line
			if o.stats.BySource == nil {
				o.stats.BySource = map[string]int64{}
			}
			o.stats.BySource[h.Source]++
		}
	}
	// In line order, as they came.
	for _, p := range o.pending {
		o.agg.hit(p.h, p.act, p.minute, p.hour)
	}
	o.pending = o.pending[:0]
	return nil
}

// devicesSeen lists the devices the object had lines of.
func (o *objectIngest) devicesSeen() []int64 {
	out := make([]int64, 0, len(o.seen))
	for id := range o.seen {
		out = append(out, id)
	}
	return out
}
