package store

import (
	"context"
	"time"
)

// What the query-log pipeline keeps: the S3 objects it has counted, every
// BLOCK and ALERT hit with the source that caused it, per-minute counts of
// all resolutions, rollups for reports, the plan versions hits are
// attributed by, and the health of each log queue.
//
// Counting once rests on one rule: an object's record and everything it
// adds are written in one transaction (IngestObject), so an object is
// either counted whole or not at all, and a second delivery finds its
// record and adds nothing.

// Actions of hits and counts: DNS Firewall's, and NONE for a resolution
// no rule matched (an ALLOW match leaves no trace in the logs either).
const (
	ActionBlock = "BLOCK"
	ActionAlert = "ALERT"
	ActionNone  = "NONE"
)

// Hit kinds: why a rule matched, as the plan deployed then says.
const (
	// KindBlock: a BLOCK rule of a feed or the block list.
	KindBlock = "block"
	// KindPassthru: ALERT for an RPZ PASSTHRU or an allow source.
	KindPassthru = "passthru"
	// KindAllowList: ALERT for the user's allow list.
	KindAllowList = "allow_list"
	// KindMonitor: ALERT on a monitor-only device: it would have been
	// blocked.
	KindMonitor = "monitor"
	// KindOther: a rule rpzfw did not make, or a list no known plan held.
	KindOther = "other"
)

// Rollup dimensions.
const (
	// DimRule rolls hits up by rule (Value) and source; it also serves
	// tops by source and timelines filtered by source.
	DimRule = "rule"
	// DimDomain ranks hits by query name (in tops, see LogTops).
	DimDomain = "domain"
	// DimClient rolls every resolution up by client address, whatever
	// its action and source (those are ""), for distinct clients (the
	// SQL store keeps them as the addresses seen, without counts); tops
	// rank hits by client.
	DimClient = "client"
)

// Hit is one BLOCK or ALERT match from a query log.
type Hit struct {
	ID       int64
	OrgID    int64
	DeviceID int64
	At       time.Time
	// QueryName is as logged: lower case with the trailing dot.
	QueryName string
	QueryType string
	Rcode     string
	SrcAddr   string
	// SrcID is the instance (i-...) or the Resolver endpoint
	// (rslvr-in-...) the query came through; "" when the log said neither.
	SrcID  string
	VPCID  string
	Action string
	Kind   string
	// Rule is the plan's rule (rpzfw-3-nxdomain); ListID the domain list
	// the log names; Entry the list entry that matched (*.example.com).
	Rule   string
	ListID string
	Entry  string
	// Source is the feed, "allow-list" or "block-list" the entry came
	// from, and Line its line there; "" and 0 when unknown.
	Source string
	Line   int
}

// Count adds N resolutions of one action to a device's bucket of Width
// starting At. DeviceID 0 counts the lines of no device (unattributed).
type Count struct {
	OrgID    int64
	DeviceID int64
	Width    time.Duration
	At       time.Time
	Action   string
	N        int64
}

// Rollup adds N to one value of a dimension in a bucket of Width.
type Rollup struct {
	OrgID    int64
	DeviceID int64
	Dim      string
	Width    time.Duration
	At       time.Time
	Action   string
	Source   string
	Value    string
	N        int64
}

// LogObject is one S3 object of query logs and what it brought.
type LogObject struct {
	ID int64
	// Queue is the SQS queue URL its notification came from.
	Queue  string
	Bucket string
	Key    string
	ETag   string
	OrgID  int64
	Size   int64
	// Lines read, lines that did not parse, hits stored, and lines of no
	// device.
	Lines, BadLines, Hits, Unattributed int64
	// Newest is the time of its newest line.
	Newest      time.Time
	ProcessedAt time.Time
	Instance    string
	// Devices had lines in it: their last_log_retrieved becomes
	// ProcessedAt.
	Devices []int64
}

// IngestWriter adds an object's rows inside its transaction. Counts and
// rollups add to what is stored, so they may come in several parts.
type IngestWriter interface {
	AddHits(ctx context.Context, hits []Hit) error
	AddCounts(ctx context.Context, counts []Count) error
	AddRollups(ctx context.Context, rollups []Rollup) error
}

// LogIngest records query-log objects exactly once.
type LogIngest interface {
	// IngestObject records obj and, in the same transaction, what write
	// adds. It returns false, having written nothing, when the object
	// (queue, bucket, key, ETag) was recorded before.
	IngestObject(ctx context.Context, obj LogObject, write func(IngestWriter) error) (bool, error)
	// ObjectIngested says whether the object was recorded (a cheap check
	// before reading it again).
	ObjectIngested(ctx context.Context, queue, bucket, key, etag string) (bool, error)
}

