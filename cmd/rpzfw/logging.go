package main

import (
	"context"
	"log/slog"
	"os"
)

type loggerKey struct{}

// withLogger gives the commands run under ctx the logger run built; they
// pass it on to the packages they use, which never reach for a global one.
func withLogger(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, log)
}

// logger is the logger run built for this command, or slog.Default() for
// a command called without one.
func logger(ctx context.Context) *slog.Logger {
	if log, ok := ctx.Value(loggerKey{}).(*slog.Logger); ok {
		return log
	}
	return slog.Default()
}

// quietUnlessAsked raises log's level to warn when RPZFW_LOG_LEVEL is not
// set: commands whose output is for people (plan, explain, demo) print no
// routine INFO lines, while warnings (a source that could not be fetched)
// still show. RPZFW_LOG_LEVEL=info brings the INFO lines back.
func quietUnlessAsked(log *slog.Logger) *slog.Logger {
	if os.Getenv("RPZFW_LOG_LEVEL") != "" {
		return log
	}
	return slog.New(minLevel{h: log.Handler(), min: slog.LevelWarn})
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
