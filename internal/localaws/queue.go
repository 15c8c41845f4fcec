package localaws

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// queue is one SQS standard queue. Its messages and settings are written
// to a file at each send, receive, delete and change of settings, so a restart (or
// a crash) loses none; what is in flight then is visible again, as after
// a visibility timeout. The file holds every message, so this suits the
// few messages a sandbox has at a time, not a backlog of millions.
type queue struct {
	name, arn, path string

	mu       sync.Mutex
	attrs    map[string]string
	tags     map[string]string
	created  time.Time
	modified time.Time
	msgs     []*message
	// arrived is closed (and replaced) when a message may have become
	// receivable: long polls wait on it.
	arrived chan struct{}
}

// message is one message; the exported fields are what is kept on disk.
type message struct {
	ID           string    `json:"id"`
	Body         string    `json:"body"`
	Sent         time.Time `json:"sent"`
	Receives     int       `json:"receives"`
	FirstReceive time.Time `json:"first_receive,omitzero"`
	// VisibleAt is when it may be received (delay or visibility timeout);
	// not kept: after a restart every message is visible.
	VisibleAt time.Time `json:"-"`
	handle    string
}

// queueFile is a queue on disk.
type queueFile struct {
	Name     string            `json:"name"`
	Created  time.Time         `json:"created"`
	Modified time.Time         `json:"modified"`
	Attrs    map[string]string `json:"attributes"`
	Tags     map[string]string `json:"tags"`
	Messages []*message        `json:"messages"`
}

var queueNameRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,80}$`)

// maxMessage is SQS's largest message (256 KiB).
const maxMessage = 256 << 10

// queueDefaults are the settings of a new queue; settable lists those
// SetQueueAttributes takes (kept, and used where marked).
var (
	queueDefaults = map[string]string{"VisibilityTimeout": "30", "MessageRetentionPeriod": "345600", "ReceiveMessageWaitTimeSeconds": "0",
		"DelaySeconds": "0", "MaximumMessageSize": "262144"}
	settable = map[string]bool{"VisibilityTimeout": true, "MessageRetentionPeriod": true, "ReceiveMessageWaitTimeSeconds": true,
		"DelaySeconds": true, "MaximumMessageSize": true, "Policy": true, "RedrivePolicy": true, "RedriveAllowPolicy": true,
		"KmsMasterKeyId": true, "KmsDataKeyReusePeriodSeconds": true, "SqsManagedSseEnabled": true}
	// numeric bounds of the settings that are numbers.
	attrBounds = map[string][2]int{"VisibilityTimeout": {0, 43200}, "MessageRetentionPeriod": {60, 1209600},
		"ReceiveMessageWaitTimeSeconds": {0, 20}, "DelaySeconds": {0, 900}, "MaximumMessageSize": {1024, 262144}}
)

func checkAttrs(attrs map[string]string) error {
	for k, v := range attrs {
		if !settable[k] {
			return sqsErr("InvalidAttributeName", "Unknown Attribute %s.", k)
		}
		if b, ok := attrBounds[k]; ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < b[0] || n > b[1] {
				return sqsErr("InvalidAttributeValue", "Invalid value for the parameter %s: want %d to %d.", k, b[0], b[1])
			}
		}
	}
	return nil
}

func newQueue(name, arn, path string, now time.Time) *queue {
	q := &queue{name: name, arn: arn, path: path, attrs: map[string]string{}, tags: map[string]string{}, created: now, modified: now, arrived: make(chan struct{})}
	for k, v := range queueDefaults {
		q.attrs[k] = v
	}
	return q
}

func loadQueue(path, arnPrefix string) (*queue, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f queueFile
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(path), err)
	}
	if !queueNameRe.MatchString(f.Name) {
		return nil, fmt.Errorf("%s: bad queue name %q", filepath.Base(path), f.Name)
	}
	q := newQueue(f.Name, arnPrefix+f.Name, path, f.Created)
	q.modified = f.Modified
	for k, v := range f.Attrs {
		q.attrs[k] = v
	}
	for k, v := range f.Tags {
		q.tags[k] = v
	}
	q.msgs = f.Messages
	return q, nil
}

// save writes the queue; the caller holds mu.
func (q *queue) save() error {
	b, err := json.Marshal(queueFile{Name: q.name, Created: q.created, Modified: q.modified, Attrs: q.attrs, Tags: q.tags, Messages: q.msgs})
	if err != nil {
		return err
	}
	if err := writeFileAtomic(q.path, b); err != nil {
		return fmt.Errorf("saving queue %s: %w", q.name, err)
	}
	return nil
}

// wake tells long polls to look again.
func (q *queue) wake() {
	close(q.arrived)
	q.arrived = make(chan struct{})
}

func (q *queue) attrInt(name string) int {
	n, _ := strconv.Atoi(q.attrs[name])
	return n
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// send adds a message, receivable after delay (negative: the queue's).
func (q *queue) send(body string, now time.Time, delay time.Duration) (*message, error) {
	if body == "" {
		return nil, sqsErr("MissingParameter", "The request must contain the parameter MessageBody.")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if limit := q.attrInt("MaximumMessageSize"); len(body) > limit {
		return nil, sqsErr("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", limit)
	}
	if delay < 0 {
		delay = time.Duration(q.attrInt("DelaySeconds")) * time.Second
	}
	m := &message{ID: uuid(), Body: body, Sent: now, VisibleAt: now.Add(delay)}
	q.msgs = append(q.msgs, m)
	if err := q.save(); err != nil {
		q.msgs = q.msgs[:len(q.msgs)-1]
		return nil, err
	}
	q.wake()
	return m, nil
}

// receive takes up to max visible messages, hidden for visibility, and
// drops those past the retention period. It returns copies and, when
// none is visible, the time one next becomes so (zero: none will). The
// receive counts are saved: a message that crashes its reader must show
// it after a restart too.
func (q *queue) receive(max int, visibility time.Duration, now time.Time) ([]message, time.Time, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	retention := time.Duration(q.attrInt("MessageRetentionPeriod")) * time.Second
	var out []message
	var next time.Time
	kept := q.msgs[:0]
	for _, m := range q.msgs {
		if retention > 0 && now.Sub(m.Sent) > retention {
			continue
		}
		kept = append(kept, m)
		if m.VisibleAt.After(now) {
			if next.IsZero() || m.VisibleAt.Before(next) {
				next = m.VisibleAt
			}
			continue
		}
		if len(out) >= max {
			continue
		}
		m.Receives++
		if m.FirstReceive.IsZero() {
			m.FirstReceive = now
		}
		m.VisibleAt = now.Add(visibility)
		m.handle = m.ID + "." + newID(16)
		out = append(out, *m)
	}
	clear(q.msgs[len(kept):])
	q.msgs = kept
	if len(out) > 0 {
		if err := q.save(); err != nil {
			return nil, next, err
		}
	}
	return out, next, nil
}

// find returns the message a receipt handle names (nil: none).
func (q *queue) find(handle string) (*message, error) {
	id, _, ok := strings.Cut(handle, ".")
	if !ok || id == "" {
		return nil, sqsErr("ReceiptHandleIsInvalid", "The input receipt handle %q is not a valid receipt handle.", handle)
	}
	for _, m := range q.msgs {
		if m.ID == id {
			return m, nil
		}
	}
	return nil, nil
}

// remove deletes the message a handle names; one already gone is not an
// error (as in SQS, a delete may be repeated).
func (q *queue) remove(handle string) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, err := q.find(handle)
	if err != nil || m == nil {
		return err
	}
	i := indexOf(q.msgs, m)
	q.msgs = append(q.msgs[:i:i], q.msgs[i+1:]...)
	return q.save()
}

func indexOf(msgs []*message, m *message) int {
	for i, x := range msgs {
		if x == m {
			return i
		}
	}
	return -1
}

// changeVisibility hides an in-flight message for d from now (0: makes it
// visible again).
func (q *queue) changeVisibility(handle string, d time.Duration, now time.Time) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	m, err := q.find(handle)
	if err != nil {
		return err
	}
	if m == nil || !m.VisibleAt.After(now) || m.handle != handle {
		return sqsErr("MessageNotInflight", "The message referred to is not in flight.")
	}
	m.VisibleAt = now.Add(d)
	if d == 0 {
		q.wake()
	}
	return nil
}

func (q *queue) purge() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.msgs = nil
	return q.save()
}

// counts are the approximate numbers SQS reports.
func (q *queue) counts(now time.Time) (visible, inFlight, delayed int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, m := range q.msgs {
		switch {
		case !m.VisibleAt.After(now):
			visible++
		case m.Receives > 0:
			inFlight++
		default:
			delayed++
		}
	}
	return visible, inFlight, delayed
}

// uuid is a random version 4 UUID (SQS message IDs look like one).
func uuid() string {
	b, _ := hex.DecodeString(newID(16))
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// loadQueues reads the queues kept in Dir/sqs.
func (s *Server) loadQueues() error {
	dir := filepath.Join(s.cfg.Dir, "sqs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("localaws: creating the SQS directory: %w", err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("localaws: reading the queues: %w", err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		q, err := loadQueue(filepath.Join(dir, e.Name()), s.arnPrefix())
		if err != nil {
			return fmt.Errorf("localaws: reading a queue: %w", err)
		}
		s.queues[q.name] = q
	}
	return nil
}

func (s *Server) arnPrefix() string {
	return fmt.Sprintf("arn:aws:sqs:%s:%s:", s.cfg.Region, s.cfg.Account)
}

// queueByARN finds a queue by its ARN (nil: none).
func (s *Server) queueByARN(arn string) *queue {
	name, ok := strings.CutPrefix(arn, s.arnPrefix())
	if !ok {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.queues[name]
}

// queueByURL finds a queue by its URL: /ACCOUNT/NAME on any host, since
// one client may reach this server as localhost and another as 127.0.0.1.
func (s *Server) queueByURL(u string) (*queue, error) {
	i := strings.Index(u, "/"+s.cfg.Account+"/")
	if i < 0 {
		return nil, errNoQueue
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[u[i+len(s.cfg.Account)+2:]]; q != nil {
		return q, nil
	}
	return nil, errNoQueue
}

var errNoQueue = errors.New("no such queue")
