package compile

import (
	"math"
	"strings"
	"testing"
)

// Rule priorities are int32 in the API: a plan whose priorities do not fit
// is refused before anything is deployed.
func TestPriorityRange(t *testing.T) {
	z := zone("*.a.example CNAME .\nb.a.example CNAME rpz-passthru.\nc.example CNAME *.\n")
	for _, tc := range []struct {
		first, step int
		wantErr     string
	}{
		{100, 100, ""},
		{math.MaxInt32 - 300, 100, ""},
		{math.MaxInt32 - 299, 100, "above 2147483647"},
		{math.MaxInt32 + 1, 1, "at most 2147483647"},
		{1, math.MaxInt32 + 1, "at most 2147483647"},
		{1, math.MaxInt32 / 2, "above 2147483647"},
	} {
		p, _, err := tryBuild(Settings{FirstPriority: tc.first, PriorityStep: tc.step}, z)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("first %d step %d: %v", tc.first, tc.step, err)
			} else if last := p.Rules[len(p.Rules)-1].Priority; len(p.Rules) != 4 || last > math.MaxInt32 {
				t.Errorf("first %d step %d: %d rules, last priority %d", tc.first, tc.step, len(p.Rules), last)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("first %d step %d: err %v, want %q", tc.first, tc.step, err, tc.wantErr)
		}
	}
}
