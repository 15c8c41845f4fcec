package querylog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/compile"
	"github.com/rpzfw/rpzfw/internal/dnsfw"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// SourceCarveOut names the source of entries no record asked for (they
// undo a broader entry); such ALLOW entries leave no trace in the logs and
// are not recorded.
const SourceCarveOut = "carve-out"

// Fingerprint identifies what a sync leaves deployed: the plan's entries
// with their provenance and the lists rpzfw holds (IDs and sizes). It
// needs no list content, so an unchanged sync costs no reads.
func Fingerprint(planHash string, p *compile.Plan, st *fwsync.State) string {
	h := sha256.New()
	fmt.Fprintf(h, "plan %s\n", planHash)
	for _, e := range planEntries(p) {
		fmt.Fprintf(h, "%s\t%s\t%s\t%d\n", e.Domain, e.Rule, e.Source, e.Line)
	}
	for _, id := range listIDs(st) {
		fmt.Fprintf(h, "list %s %d\n", id, st.Lists[id].Count)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func listIDs(st *fwsync.State) []string {
	if st == nil {
		return nil
	}
	ids := make([]string, 0, len(st.Lists))
	for id := range st.Lists {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// planEntries lists the entries of the plan's ALERT and BLOCK rules with
// their provenance, sorted by domain.
func planEntries(p *compile.Plan) []store.PlanEntry {
	if p == nil {
		return nil
	}
	var out []store.PlanEntry
	for i, r := range p.Rules {
		if r.Action == dnsfw.ActionAllow {
			continue
		}
		for j, d := range r.Domains {
			e := store.PlanEntry{Domain: d, Rule: r.Name, Source: SourceCarveOut}
			if i < len(p.Origins) && j < len(p.Origins[i]) {
				if o := p.Origins[i][j]; o.Source >= 0 && o.Source < len(p.Sources) {
					e.Source, e.Line = p.Sources[o.Source], o.Line
				}
			}
			out = append(out, e)
		}
	}
	slices.SortFunc(out, func(a, b store.PlanEntry) int { return strings.Compare(a.Domain, b.Domain) })
	return out
}

// BuildDeployment is what a device's rule group holds after a sync of p:
// each entry with its provenance, and for each of rpzfw's lists (domains
// maps list IDs to their content, as fwsync saved it) the plan rule whose
// domains it holds. A list with no domain of the plan is left out.
func BuildDeployment(planHash string, p *compile.Plan, st *fwsync.State, domains map[string][]string) store.Deployment {
	entries := planEntries(p)
	ruleOf := make(map[string]string, len(entries))
	for _, e := range entries {
		ruleOf[e.Domain] = e.Rule
	}
	d := store.Deployment{PlanHash: planHash, Fingerprint: Fingerprint(planHash, p, st), Entries: entries}
	for _, id := range listIDs(st) {
		for _, dom := range domains[id] {
			if rule, ok := ruleOf[strings.TrimSuffix(strings.ToLower(dom), ".")]; ok {
				d.Lists = append(d.Lists, store.DeployedList{ListID: id, Rule: rule})
				break
			}
		}
	}
	return d
}

// RecordSync records what a device's rule group holds after a successful
// sync, so that its hits are attributed to the plan deployed at their
// time: the scheduler calls it with the plan it deployed, the plan's hash
// and the device's fwsync state store. When the fingerprint is the one
// recorded it reads nothing more and writes nothing.
func RecordSync(ctx context.Context, s store.Deployments, deviceID int64, at time.Time, planHash string, p *compile.Plan, ss fwsync.StateStore) error {
	st, err := ss.Load(ctx)
	if err != nil {
		return fmt.Errorf("recording the deployment for log attribution: %w", err)
	}
	cur, err := s.CurrentFingerprint(ctx, deviceID)
	if err != nil {
		return err
	}
	if cur == Fingerprint(planHash, p, st) {
		return nil
	}
	domains := make(map[string][]string, len(st.Lists))
	for id := range st.Lists {
		doms, err := ss.LoadDomains(ctx, id)
		if err != nil {
			continue // not saved (a list read back later): left out
		}
		domains[id] = doms
	}
	return s.RecordDeployment(ctx, deviceID, at, BuildDeployment(planHash, p, st, domains))
}
