package compile

import (
	"errors"
	"strings"
	"testing"
)

// A plan that blocks every name is reported, and refused for deployment
// unless allowed.
func TestBlockAll(t *testing.T) {
	for _, tc := range []struct {
		name    string
		inputs  []input
		monitor bool
		want    string // "source line N", "" when nothing blocks everything
	}{
		{"list holding *", []input{{name: "block", kind: KindList, text: "a.example\n*\n"}}, false, "block line 2"},
		{"apex wildcard in a zone", []input{{name: "feed", kind: KindZone, text: "ok.example CNAME rpz-passthru.\n* CNAME .\n"}}, false, "feed line 2"},
		{"apex wildcard as NODATA", []input{{name: "feed", kind: KindZone, text: "* CNAME *.\n"}}, false, "feed line 1"},
		{"wildcard below the apex", []input{{name: "feed", kind: KindZone, text: "*.example CNAME .\n"}}, false, ""},
		{"allow list holding *", []input{{name: "allow", kind: KindList, allow: true, text: "*\n"}}, false, ""},
		{"monitor-only", []input{{name: "block", kind: KindList, text: "*\n"}}, true, ""},
	} {
		p, _ := build(t, Settings{MonitorOnly: tc.monitor}, tc.inputs...)
		var sum strings.Builder
		p.WriteSummary(&sum)
		err := p.CheckBlockAll(false)
		if tc.want == "" {
			if p.BlockAll != nil || err != nil || strings.Contains(sum.String(), "WARNING") {
				t.Errorf("%s: reported %+v, %v", tc.name, p.BlockAll, err)
			}
			continue
		}
		if p.BlockAll == nil || !strings.Contains(p.BlockAll.String(), tc.want) {
			t.Errorf("%s: BlockAll %v, want it from %s", tc.name, p.BlockAll, tc.want)
			continue
		}
		if !errors.Is(err, ErrBlockAll) || !strings.Contains(err.Error(), "--allow-block-all") || !strings.Contains(err.Error(), "allow_block_all: true") {
			t.Errorf("%s: refusal %v", tc.name, err)
		}
		if err := p.CheckBlockAll(true); err != nil {
			t.Errorf("%s: allowed, still refused: %v", tc.name, err)
		}
		if !strings.Contains(sum.String(), "WARNING: rule "+p.BlockAll.Rule+" blocks every name") {
			t.Errorf("%s: the summary does not warn:\n%s", tc.name, sum.String())
		}
	}
}
