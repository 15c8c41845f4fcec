package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// at is a fixed time with nanoseconds, so that a store rounding times
// shows.
func at(minute int) time.Time {
	return time.Date(2030, 1, 2, 3, 0, 5, 123456789, time.UTC).Add(time.Duration(minute) * time.Minute)
}

// deviceIn creates an org, a policy and a device in a fresh store.
func deviceIn(t *testing.T, s store.Store, org string) store.Device {
	t.Helper()
	o := mustOrg(t, s, org)
	mustPolicy(t, s, o.ID, "p")
	return mustDevice(t, s, o.ID, "fw", "p")
}

// sameStatus compares statuses field by field, times with Equal; the
// store sets UpdatedAt, so it is only checked to be set.
func sameStatus(t *testing.T, what string, got, want store.Status) {
	t.Helper()
	if got.UpdatedAt.IsZero() {
		t.Errorf("%s: UpdatedAt not set", what)
	}
	for _, p := range []struct {
		name      string
		got, want time.Time
	}{
		{"NextAttempt", got.NextAttempt, want.NextAttempt},
		{"PolicyUpdatedAt", got.PolicyUpdatedAt, want.PolicyUpdatedAt},
		{"LastSyncAt", got.LastSyncAt, want.LastSyncAt},
		{"LastLogRetrieved", got.LastLogRetrieved, want.LastLogRetrieved},
	} {
		if !p.got.Equal(p.want) {
			t.Errorf("%s: %s = %v, want %v", what, p.name, p.got, p.want)
		}
	}
	got.NextAttempt, got.PolicyUpdatedAt, got.LastSyncAt, got.LastLogRetrieved, got.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	want.NextAttempt, want.PolicyUpdatedAt, want.LastSyncAt, want.LastLogRetrieved, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
	// No VPCs reads back as an empty list or nil alike.
	if len(got.VPCs) == 0 && len(want.VPCs) == 0 {
		got.VPCs, want.VPCs = nil, nil
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testStatus(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "a")
	o, _ := s.OrgByName(ctx, "a")
	d2 := mustDevice(t, s, o.ID, "fw2", "p")

	_, err := s.GetStatus(ctx, d2.ID+1000)
	wantErr(t, "GetStatus of an unknown device", err, store.ErrNotFound)
	got, err := s.GetStatus(ctx, d.ID)
	wantErr(t, "GetStatus before any", err, nil)
	if !reflect.DeepEqual(got, store.Status{DeviceID: d.ID, State: store.StatePending}) {
		t.Errorf("GetStatus before any = %+v, want a pending one", got)
	}

	full := store.Status{
		DeviceID: d.ID, State: store.StateError, Error: "AccessDenied: not allowed", ErrorHard: true,
		SyncRequested: true, Retries: 3, NextAttempt: at(10), PolicyUpdatedAt: at(1),
		PlanHash: "sha256:abc", PlanDomains: 12345, PlanTruncated: 7, Plan: []byte(`{"lists":2}`),
		SyncedGeneration: 4, SyncedPolicyVersion: 9, LastSyncAt: at(2), LastSyncResult: store.ResultError,
		LastLogRetrieved: at(3), VPCs: []string{"vpc-1", "vpc-2"},
	}
	wantErr(t, "PutStatus", s.PutStatus(ctx, full), nil)
	got, err = s.GetStatus(ctx, d.ID)
	wantErr(t, "GetStatus", err, nil)
	sameStatus(t, "after PutStatus", got, full)

	// A second put replaces every field, including with empty ones.
	second := store.Status{DeviceID: d.ID, State: store.StateInSync, LastSyncAt: at(5), LastSyncResult: store.ResultOK}
	wantErr(t, "PutStatus again", s.PutStatus(ctx, second), nil)
	got, err = s.GetStatus(ctx, d.ID)
	wantErr(t, "GetStatus", err, nil)
	sameStatus(t, "after a second PutStatus", got, second)
	if got.Plan != nil {
		t.Errorf("Plan = %q after a put without one, want nil", got.Plan)
	}

	// RequestSync lifts a hard error's wait and keeps the rest.
	hard := full
	hard.SyncRequested = false
	wantErr(t, "PutStatus", s.PutStatus(ctx, hard), nil)
	wantErr(t, "RequestSync", s.RequestSync(ctx, d.ID), nil)
	got, err = s.GetStatus(ctx, d.ID)
	wantErr(t, "GetStatus", err, nil)
	hard.SyncRequested, hard.ErrorHard = true, false
	sameStatus(t, "after RequestSync", got, hard)

	// RequestSync of a device without a status makes a pending one.
	wantErr(t, "RequestSync without a status", s.RequestSync(ctx, d2.ID), nil)
	got, err = s.GetStatus(ctx, d2.ID)
	wantErr(t, "GetStatus", err, nil)
	if got.DeviceID != d2.ID || got.State != store.StatePending || !got.SyncRequested || got.ErrorHard {
		t.Errorf("after RequestSync without a status: %+v", got)
	}

	wantErr(t, "RequestSync of an unknown device", s.RequestSync(ctx, d2.ID+1000), store.ErrNotFound)
	wantErr(t, "PutStatus of an unknown device", s.PutStatus(ctx, store.Status{DeviceID: d2.ID + 1000, State: store.StatePending}), store.ErrNotFound)
}

func testRuns(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "a")
	o, _ := s.OrgByName(ctx, "a")
	other := mustDevice(t, s, o.ID, "other", "p")

	var added []store.SyncRun
	for i := range 5 {
		r, err := s.AddRun(ctx, store.SyncRun{
			DeviceID: d.ID, Trigger: "policy", StartedAt: at(i), Took: time.Duration(i+1) * 1500 * time.Millisecond,
			Result: store.ResultOK, Error: fmt.Sprint("e", i), PlanHash: fmt.Sprint("h", i),
			Calls: map[string]int{"CreateFirewallDomainList": i, "ImportFirewallDomains": 2 * i},
			Added: 10 * i, Removed: i, UpdatesLowerBound: 3 * i, CallsFloor: 7*i + 2, Instance: "host-1",
		})
		wantErr(t, "AddRun", err, nil)
		if r.ID == 0 {
			t.Fatalf("AddRun gave no ID: %+v", r)
		}
		added = append(added, r)
	}
	// Two runs that started at the same time list the later added first.
	tie, err := s.AddRun(ctx, store.SyncRun{DeviceID: d.ID, Trigger: "manual", StartedAt: at(4), Result: store.ResultUnchanged})
	wantErr(t, "AddRun", err, nil)
	_, err = s.AddRun(ctx, store.SyncRun{DeviceID: other.ID, Trigger: "start", StartedAt: at(9), Result: store.ResultOK})
	wantErr(t, "AddRun of the other device", err, nil)
	_, err = s.AddRun(ctx, store.SyncRun{DeviceID: other.ID + 1000, Trigger: "start", StartedAt: at(9), Result: store.ResultOK})
	wantErr(t, "AddRun of an unknown device", err, store.ErrNotFound)

	wantOrder := []store.SyncRun{tie, added[4], added[3], added[2], added[1], added[0]}
	for _, c := range []struct {
		limit int
		want  []store.SyncRun
	}{{0, wantOrder}, {100, wantOrder}, {2, wantOrder[:2]}, {1, wantOrder[:1]}} {
		runs, err := s.ListRuns(ctx, d.ID, c.limit)
		wantErr(t, "ListRuns", err, nil)
		if len(runs) != len(c.want) {
			t.Fatalf("ListRuns(limit %d) gave %d runs, want %d", c.limit, len(runs), len(c.want))
		}
		for i := range runs {
			got, want := runs[i], c.want[i]
			if !got.StartedAt.Equal(want.StartedAt) {
				t.Errorf("ListRuns(limit %d)[%d].StartedAt = %v, want %v", c.limit, i, got.StartedAt, want.StartedAt)
			}
			got.StartedAt, want.StartedAt = time.Time{}, time.Time{}
			if len(got.Calls) == 0 && len(want.Calls) == 0 {
				got.Calls, want.Calls = nil, nil
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("ListRuns(limit %d)[%d]:\n got %+v\nwant %+v", c.limit, i, got, want)
			}
		}
	}
	runs, err := s.ListRuns(ctx, other.ID, 0)
	wantErr(t, "ListRuns of the other device", err, nil)
	if len(runs) != 1 || runs[0].DeviceID != other.ID {
		t.Errorf("ListRuns of the other device = %+v", runs)
	}
	_, err = s.ListRuns(ctx, other.ID+1000, 0)
	wantErr(t, "ListRuns of an unknown device", err, store.ErrNotFound)
}

