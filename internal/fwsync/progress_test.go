package fwsync

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// LogProgress writes to the logger it is given; its zero value still
// writes to the default logger; a Syncer without Progress logs to
// Config.Log.
func TestLogProgressTakesItsLogger(t *testing.T) {
	var mine, global bytes.Buffer
	old := slog.Default()
	t.Cleanup(func() { slog.SetDefault(old) })
	slog.SetDefault(slog.New(slog.NewTextHandler(&global, nil)))

	LogProgress{Log: slog.New(slog.NewTextHandler(&mine, nil))}.Note("injected", "k", 1)
	LogProgress{}.Step(1, 2, Step{Kind: StepSettle, Phase: PhaseAdd, List: "L"})
	if !strings.Contains(mine.String(), "msg=injected k=1") || strings.Contains(global.String(), "injected") {
		t.Errorf("a note went to %q, the default logger got %q", mine.String(), global.String())
	}
	if !strings.Contains(global.String(), `msg="sync step" step=1 of=2 phase=add`) {
		t.Errorf("the zero value wrote %q to the default logger", global.String())
	}

	mine.Reset()
	s, err := New(nil, nil, nil, nil, Config{RuleGroupID: "g", Log: slog.New(slog.NewTextHandler(&mine, nil))})
	if err != nil {
		t.Fatal(err)
	}
	s.cfg.Progress.Note("from the syncer")
	if !strings.Contains(mine.String(), "from the syncer") {
		t.Errorf("Config.Log got %q", mine.String())
	}
}
