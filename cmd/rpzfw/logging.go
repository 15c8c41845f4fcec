package main

import (
	"context"
	"log/slog"
	"os"
)

// quietUnlessAsked raises the log level to warn when RPZFW_LOG_LEVEL is not
// set: commands whose output is for people (plan, explain, demo) print no
// routine INFO lines, while warnings (a source that could not be fetched)
// still show. RPZFW_LOG_LEVEL=info brings the INFO lines back.
func quietUnlessAsked() {
	if os.Getenv("RPZFW_LOG_LEVEL") != "" {
		return
	}
	slog.SetDefault(slog.New(minLevel{h: slog.Default().Handler(), min: slog.LevelWarn}))
}

// minLevel drops records below min before they reach h.
type minLevel struct {
	h   slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}

func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h: m.h.WithAttrs(as), min: m.min}
}

func (m minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h: m.h.WithGroup(name), min: m.min}
}
