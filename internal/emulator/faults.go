package emulator

import (
	"math/rand/v2"
	"sync"
	"time"
)

// Faults are switched on per operation ("*" for all) with flags or the
// admin endpoint, so tests can change them while a client runs.
type Faults struct {
	// ThrottleRPS is the per-account request rate (token bucket, burst of
	// one second's worth); 0 turns throttling off.
	ThrottleRPS float64 `json:"throttle_rps"`
	// Ops holds per-operation faults, keyed by operation name or "*".
	Ops map[string]OpFault `json:"ops,omitempty"`
}

// OpFault is what goes wrong with one operation.
type OpFault struct {
	// ErrorRate is the chance (0..1) of an InternalServiceErrorException.
	ErrorRate float64 `json:"error_rate,omitempty"`
	// ErrorCount makes the next N calls fail with a 500.
	ErrorCount int `json:"error_count,omitempty"`
	// ThrottleCount makes the next N calls fail with ThrottlingException.
	ThrottleCount int `json:"throttle_count,omitempty"`
	// ConflictCount makes the next N calls fail with ConflictException, as
	// when another writer changed the resource a moment before.
	ConflictCount int `json:"conflict_count,omitempty"`
	// DenyCount makes the next N calls fail with AccessDeniedException, as
	// when the caller's policy lacks the action.
	DenyCount int `json:"deny_count,omitempty"`
	// Latency is added before the call is handled.
	Latency Duration `json:"latency,omitempty"`
	// FailImport makes ImportFirewallDomains end in COMPLETE_IMPORT_FAILED.
	FailImport bool `json:"fail_import,omitempty"`
}

// Duration is a time.Duration written as "150ms" in JSON.
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// faultState applies Faults.
type faultState struct {
	mu      sync.Mutex
	f       Faults
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (s *faultState) set(f Faults) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f = f
	s.buckets = map[string]*bucket{}
}

func (s *faultState) get() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f
}

// allow takes a token from the account's bucket.
func (s *faultState) allow(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	rate := s.f.ThrottleRPS
	if rate <= 0 {
		return true
	}
	now := s.now()
	b, ok := s.buckets[key]
	if !ok {
		b = &bucket{tokens: rate, last: now}
		s.buckets[key] = b
	}
	b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// before decides the fate of one call of op: extra latency, and an error
// to return instead of handling it.
func (s *faultState) before(op string) (time.Duration, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var latency time.Duration
	for _, key := range []string{"*", op} {
		f, ok := s.f.Ops[key]
		if !ok {
			continue
		}
		latency += time.Duration(f.Latency)
		switch {
		case f.DenyCount > 0:
			f.DenyCount--
			s.f.Ops[key] = f
			return latency, &apiError{Status: 400, Type: "AccessDeniedException", Message: "Injected denial: the caller is not authorized to perform " + op}
		case f.ThrottleCount > 0:
			f.ThrottleCount--
			s.f.Ops[key] = f
			return latency, throttled()
		case f.ConflictCount > 0:
			f.ConflictCount--
			s.f.Ops[key] = f
			return latency, conflict("Injected conflict: the resource is being changed by another request")
		case f.ErrorCount > 0:
			f.ErrorCount--
			s.f.Ops[key] = f
			return latency, internalErr("Injected failure")
		case f.ErrorRate > 0 && rand.Float64() < f.ErrorRate:
			return latency, internalErr("Injected failure")
		}
	}
	return latency, nil
}

func (s *faultState) failImport() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Ops["ImportFirewallDomains"].FailImport || s.f.Ops["*"].FailImport
}