// PlanEntry is one domain list entry of a deployed plan with its
// provenance.
type PlanEntry struct {
	Domain string
	Rule   string
	Source string
	Line   int
}

// DeployedList says which plan rule a domain list held.
type DeployedList struct {
	ListID string
	Rule   string
}

// Deployment is what a device's rule group held after a sync: each of
// rpzfw's lists with its rule, and each entry with its provenance.
type Deployment struct {
	PlanHash string
	// Fingerprint identifies Lists and Entries: a deployment with the
	// fingerprint already recorded changes nothing.
	Fingerprint string
	Lists       []DeployedList
	Entries     []PlanEntry
}

// EntryLookup is what a device's deployments say about a domain list and
// some list entries at one time.
type EntryLookup struct {
	// ListKnown says the list was one of rpzfw's, holding ListRule.
	ListKnown bool
	ListRule  string
	// Entries are those of the domains asked that a deployment held, the
	// version nearest the time asked for each.
	Entries []PlanEntry
}

// Deployments keep plan versions, so that a hit is attributed by the plan
// deployed when it happened.
type Deployments interface {
	// RecordDeployment makes d the device's deployment from at on: the
	// entries and lists it no longer holds are closed at at, new ones open.
	// A deployment with the current fingerprint records nothing.
	RecordDeployment(ctx context.Context, deviceID int64, at time.Time, d Deployment) error
	// LookupEntries answers for one domain list of the device and the
	// candidate entries of a query name, as deployed at at (or nearest).
	// An empty listID or no domains skip that part.
	LookupEntries(ctx context.Context, deviceID int64, listID string, domains []string, at time.Time) (EntryLookup, error)
	// CurrentFingerprint is the fingerprint of the device's deployment
	// now ("" when none is recorded).
	CurrentFingerprint(ctx context.Context, deviceID int64) (string, error)
}

// Log queue states.
const (
	QueueOK    = "ok"
	QueueError = "error"
)

// LogQueue is the health of one SQS queue of query-log notifications.
type LogQueue struct {
	URL   string
	OrgID int64
	State string
	// Error says what is wrong; Permission names the IAM permission that
	// was denied, when that is the cause.
	Error      string
	Permission string
	ErrorAt    time.Time
	// LastReceive is when the queue was last read without error.
	LastReceive time.Time
	UpdatedAt   time.Time
}

// QueueStats sum the objects of one queue processed since a time.
type QueueStats struct {
	Objects, Lines, BadLines, Hits int64
	// Newest is the time of the newest line of any object; LastObject
	// when the last object was processed.
	Newest     time.Time
	LastObject time.Time
}

// QuarantinedMessage is an SQS message that kept failing, kept with its
// reason until it is retried.
type QuarantinedMessage struct {
	ID            int64
	Queue         string
	OrgID         int64
	MessageID     string
	Body          string
	Receives      int
	Reason        string
	At            time.Time
	RetryRequired bool
}

// LogQueues keep queue health and quarantined messages.
type LogQueues interface {
	PutLogQueue(ctx context.Context, q LogQueue) error
	// LogQueues lists the organization's queues (orgID 0: all).
	LogQueues(ctx context.Context, orgID int64) ([]LogQueue, error)
	QueueStats(ctx context.Context, queue string, since time.Time) (QueueStats, error)
	// Quarantine keeps m; a message already kept gets the new reason.
	Quarantine(ctx context.Context, m QuarantinedMessage) error
	// ListQuarantined lists the organization's quarantined messages,
	// newest first (queue "" for all of its queues).
	ListQuarantined(ctx context.Context, orgID int64, queue string) ([]QuarantinedMessage, error)
	// RetryQuarantined marks a message (id 0: all of the organization's)
	// to be retried; it returns how many.
	RetryQuarantined(ctx context.Context, orgID, id int64) (int, error)
	// TakeRetries returns up to limit messages of queue marked for retry.
	TakeRetries(ctx context.Context, queue string, limit int) ([]QuarantinedMessage, error)
	DeleteQuarantined(ctx context.Context, id int64) error
}

// Retention says how long each kind of log data is kept.
type Retention struct {
	// Hits covers hits, objects, hourly and per-minute rollups and plan
	// versions; Counts covers counts and daily rollups.
	Hits, Counts time.Duration
}