func testRunsLimit(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "a")
	runs, err := s.ListRuns(ctx, d.ID, 10)
	wantErr(t, "ListRuns before any", err, nil)
	if len(runs) != 0 {
		t.Fatalf("ListRuns before any = %+v", runs)
	}
	const n = 1003
	for i := range n {
		if _, err := s.AddRun(ctx, store.SyncRun{DeviceID: d.ID, Trigger: "retry", StartedAt: at(0).Add(time.Duration(i) * time.Second), Result: store.ResultOK}); err != nil {
			t.Fatalf("AddRun %d: %v", i, err)
		}
	}
	for _, limit := range []int{0, -1, 1000, 1001, 5000} {
		runs, err := s.ListRuns(ctx, d.ID, limit)
		wantErr(t, "ListRuns", err, nil)
		if len(runs) != 1000 {
			t.Errorf("ListRuns(limit %d) gave %d runs, want 1000 (the cap)", limit, len(runs))
			continue
		}
		if !runs[0].StartedAt.Equal(at(0).Add((n-1)*time.Second)) || !runs[999].StartedAt.Equal(at(0).Add((n-1000)*time.Second)) {
			t.Errorf("ListRuns(limit %d) gave runs from %v to %v, want the newest 1000", limit, runs[0].StartedAt, runs[999].StartedAt)
		}
	}
}

