package device

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"log/slog"
	"sync"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/policy"
)

// maxMemo bounds the plans a Loaded keeps: one per distinct settings
// (devices sharing a policy mostly share settings too).
const maxMemo = 32

// Loaded is a policy read once into a compile.Builder, ready to compile
// for any device's settings. Compile may be called from several
// goroutines; plans are kept by settings until the policy is read again,
// and must not be changed by their users.
type Loaded struct {
	// AllowBlockAll lets a plan that blocks every name through (the
	// policy's allow_block_all; the command line may add its flag).
	AllowBlockAll bool

	mu    sync.Mutex
	b     *compile.Builder
	plans map[compile.Settings]*compile.Plan
}

// LoadPolicy reads every source of p through open (nil: files only),
// logging what it read to log. A source without a good copy is
// ErrFeedUnavailable; any other problem is ErrPolicy. Errors keep the
// policy reader's words (file, line and what is wrong).
func LoadPolicy(ctx context.Context, p policy.Policy, open policy.Opener, log *slog.Logger) (*Loaded, error) {
	b := compile.NewBuilder()
	if open != nil {
		open = feedOpener{open}
	}
	if err := p.LoadWith(ctx, b, open, log); err != nil {
		if ctx.Err() != nil || errors.Is(err, ErrFeedUnavailable) {
			return nil, err
		}
		return nil, mark(ErrPolicy, err)
	}
	return &Loaded{AllowBlockAll: p.AllowBlockAll, b: b, plans: map[compile.Settings]*compile.Plan{}}, nil
}

// feedOpener marks a source that cannot be opened as unavailable: its
// fetch failed or never ran, which a later fetch may mend.
type feedOpener struct{ policy.Opener }

func (o feedOpener) Open(ctx context.Context, s policy.SourceSpec) (io.ReadCloser, error) {
	rc, err := o.Opener.Open(ctx, s)
	if err != nil {
		return nil, mark(ErrFeedUnavailable, err)
	}
	return rc, nil
}

// Compile compiles for s. A plan that blocks every name is refused
// (compile.ErrBlockAll) unless AllowBlockAll; other failures are
// ErrPolicy.
func (l *Loaded) Compile(s compile.Settings) (*compile.Plan, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	p, ok := l.plans[s]
	if !ok {
		var err error
		if p, err = l.b.Compile(s); err != nil {
			return nil, mark(ErrPolicy, err)
		}
		if len(l.plans) >= maxMemo {
			clear(l.plans)
		}
		l.plans[s] = p
	}
	if err := p.CheckBlockAll(l.AllowBlockAll); err != nil {
		return nil, err
	}
	return p, nil
}

// CompileFunc compiles for s with fwsync's limit on the domains.
func (l *Loaded) CompileFunc(s compile.Settings) fwsync.CompileFunc {
	return func(maxDomains int) (*compile.Plan, error) {
		s := s
		s.MaxDomains = maxDomains
		return l.Compile(s)
	}
}

// PlanHash is a SHA-256 over what a plan puts in a rule group: each
// rule's name, priority, action, block response and override, and its
// domains, in order. Equal plans have equal hashes in every process and
// version that keeps this encoding.
func PlanHash(p *compile.Plan) string {
	h := sha256.New()
	for _, r := range p.Rules {
		field(h, r.Name)
		num(h, int64(r.Priority))
		field(h, r.Action)
		field(h, deref(r.BlockResponse))
		field(h, deref(r.BlockOverrideDomain))
		field(h, deref(r.BlockOverrideDnsType))
		ttl := int64(-1)
		if r.BlockOverrideTtl != nil {
			ttl = int64(*r.BlockOverrideTtl)
		}
		num(h, ttl)
		field(h, r.Qtype)
		num(h, int64(len(r.Domains)))
		for _, d := range r.Domains {
			field(h, d)
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// field writes s with its length, so that no two sequences of fields
// encode alike.
func field(h hash.Hash, s string) {
	num(h, int64(len(s)))
	_, _ = io.WriteString(h, s)
}

func num(h hash.Hash, n int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	_, _ = h.Write(b[:])
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