// Default retention.
var DefaultRetention = Retention{Hits: 30 * 24 * time.Hour, Counts: 365 * 24 * time.Hour}

// LogPruner deletes log data past its retention.
type LogPruner interface {
	// PruneLogs deletes what is older than the retention at now, in
	// batches; it returns how many rows went.
	PruneLogs(ctx context.Context, r Retention, now time.Time) (int64, error)
}

// LogFilter selects the log data of a report. Times are in [From, To).
type LogFilter struct {
	OrgID int64
	// Devices restricts to these devices (none: every device and the
	// unattributed lines).
	Devices []int64
	From    time.Time
	To      time.Time
	// Actions and Sources restrict hits (none: all).
	Actions []string
	Sources []string
}

// Span is a part of a report's range read at one granularity: Width 0
// reads hits one by one, others read counts or rollups of that width.
// From and To are multiples of Width.
type Span struct {
	From, To time.Time
	Width    time.Duration
}

// SeriesPoint is the sum of one action in one bucket.
type SeriesPoint struct {
	At     time.Time
	Action string
	N      int64
}

// TopRow is one value of a top list with its hits by action.
type TopRow struct {
	Value   string
	Blocked int64
	Alerted int64
}

// HitQuery searches hits, newest first. Before (with BeforeID) continues
// after the last hit of a previous page.
type HitQuery struct {
	LogFilter
	// Name matches the query name exactly (with or without the trailing
	// dot), or every name under it when written *.example.com.
	Name     string
	Client   string
	Rule     string // the firewall rule's name, exactly
	Before   time.Time
	BeforeID int64
	Limit    int
}

// LogReports are the queries reports are built of.
type LogReports interface {
	// SumCounts sums resolutions by action over spans of counts.
	SumCounts(ctx context.Context, f LogFilter, spans []Span) (map[string]int64, error)
	// CountSeries sums counts of width into buckets (a multiple of width).
	CountSeries(ctx context.Context, f LogFilter, width, bucket time.Duration) ([]SeriesPoint, error)
	// HitSeries sums hit rollups (by rule) of width into buckets, for
	// filters counts cannot answer (sources).
	HitSeries(ctx context.Context, f LogFilter, width, bucket time.Duration) ([]SeriesPoint, error)
	// SumHits sums hits by action over spans (rollups by rule, hits for
	// width 0).
	SumHits(ctx context.Context, f LogFilter, spans []Span) (map[string]int64, error)
	// Top ranks the values of dim ("rule", "domain", "client" or
	// "source") by hits over spans: rule and source from the rule
	// rollups, domain and client from the tops (device filter only; a
	// source filter needs spans of width 0).
	Top(ctx context.Context, f LogFilter, dim string, spans []Span, limit int) ([]TopRow, error)
	// DistinctClients counts the client addresses seen over spans of
	// the client rollups' widths: of the devices of the filter, or of
	// all the organization's lines (actions and sources do not apply).
	DistinctClients(ctx context.Context, f LogFilter, spans []Span) (int64, error)
	SearchHits(ctx context.Context, q HitQuery) ([]Hit, error)
}

// TopsBucket is an hour or a day of one organization's hits.
type TopsBucket struct {
	OrgID int64
	Width time.Duration
	At    time.Time
}

// LogTops keep the top lists (query names, clients) of completed hours
// and days, made from their hits once, so that a report over a month sums
// a few thousand rows. Tops are bounded: a top over several buckets is
// exact for the values among each bucket's K most hit, and a lower bound
// for the others.
type LogTops interface {
	// TopsToMake lists the buckets of width in [since, before) that have
	// hits and no tops (new, or touched by a late object since), oldest
	// first, at most limit.
	TopsToMake(ctx context.Context, width time.Duration, since, before time.Time, limit int) ([]TopsBucket, error)
	// MakeTops makes a bucket's tops from its hits: the k most hit query
	// names and clients of each device, and of all devices together.
	MakeTops(ctx context.Context, b TopsBucket, k int) error
	// TopsMade lists the buckets of width in [from, to) whose tops are
	// made.
	TopsMade(ctx context.Context, orgID int64, width time.Duration, from, to time.Time) ([]time.Time, error)
}

// Logs is everything the log pipeline and reports keep.
type Logs interface {
	LogIngest
	Deployments
	LogQueues
	LogPruner
	LogReports
	LogTops
}