func testSyncState(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "a")
	o, _ := s.OrgByName(ctx, "a")
	other := mustDevice(t, s, o.ID, "other", "p")
	ss := s.SyncState(d.ID)

	st, err := ss.Load(ctx)
	wantErr(t, "Load before any", err, nil)
	if st == nil || st.Lists == nil || len(st.Lists) != 0 || st.NextSlot != 0 || st.Others != nil {
		t.Fatalf("Load before any = %+v, want an empty state with a Lists map", st)
	}

	want := &fwsync.State{
		Device: "fw", RuleGroupID: "rslvr-frg-1",
		Lists: map[string]*fwsync.ListRecord{
			"rslvr-fdl-1": {ID: "rslvr-fdl-1", Name: "rpzfw-fw-1", Count: 3},
			"rslvr-fdl-2": {ID: "rslvr-fdl-2", Name: "rpzfw-fw-2", Count: 0, Dirty: true},
		},
		NextSlot: 3,
		Others:   &fwsync.OthersCount{Lists: "rslvr-fdl-9", Domains: 42, At: at(7)},
	}
	wantErr(t, "Save", ss.Save(ctx, want), nil)
	st, err = ss.Load(ctx)
	wantErr(t, "Load", err, nil)
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Load:\n got %+v\nwant %+v", st, want)
	}
	want.NextSlot, want.Others = 4, nil
	delete(want.Lists, "rslvr-fdl-2")
	wantErr(t, "Save again", ss.Save(ctx, want), nil)
	st, err = ss.Load(ctx)
	wantErr(t, "Load", err, nil)
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Load after a second Save:\n got %+v\nwant %+v", st, want)
	}
	if st, err := s.SyncState(other.ID).Load(ctx); err != nil || len(st.Lists) != 0 {
		t.Errorf("another device's state = %+v, %v; want it empty", st, err)
	}
	wantErr(t, "Save of an unknown device", s.SyncState(other.ID+1000).Save(ctx, want), store.ErrNotFound)

	for _, c := range []struct {
		name    string
		domains []string
	}{
		{"three", []string{"a.example.", "*.b.example.", "c.example."}},
		{"replaced by one", []string{"x.example."}},
		{"empty", nil},
		{"with an empty line", []string{"a.", "", "b."}},
	} {
		wantErr(t, c.name+": SaveDomains", ss.SaveDomains(ctx, "rslvr-fdl-1", c.domains), nil)
		got, err := ss.LoadDomains(ctx, "rslvr-fdl-1")
		wantErr(t, c.name+": LoadDomains", err, nil)
		if len(got) != len(c.domains) || (len(got) > 0 && !reflect.DeepEqual(got, c.domains)) {
			t.Errorf("%s: LoadDomains = %q, want %q", c.name, got, c.domains)
		}
	}
	if err := ss.SaveDomains(ctx, "rslvr-fdl-1", []string{"a.\nb."}); err == nil {
		t.Error("SaveDomains took a domain with a line break")
	}
	wantErr(t, "SaveDomains", ss.SaveDomains(ctx, "rslvr-fdl-1", []string{"kept."}), nil)
	if _, err := ss.LoadDomains(ctx, "rslvr-fdl-unknown"); err == nil {
		t.Error("LoadDomains of an unknown list gave no error")
	}
	if _, err := s.SyncState(other.ID).LoadDomains(ctx, "rslvr-fdl-1"); err == nil {
		t.Error("LoadDomains of another device's list gave no error")
	}
	wantErr(t, "DeleteDomains of another device", s.SyncState(other.ID).DeleteDomains(ctx, "rslvr-fdl-1"), nil)
	if got, err := ss.LoadDomains(ctx, "rslvr-fdl-1"); err != nil || !reflect.DeepEqual(got, []string{"kept."}) {
		t.Errorf("after another device's DeleteDomains: %q, %v", got, err)
	}
	wantErr(t, "DeleteDomains", ss.DeleteDomains(ctx, "rslvr-fdl-1"), nil)
	if _, err := ss.LoadDomains(ctx, "rslvr-fdl-1"); err == nil {
		t.Error("LoadDomains after DeleteDomains gave no error")
	}
	wantErr(t, "DeleteDomains of an unknown list", ss.DeleteDomains(ctx, "rslvr-fdl-1"), nil)
	wantErr(t, "SaveDomains of an unknown device", s.SyncState(other.ID+1000).SaveDomains(ctx, "l", []string{"a."}), store.ErrNotFound)
}

