package feed

import (
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/policy"
)

// The refresh schedule follows the zone's SOA: refresh after a success,
// retry after a failure; a configured refresh wins when fetching works.
func TestInterval(t *testing.T) {
	zt := policy.SourceSpec{Name: "z", Kind: policy.KindZoneTransfer}
	m, _ := NewManager(t.TempDir(), policy.Policy{Sources: []policy.SourceSpec{zt}})
	if err := m.saveStatus(Status{Name: "z", Refresh: 20 * time.Minute, Retry: 3 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		src    policy.SourceSpec
		failed bool
		want   time.Duration
	}{
		{zt, false, 20 * time.Minute},
		{zt, true, 3 * time.Minute},
		{policy.SourceSpec{Name: "z", Kind: policy.KindZoneTransfer, Refresh: time.Minute}, false, time.Minute},
		{policy.SourceSpec{Name: "f", Kind: policy.KindFile}, false, time.Minute},
		{policy.SourceSpec{Name: "h", Kind: policy.KindHTTPS}, false, time.Hour},
		{policy.SourceSpec{Name: "h", Kind: policy.KindHTTPS}, true, 5 * time.Minute},
	}
	for _, tc := range tests {
		if got := m.interval(tc.src, tc.failed); got != tc.want {
			t.Errorf("%s %s failed=%v: %s, want %s", tc.src.Kind, tc.src.Name, tc.failed, got, tc.want)
		}
	}
}
