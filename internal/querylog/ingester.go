package querylog

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Ingester stores the query log objects of one queue: what a consumer
// does with an object once it has it, without SQS or S3. Tools and
// benchmarks use it to load objects from files.
type Ingester struct {
	store    store.Store
	queue    string
	devs     atomic.Pointer[devices]
	cache    *sourceCache
	log      *slog.Logger
	spillDir string
	instance string
	now      func() time.Time
}

// NewIngester reads the devices that log to queue (a queue URL as
// devices name it) and stores their objects.
func NewIngester(ctx context.Context, st store.Store, queue string, log *slog.Logger) (*Ingester, error) {
	groups, err := loadGroups(ctx, st)
	if err != nil {
		return nil, err
	}
	var merged *group
	for _, g := range groups {
		if g.spec.URL == queue {
			merged = g // each group of the queue knows all its devices
			break
		}
	}
	if merged == nil {
		return nil, fmt.Errorf("no device logs to %s", queue)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	in := &Ingester{store: st, queue: queue, cache: newSourceCache(50_000), log: log, now: time.Now}
	in.devs.Store(merged.devices())
	return in, nil
}

// Ingest stores the object read from body, once: false when it was
// stored before. size is only recorded.
func (in *Ingester) Ingest(ctx context.Context, ref ObjectRef, body io.Reader, size int64) (bool, ObjectStats, error) {
	devs := in.devs.Load()
	oi := newObjectIngest(ref, devs, in.cache, in.store, in.log, in.spillDir)
	defer oi.agg.close()
	if err := oi.read(ctx, body); err != nil {
		return false, oi.stats, fmt.Errorf("reading s3://%s/%s: %w", ref.Bucket, ref.Key, err)
	}
	obj := store.LogObject{Queue: in.queue, Bucket: ref.Bucket, Key: ref.Key, ETag: ref.ETag, OrgID: devs.org, Size: size,
		Lines: oi.stats.Lines, BadLines: oi.stats.BadLines, Hits: oi.stats.Hits, Unattributed: oi.stats.Unattributed,
		Newest: oi.stats.Newest, ProcessedAt: in.now(), Instance: in.instance, Devices: oi.devicesSeen()}
	fresh, err := in.store.IngestObject(ctx, obj, func(w store.IngestWriter) error { return oi.agg.write(ctx, w) })
	return fresh, oi.stats, err
}

// group is the devices of one queue and credentials.
type group struct {
	spec  QueueSpec
	devs  []deviceRef
	rgOf  map[int64]string
	vpcOf map[int64][]string
}

// devices indexes the group; the queue's organization is its first
// device's.
func (g *group) devices() *devices {
	sort.Slice(g.devs, func(i, j int) bool { return g.devs[i].ID < g.devs[j].ID })
	return newDevices(g.devs[0].OrgID, g.devs, g.rgOf, g.vpcOf)
}

// loadGroups reads the devices with log upload, grouped by queue and
// credentials, with the VPCs the scheduler last read for each.
func loadGroups(ctx context.Context, st store.Store) (map[string]*group, error) {
	all, err := st.AllDevices(ctx)
	if err != nil {
		return nil, err
	}
	groups := map[string]*group{}
	for _, d := range all {
		if !d.LogEnabled || d.LogQueueURL == "" {
			continue
		}
		status, err := st.GetStatus(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		spec := QueueSpec{URL: d.LogQueueURL, Device: d}
		g := groups[spec.key()]
		if g == nil {
			g = &group{spec: spec, rgOf: map[int64]string{}, vpcOf: map[int64][]string{}}
			groups[spec.key()] = g
		}
		g.devs = append(g.devs, deviceRef{ID: d.ID, OrgID: d.OrgID})
		g.rgOf[d.ID], g.vpcOf[d.ID] = d.RuleGroupID, status.VPCs
	}
	shareQueues(groups)
	return groups, nil
}

// shareQueues gives each group every device of its queue. Devices that
// share a queue but not credentials get a consumer each (a consumer reads
// with one set of credentials), and SQS hands each message to one of
// them: each must know all the queue's devices, or the lines of the
// others' devices would count as unattributed.
func shareQueues(groups map[string]*group) {
	byURL := map[string][]*group{}
	for _, g := range groups {
		byURL[g.spec.URL] = append(byURL[g.spec.URL], g)
	}
	for _, gs := range byURL {
		if len(gs) < 2 {
			continue
		}
		var devs []deviceRef
		rgOf, vpcOf := map[int64]string{}, map[int64][]string{}
		for _, g := range gs {
			devs = append(devs, g.devs...)
			maps.Copy(rgOf, g.rgOf)
			maps.Copy(vpcOf, g.vpcOf)
		}
		for _, g := range gs {
			g.devs, g.rgOf, g.vpcOf = slices.Clone(devs), rgOf, vpcOf
		}
	}
}
