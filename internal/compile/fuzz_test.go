package compile

import (
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/rpz"
)

// FuzzCompile feeds arbitrary zone pairs through the compiler and checks the
// plan against the reference for every name the zones mention, their
// ancestors and a child of each.
func FuzzCompile(f *testing.F) {
	f.Add("*.a.test CNAME .\nb.a.test CNAME rpz-passthru.\n", "c.b.a.test CNAME *.\n", false)
	f.Add("* CNAME .\nx CNAME garden.\n", "*.y.x CNAME rpz-passthru.\n", true)
	f.Fuzz(func(t *testing.T, z1, z2 string, monitor bool) {
		inputs := []input{zone("$TTL 60\n" + z1), zone("$TTL 60\n" + z2)}
		p, ref, err := tryBuild(Settings{MonitorOnly: monitor}, inputs...)
		if err != nil {
			return // unparsable or conflicting zones are errors, which is fine
		}
		var names []string
		for i, in := range inputs {
			_, _ = rpz.ReadZone(strings.NewReader(in.text), rpz.ZoneOptions{File: "f", Origin: []string{"rpz1", "rpz2"}[i]}, func(r rpz.Record) error {
				// The root itself and names with a literal "*" label are
				// left out (README, limits): no entry can carve the root out
				// of "*", and the wildcard's own node is not a host name.
				if r.Trigger != rpz.TriggerQName || strings.Contains(r.Name, "*") {
					return nil
				}
				for n := r.Name; n != ""; n = parentName(n) {
					names = append(names, n, "x."+n)
				}
				names = append(names, "x")
				return nil
			})
		}
		checkAgree(t, p, ref, monitor, names)
	})
}