// testSyncStateLarge round-trips a list at DNS Firewall's largest size.
func testSyncStateLarge(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "a")
	ss := s.SyncState(d.ID)
	domains := make([]string, 250000)
	for i := range domains {
		domains[i] = fmt.Sprintf("host-%06d.zone-%03d.example.com.", i, i%997)
	}
	start := time.Now()
	wantErr(t, "SaveDomains", ss.SaveDomains(ctx, "big", domains), nil)
	saved := time.Since(start)
	start = time.Now()
	got, err := ss.LoadDomains(ctx, "big")
	wantErr(t, "LoadDomains", err, nil)
	t.Logf("250,000 domains: saved in %v, loaded in %v", saved, time.Since(start))
	if !reflect.DeepEqual(got, domains) {
		t.Fatalf("LoadDomains gave %d domains, not the %d saved", len(got), len(domains))
	}
}

func testLeases(t *testing.T, s store.Store) {
	ctx := t.Context()
	const ttl = 30 * time.Second
	now := at(0)
	// The steps share one key; each says who asks, when, and what
	// holds the key afterwards.
	steps := []struct {
		name       string
		holder     string
		after      time.Duration
		want       bool
		wantHolder string
		wantExpiry time.Duration // after now
	}{
		{"a takes a free lease", "a", 0, true, "a", ttl},
		{"b is refused before expiry", "b", 10 * time.Second, false, "a", ttl},
		{"a renews", "a", 10 * time.Second, true, "a", 10*time.Second + ttl},
		{"b is refused at the expiry itself", "b", 10*time.Second + ttl, false, "a", 10*time.Second + ttl},
		{"b takes it after expiry", "b", 10*time.Second + ttl + time.Nanosecond, true, "b", 10*time.Second + 2*ttl + time.Nanosecond},
		{"a is refused now", "a", 11*time.Second + ttl, false, "b", 10*time.Second + 2*ttl + time.Nanosecond},
	}
	for _, st := range steps {
		ok, err := s.AcquireLease(ctx, "aws/123456789012/eu-west-1", st.holder, now.Add(st.after), ttl)
		wantErr(t, st.name, err, nil)
		if ok != st.want {
			t.Errorf("%s: AcquireLease = %v, want %v", st.name, ok, st.want)
		}
		holder, expiry, err := s.LeaseHolder(ctx, "aws/123456789012/eu-west-1")
		wantErr(t, st.name+": LeaseHolder", err, nil)
		if holder != st.wantHolder || !expiry.Equal(now.Add(st.wantExpiry)) {
			t.Errorf("%s: LeaseHolder = %q until %v, want %q until %v", st.name, holder, expiry, st.wantHolder, now.Add(st.wantExpiry))
		}
	}

	// Another key is another lease; a time in another zone is the same
	// instant.
	east := time.FixedZone("UTC+10", 10*3600)
	ok, err := s.AcquireLease(ctx, "other", "a", now.In(east), ttl)
	if err != nil || !ok {
		t.Fatalf("taking another key: %v, %v", ok, err)
	}
	ok, err = s.AcquireLease(ctx, "other", "b", now.Add(ttl-time.Second).In(east), ttl)
	if err != nil || ok {
		t.Errorf("taking a held key at a time in another zone: %v, %v; want refused", ok, err)
	}

	wantErr(t, "ReleaseLease by a non-holder", s.ReleaseLease(ctx, "aws/123456789012/eu-west-1", "a"), nil)
	if holder, _, _ := s.LeaseHolder(ctx, "aws/123456789012/eu-west-1"); holder != "b" {
		t.Errorf("after a release by a non-holder the holder is %q, want b", holder)
	}
	wantErr(t, "ReleaseLease", s.ReleaseLease(ctx, "aws/123456789012/eu-west-1", "b"), nil)
	holder, expiry, err := s.LeaseHolder(ctx, "aws/123456789012/eu-west-1")
	if err != nil || holder != "" || !expiry.IsZero() {
		t.Errorf("after release: LeaseHolder = %q, %v, %v; want none", holder, expiry, err)
	}
	ok, err = s.AcquireLease(ctx, "aws/123456789012/eu-west-1", "a", now, ttl)
	if err != nil || !ok {
		t.Errorf("taking a released lease: %v, %v", ok, err)
	}
	holder, expiry, err = s.LeaseHolder(ctx, "never")
	if err != nil || holder != "" || !expiry.IsZero() {
		t.Errorf("LeaseHolder of an unknown key = %q, %v, %v; want none", holder, expiry, err)
	}
}

