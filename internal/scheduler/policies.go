package scheduler

import "github.com/rpzfw/rpzfw/internal/device"

// Policies are the policies the scheduler's syncs read, with their feed
// managers: the API shows and accepts their sources and explains names
// through them, so a page sees what the next sync compiles.
func (s *Scheduler) Policies() *device.Policies { return s.policies }
