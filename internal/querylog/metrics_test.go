package querylog

import (
	"fmt"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestFeedLabelCapped: source names get labels of their own up to
// maxFeedLabels, later ones share "other", and a hit without a source is
// "unknown".
func TestFeedLabelCapped(t *testing.T) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	for i := range maxFeedLabels {
		if got := m.feedLabel(fmt.Sprintf("feed-%d", i)); got != fmt.Sprintf("feed-%d", i) {
			t.Fatalf("source %d labelled %q", i, got)
		}
	}
	tests := []struct{ source, want string }{
		{"feed-0", "feed-0"},
		{"one-too-many", "other"},
		{"", "unknown"},
		{fmt.Sprintf("feed-%d", maxFeedLabels-1), fmt.Sprintf("feed-%d", maxFeedLabels-1)},
	}
	for _, tc := range tests {
		if got := m.feedLabel(tc.source); got != tc.want {
			t.Errorf("feedLabel(%q) = %q, want %q", tc.source, got, tc.want)
		}
	}
}