// sealedFixture makes sealed values of both purposes, and some rows
// without any.
func sealedFixture(t *testing.T, s store.Store) (store.Org, map[string]string) {
	t.Helper()
	ctx := t.Context()
	o := mustOrg(t, s, "a")
	_, err := s.CreatePolicy(ctx, store.Policy{OrgID: o.ID, Name: "p1", Doc: []byte(`{}`), Secrets: []byte("old:p1")})
	wantErr(t, "CreatePolicy", err, nil)
	mustPolicy(t, s, o.ID, "p2")
	mustDevice(t, s, o.ID, "d1", "p1") // fullDevice seals "sealed:d1"
	d2 := fullDevice(o.ID, "d2", "p2")
	d2.SecretKey = nil
	_, err = s.CreateDevice(ctx, d2)
	wantErr(t, "CreateDevice", err, nil)
	mustDevice(t, s, o.ID, "d3", "p2")
	// The purpose of each sealed value.
	return o, map[string]string{
		"old:p1":    store.PurposePolicySecrets,
		"sealed:d1": store.PurposeDeviceSecret,
		"sealed:d3": store.PurposeDeviceSecret,
	}
}

// sealedValues reads every sealed value of o: device nicknames and policy
// names to values (nil when none).
func sealedValues(t *testing.T, s store.Store, o store.Org) map[string]string {
	t.Helper()
	out := map[string]string{}
	devs, err := s.ListDevices(t.Context(), o.ID)
	wantErr(t, "ListDevices", err, nil)
	for _, d := range devs {
		out["device "+d.Nickname] = fmt.Sprintf("%q gen %d", d.SecretKey, d.Generation)
	}
	pols, err := s.ListPolicies(t.Context(), o.ID)
	wantErr(t, "ListPolicies", err, nil)
	for _, p := range pols {
		out["policy "+p.Name] = fmt.Sprintf("%q v%d", p.Secrets, p.Version)
	}
	return out
}

