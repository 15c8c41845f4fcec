package scheduler

import (
	"errors"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/secret"
)

// Class says what a failed sync waits for.
type Class string

const (
	// Soft errors may go away by themselves (throttling, 5xx, conflicts,
	// timeouts, the network, a source that could not be fetched): the
	// device is retried with backoff.
	Soft Class = "soft"
	// Hard errors need a person (access denied, a missing rule group, a
	// quota, a foreign rule in the band, the shrink guard, a policy that
	// does not compile): the device waits for a change or "sync now".
	Hard Class = "hard"
)

// hardSentinels are the errors no retry can fix (sync's also come as
// *fwsync.HardError).
var hardSentinels = []error{
	fwsync.ErrForeignRule, fwsync.ErrBand, fwsync.ErrShrink, fwsync.ErrQuota, fwsync.ErrRuleGroupNotFound,
	compile.ErrBlockAll, device.ErrConfig, device.ErrPolicy, secret.ErrWrongKey,
}

// Classify says whether err is soft or hard. Errors it does not know are
// soft: a retry with backoff costs little, and a wait for a person that
// was not needed costs a firewall that falls behind.
func Classify(err error) Class {
	for _, s := range hardSentinels {
		if errors.Is(err, s) {
			return Hard
		}
	}
	if errors.Is(err, device.ErrFeedUnavailable) {
		return Soft
	}
	// Sync's typed errors, and AWS's typed exceptions from other calls.
	if fwsync.KindOf(err) == fwsync.Hard {
		return Hard
	}
	return Soft
}

// backoff is the wait before soft retry n (1, 2, ...): min doubled each
// time up to max, with equal jitter (half fixed, half random by rnd in
// [0,1)) so that devices failing together do not retry together.
func backoff(n int, min, max time.Duration, rnd func() float64) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = minDuration(d, max)
	return d/2 + time.Duration(rnd()*float64(d/2))
}

func minDuration(a, b time.Duration) time.Duration {
	if a < b {
		return a
	}
	return b
}
