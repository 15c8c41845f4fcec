package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rpzfw/rpzfw/internal/fsutil"
)

// savedList is a domain list as written to the state file.
type savedList struct {
	domainList
	DomainSet []string `json:"Domains"`
}

type savedAccount struct {
	ID      string
	Region  string
	Lists   []savedList
	Groups  map[string]*ruleGroup
	Assocs  map[string]*association
	Configs map[string]*firewallConfig
	Tags    map[string]map[string]string
}

// saveDelay batches the writes of a burst of changes.
const saveDelay = 200 * time.Millisecond

func (e *Emulator) scheduleSave() {
	if e.statePath == "" || e.saveTimer != nil {
		return
	}
	e.saveTimer = time.AfterFunc(saveDelay, func() {
		e.mu.Lock()
		e.saveTimer = nil
		err := e.saveLocked()
		e.mu.Unlock()
		if err != nil {
			e.log.Error("saving emulator state", "path", e.statePath, "err", err)
		}
	})
}

// Save writes the state now (StatePath must be set).
func (e *Emulator) Save() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.saveLocked()
}

func (e *Emulator) saveLocked() error {
	if e.statePath == "" {
		return nil
	}
	var out []savedAccount
	for _, a := range e.accounts {
		sa := savedAccount{ID: a.ID, Region: a.Region, Groups: a.Groups, Assocs: a.Assocs, Configs: a.Configs, Tags: a.Tags}
		for _, l := range a.Lists {
			sa.Lists = append(sa.Lists, savedList{domainList: *l, DomainSet: l.sortedDomains()})
		}
		out = append(out, sa)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	if err := fsutil.WriteAtomic(e.statePath, b); err != nil {
		return fmt.Errorf("saving emulator state: %w", err)
	}
	return nil
}

func (e *Emulator) load() error {
	b, err := os.ReadFile(e.statePath)
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(filepath.Dir(e.statePath), 0o700)
	}
	if err != nil {
		return fmt.Errorf("reading emulator state: %w", err)
	}
	var in []savedAccount
	if err := json.Unmarshal(b, &in); err != nil {
		return fmt.Errorf("emulator state %s is not valid: %w", e.statePath, err)
	}
	for _, sa := range in {
		a := e.account(sa.ID, sa.Region)
		for _, sl := range sa.Lists {
			l := sl.domainList
			l.Domains = make(map[string]struct{}, len(sl.DomainSet))
			for _, d := range sl.DomainSet {
				l.Domains[d] = struct{}{}
			}
			a.Lists[l.ID] = &l
		}
		for k, v := range sa.Groups {
			a.Groups[k] = v
		}
		for k, v := range sa.Assocs {
			a.Assocs[k] = v
		}
		for k, v := range sa.Configs {
			a.Configs[k] = v
		}
		for k, v := range sa.Tags {
			a.Tags[k] = v
		}
	}
	e.version++
	return nil
}