func testReseal(t *testing.T, s store.Store) {
	ctx := t.Context()
	n, err := s.Reseal(ctx, func(string, []byte) ([]byte, error) { return nil, errors.New("called") })
	if err != nil || n != 0 {
		t.Fatalf("Reseal of an empty store = %d, %v", n, err)
	}
	o, purposes := sealedFixture(t, s)
	seen := map[string]string{}
	n, err = s.Reseal(ctx, func(purpose string, old []byte) ([]byte, error) {
		seen[string(old)] = purpose
		return append([]byte("new:"), old...), nil
	})
	wantErr(t, "Reseal", err, nil)
	if n != 3 || !reflect.DeepEqual(seen, purposes) {
		t.Errorf("Reseal = %d, passing %v; want 3, passing %v", n, seen, purposes)
	}
	want := map[string]string{
		"device d1": `"new:sealed:d1" gen 1`, "device d2": `"" gen 1`, "device d3": `"new:sealed:d3" gen 1`,
		"policy p1": `"new:old:p1" v1`, "policy p2": `"" v1`,
	}
	if got := sealedValues(t, s, o); !reflect.DeepEqual(got, want) {
		t.Errorf("after Reseal:\n got %v\nwant %v", got, want)
	}
	for _, d := range []string{"d1", "d2"} {
		got, _ := s.GetDevice(ctx, o.ID, d)
		if (d == "d2") != (got.SecretKey == nil) {
			t.Errorf("device %s's secret is %q after Reseal", d, got.SecretKey)
		}
	}
}

func testResealAllOrNothing(t *testing.T, s store.Store) {
	ctx := t.Context()
	o, _ := sealedFixture(t, s)
	before := sealedValues(t, s, o)
	boom := errors.New("boom")
	for _, failAt := range []int{1, 2, 3} {
		calls := 0
		n, err := s.Reseal(ctx, func(_ string, old []byte) ([]byte, error) {
			calls++
			if calls == failAt {
				return nil, boom
			}
			return append([]byte("new:"), old...), nil
		})
		if !errors.Is(err, boom) || n != 0 {
			t.Errorf("Reseal failing at call %d = %d, %v; want 0 and the error", failAt, n, err)
		}
		if got := sealedValues(t, s, o); !reflect.DeepEqual(got, before) {
			t.Errorf("Reseal failing at call %d changed values:\n got %v\nwant %v", failAt, got, before)
		}
	}
	if before["device d1"] != `"sealed:d1" gen 1` {
		t.Errorf("the fixture is not what the test expects: %v", before)
	}
}

func testDeleteDeviceCascades(t *testing.T, s store.Store) {
	ctx := t.Context()
	d := deviceIn(t, s, "a")
	wantErr(t, "PutStatus", s.PutStatus(ctx, store.Status{DeviceID: d.ID, State: store.StateInSync}), nil)
	_, err := s.AddRun(ctx, store.SyncRun{DeviceID: d.ID, Trigger: "start", StartedAt: at(0), Result: store.ResultOK})
	wantErr(t, "AddRun", err, nil)
	ss := s.SyncState(d.ID)
	wantErr(t, "Save", ss.Save(ctx, &fwsync.State{Device: "fw", Lists: map[string]*fwsync.ListRecord{"l": {ID: "l"}}}), nil)
	wantErr(t, "SaveDomains", ss.SaveDomains(ctx, "l", []string{"a."}), nil)

	wantErr(t, "DeleteDevice", s.DeleteDevice(ctx, d.ID), nil)
	_, err = s.GetStatus(ctx, d.ID)
	wantErr(t, "GetStatus after delete", err, store.ErrNotFound)
	_, err = s.ListRuns(ctx, d.ID, 0)
	wantErr(t, "ListRuns after delete", err, store.ErrNotFound)
	if st, err := ss.Load(ctx); err != nil || len(st.Lists) != 0 {
		t.Errorf("sync state after delete = %+v, %v; want empty", st, err)
	}
	if _, err := ss.LoadDomains(ctx, "l"); err == nil {
		t.Error("LoadDomains after delete gave no error")
	}
	// The policy is free again.
	wantErr(t, "DeletePolicy", s.DeletePolicy(ctx, d.OrgID, "p"), nil)

	// A new device of the same nickname is another device, with nothing
	// of the old one: IDs are never reused.
	mustPolicy(t, s, d.OrgID, "p")
	n := mustDevice(t, s, d.OrgID, "fw", "p")
	if n.ID == d.ID {
		t.Fatalf("the new device reuses ID %d", d.ID)
	}
	if st, err := s.GetStatus(ctx, n.ID); err != nil || st.State != store.StatePending {
		t.Errorf("the new device's status = %+v, %v; want pending", st, err)
	}
	if runs, err := s.ListRuns(ctx, n.ID, 0); err != nil || len(runs) != 0 {
		t.Errorf("the new device's runs = %+v, %v; want none", runs, err)
	}
}
