package fwsync

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
)

// Progress hears about each step of a sync.
type Progress interface {
	// Step reports step i of n, about to run.
	Step(i, n int, s Step)
	// Note reports something worth knowing.
	Note(msg string, args ...any)
}

// LogProgress writes structured logs (for services and pipes) to Log.
// Its zero value, which has no Log, writes to slog.Default(), as it did
// before it took one.
type LogProgress struct {
	Log *slog.Logger
}

func (p LogProgress) logger() *slog.Logger {
	if p.Log == nil {
		return slog.Default()
	}
	return p.Log
}

func (p LogProgress) Step(i, n int, s Step) {
	p.logger().Info("sync step", "step", i, "of", n, "phase", s.Phase, "do", s.Describe())
}

func (p LogProgress) Note(msg string, args ...any) { p.logger().Info(msg, args...) }

// TermProgress writes one line a step, for a person at a terminal.
type TermProgress struct {
	W  io.Writer
	mu sync.Mutex
}

func (p *TermProgress) Step(i, n int, s Step) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.W, "[%*d/%d] %-8s %s\n", len(fmt.Sprint(n)), i, n, s.Phase, s.Describe())
}

func (p *TermProgress) Note(msg string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	b.WriteString("note: " + msg)
	for i := 0; i+1 < len(args); i += 2 {
		fmt.Fprintf(&b, " %v=%v", args[i], args[i+1])
	}
	fmt.Fprintln(p.W, b.String())
}

// Describe says what a step does, as the API call it makes.
func (s Step) Describe() string {
	list := s.ListName
	if list == "" {
		list = s.List
	}
	switch s.Kind {
	case StepDeleteList:
		return "DeleteFirewallDomainList " + list
	case StepMoveRule:
		return fmt.Sprintf("UpdateFirewallRule %s priority=%d", list, s.Priority)
	case StepCreateList:
		return "CreateFirewallDomainList " + list
	case StepAdd:
		return fmt.Sprintf("UpdateFirewallDomains %s ADD %d domains (%s...)", list, len(s.Domains), s.Domains[0])
	case StepRemove:
		return fmt.Sprintf("UpdateFirewallDomains %s REMOVE %d domains (%s...)", list, len(s.Domains), s.Domains[0])
	case StepImport:
		return fmt.Sprintf("ImportFirewallDomains %s REPLACE %d domains from the staging bucket", list, len(s.Domains))
	case StepSettle:
		return "wait for " + list + " to be COMPLETE (GetFirewallDomainList)"
	case StepCreateRule:
		return fmt.Sprintf("CreateFirewallRule %q priority=%d %s list=%s", s.Spec.Name, s.Priority, s.Spec, list)
	case StepUpdateRule:
		return fmt.Sprintf("UpdateFirewallRule %s name=%q %s", list, s.Spec.Name, s.Spec)
	case StepDeleteRule:
		return "DeleteFirewallRule list=" + list
	}
	return "?"
}
