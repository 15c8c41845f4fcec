package service

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDashboardNamesExportedMetrics: every metric the Grafana dashboard
// (deploy/grafana/rpzfw.json) queries is one a running service registers,
// so a renamed metric cannot leave a panel silently empty.
func TestDashboardNamesExportedMetrics(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "grafana", "rpzfw.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	svc := startSandboxService(t, t.TempDir(), nil)
	defer stopService(t, svc)
	names := svc.reg.metricNames()
	if !slices.Contains(names, "rpzfw_scheduler_syncs_total") {
		t.Fatalf("the registry's names lack the scheduler's: %v", names)
	}
	metric := regexp.MustCompile(`\brpzfw_[a-z0-9_]+`)
	used := 0
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			for _, m := range metric.FindAllString(tg.Expr, -1) {
				used++
				base := m
				for _, suf := range []string{"_bucket", "_sum", "_count"} {
					if b, ok := strings.CutSuffix(m, suf); ok && slices.Contains(names, b) {
						base = b
					}
				}
				if !slices.Contains(names, base) {
					t.Errorf("panel %q queries %s, which the service does not export", p.Title, m)
				}
			}
		}
	}
	if used < 10 {
		t.Fatalf("found %d metric names in the dashboard: the test reads it wrong", used)
	}
}
