// Package storetest is the one suite every store.Store must pass, so that
// SQLite and PostgreSQL behave alike down to their errors: a backend's
// test calls Run with a function that opens a fresh, empty store.
//
// Each group of checks runs in its own store, in parallel with the others,
// so open must give independent stores (a new file, a new schema).
package storetest

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rpzfw/rpzfw/internal/store"
)

// Run runs the suite. open returns a new empty store; Run closes it.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	groups := []struct {
		name string
		test func(t *testing.T, s store.Store)
	}{
		{"Orgs", testOrgs},
		{"Tokens", testTokens},
		{"Users", testUsers},
		{"Policies", testPolicies},
		{"PolicyVersions", testPolicyVersions},
		{"Devices", testDevices},
		{"DeviceUpdates", testDeviceUpdates},
		{"PolicyInUse", testPolicyInUse},
		{"Status", testStatus},
		{"Runs", testRuns},
		{"RunsLimit", testRunsLimit},
		{"SyncState", testSyncState},
		{"SyncStateLarge", testSyncStateLarge},
		{"Leases", testLeases},
		{"Reseal", testReseal},
		{"ResealAllOrNothing", testResealAllOrNothing},
		{"DeleteDeviceCascades", testDeleteDeviceCascades},
		{"Ping", testPing},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Errorf("closing the store: %v", err)
				}
			})
			g.test(t, s)
		})
	}
}

// wantErr fails unless err is target (nil: unless err is nil).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	switch {
	case target == nil && err != nil:
		t.Fatalf("%s: %v", what, err)
	case target != nil && !errors.Is(err, target):
		t.Fatalf("%s: got error %v, want %v", what, err, target)
	}
}

func mustOrg(t *testing.T, s store.Store, name string) store.Org {
	t.Helper()
	o, err := s.CreateOrg(t.Context(), name)
	wantErr(t, "creating org "+name, err, nil)
	return o
}

func mustPolicy(t *testing.T, s store.Store, orgID int64, name string) store.Policy {
	t.Helper()
	p, err := s.CreatePolicy(t.Context(), store.Policy{OrgID: orgID, Name: name, Doc: []byte(`{"name":"` + name + `"}`)})
	wantErr(t, "creating policy "+name, err, nil)
	return p
}

// fullDevice is a device with every field set, so that a round trip shows
// any column that is not stored or read.
func fullDevice(orgID int64, nickname, policy string) store.Device {
	return store.Device{
		OrgID:         orgID,
		Nickname:      nickname,
		Provider:      "aws",
		Policy:        policy,
		Note:          "note of " + nickname,
		Region:        "eu-west-1",
		RuleGroupID:   "rslvr-frg-0123456789abcdef",
		EndpointURL:   "http://127.0.0.1:4566",
		PriorityBand:  "1000-1999",
		CredKind:      store.CredAccessKey,
		AccessKeyID:   "AKIAEXAMPLE",
		SecretKey:     []byte("sealed:" + nickname),
		RoleARN:       "arn:aws:iam::123456789012:role/rpzfw",
		ExternalID:    "ext-" + nickname,
		MaxPolicySize: 100000,
		MonitorOnly:   true,
		LogEnabled:    true,
		LogQueueURL:   "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
		AccountID:     "123456789012",
		Paused:        true,
	}
}

func mustDevice(t *testing.T, s store.Store, orgID int64, nickname, policy string) store.Device {
	t.Helper()
	d, err := s.CreateDevice(t.Context(), fullDevice(orgID, nickname, policy))
	wantErr(t, "creating device "+nickname, err, nil)
	return d
}

// sameDevice compares devices field by field, times with Equal.
func sameDevice(t *testing.T, what string, got, want store.Device) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("%s: times %v/%v, want %v/%v", what, got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func testOrgs(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustOrg(t, s, "acme")
	if a.ID == 0 || a.Name != "acme" || a.CreatedAt.IsZero() {
		t.Fatalf("created %+v", a)
	}
	_, err := s.CreateOrg(ctx, "acme")
	wantErr(t, "creating a second acme", err, store.ErrConflict)
	b := mustOrg(t, s, "globex")

	got, err := s.OrgByName(ctx, "acme")
	wantErr(t, "OrgByName", err, nil)
	if got.ID != a.ID || got.Name != "acme" || !got.CreatedAt.Equal(a.CreatedAt) {
		t.Errorf("OrgByName = %+v, want %+v", got, a)
	}
	_, err = s.OrgByName(ctx, "initech")
	wantErr(t, "OrgByName of an unknown org", err, store.ErrNotFound)

	all, err := s.ListOrgs(ctx)
	wantErr(t, "ListOrgs", err, nil)
	if len(all) != 2 || all[0].ID != a.ID || all[1].ID != b.ID {
		t.Errorf("ListOrgs = %+v, want acme then globex", all)
	}
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	h1, h2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)

	t1, err := s.CreateToken(ctx, store.Token{OrgID: a.ID, Name: "ci", Role: store.RoleAdmin, Hash: h1})
	wantErr(t, "CreateToken", err, nil)
	if t1.ID == 0 || t1.CreatedAt.IsZero() {
		t.Fatalf("created %+v", t1)
	}
	_, err = s.CreateToken(ctx, store.Token{OrgID: b.ID, Name: "dup", Role: store.RoleViewer, Hash: h1})
	wantErr(t, "a token with a hash taken in another org", err, store.ErrConflict)
	t2, err := s.CreateToken(ctx, store.Token{OrgID: b.ID, Name: "view", Role: store.RoleViewer, Hash: h2})
	wantErr(t, "CreateToken in b", err, nil)
	_, err = s.CreateToken(ctx, store.Token{OrgID: b.ID + 1000, Name: "x", Role: store.RoleViewer, Hash: []byte{9}})
	wantErr(t, "a token of an unknown org", err, store.ErrNotFound)

	got, err := s.TokenByHash(ctx, h1)
	wantErr(t, "TokenByHash", err, nil)
	if got.ID != t1.ID || got.OrgID != a.ID || got.Name != "ci" || got.Role != store.RoleAdmin || !bytes.Equal(got.Hash, h1) || !got.CreatedAt.Equal(t1.CreatedAt) {
		t.Errorf("TokenByHash = %+v, want %+v", got, t1)
	}
	_, err = s.TokenByHash(ctx, []byte("nope"))
	wantErr(t, "TokenByHash of an unknown hash", err, store.ErrNotFound)

	for _, c := range []struct {
		org  int64
		want []int64
	}{{a.ID, []int64{t1.ID}}, {b.ID, []int64{t2.ID}}, {b.ID + 1000, nil}} {
		list, err := s.ListTokens(ctx, c.org)
		wantErr(t, "ListTokens", err, nil)
		var ids []int64
		for _, tk := range list {
			ids = append(ids, tk.ID)
		}
		if !reflect.DeepEqual(ids, c.want) {
			t.Errorf("ListTokens(%d) = %v, want %v", c.org, ids, c.want)
		}
	}

	wantErr(t, "deleting org a's token as org b", s.DeleteToken(ctx, b.ID, t1.ID), store.ErrNotFound)
	_, err = s.TokenByHash(ctx, h1)
	wantErr(t, "the token survives a delete by another org", err, nil)
	wantErr(t, "DeleteToken", s.DeleteToken(ctx, a.ID, t1.ID), nil)
	_, err = s.TokenByHash(ctx, h1)
	wantErr(t, "TokenByHash after delete", err, store.ErrNotFound)
	wantErr(t, "deleting it again", s.DeleteToken(ctx, a.ID, t1.ID), store.ErrNotFound)
}

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	u, err := s.CreateUser(ctx, store.User{OrgID: a.ID, Name: "alice", Role: store.RoleAdmin, PasswordHash: "$argon2id$x"})
	wantErr(t, "CreateUser", err, nil)
	if u.ID == 0 || u.CreatedAt.IsZero() {
		t.Fatalf("created %+v", u)
	}
	_, err = s.CreateUser(ctx, store.User{OrgID: b.ID, Name: "alice", Role: store.RoleViewer, PasswordHash: "h"})
	wantErr(t, "a user name taken in another org", err, store.ErrConflict)
	_, err = s.CreateUser(ctx, store.User{OrgID: b.ID + 1000, Name: "carol", Role: store.RoleViewer, PasswordHash: "h"})
	wantErr(t, "a user of an unknown org", err, store.ErrNotFound)
	bob, err := s.CreateUser(ctx, store.User{OrgID: b.ID, Name: "bob", Role: store.RoleViewer, PasswordHash: "h"})
	wantErr(t, "CreateUser bob", err, nil)

	got, err := s.UserByName(ctx, "alice")
	wantErr(t, "UserByName", err, nil)
	if got.ID != u.ID || got.OrgID != a.ID || got.Role != store.RoleAdmin || got.PasswordHash != "$argon2id$x" || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Errorf("UserByName = %+v, want %+v", got, u)
	}
	_, err = s.UserByName(ctx, "mallory")
	wantErr(t, "UserByName of an unknown user", err, store.ErrNotFound)

	list, err := s.ListUsers(ctx, b.ID)
	wantErr(t, "ListUsers", err, nil)
	if len(list) != 1 || list[0].ID != bob.ID {
		t.Errorf("ListUsers(b) = %+v, want bob only", list)
	}
}

func testPolicies(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")

	p1 := mustPolicy(t, s, a.ID, "strict")
	if p1.Version != 1 || p1.UpdatedAt.IsZero() {
		t.Fatalf("created %+v, want version 1 and a time", p1)
	}
	p2, err := s.CreatePolicy(ctx, store.Policy{OrgID: a.ID, Name: "lenient", Doc: []byte(`{"x":1}`), Secrets: []byte("sealed"), Predefined: true})
	wantErr(t, "CreatePolicy with secrets", err, nil)
	_, err = s.CreatePolicy(ctx, store.Policy{OrgID: a.ID, Name: "strict", Doc: []byte(`{}`)})
	wantErr(t, "a taken name", err, store.ErrConflict)
	mustPolicy(t, s, b.ID, "strict") // the same name in another org is another policy
	_, err = s.CreatePolicy(ctx, store.Policy{OrgID: b.ID + 1000, Name: "x", Doc: []byte(`{}`)})
	wantErr(t, "a policy of an unknown org", err, store.ErrNotFound)

	got, err := s.GetPolicy(ctx, a.ID, "strict")
	wantErr(t, "GetPolicy", err, nil)
	if string(got.Doc) != `{"name":"strict"}` || got.Secrets != nil || got.Predefined || got.Version != 1 || !got.UpdatedAt.Equal(p1.UpdatedAt) {
		t.Errorf("GetPolicy = %+v, want %+v", got, p1)
	}
	got, err = s.GetPolicy(ctx, a.ID, "lenient")
	wantErr(t, "GetPolicy lenient", err, nil)
	if string(got.Doc) != string(p2.Doc) || string(got.Secrets) != "sealed" || !got.Predefined {
		t.Errorf("GetPolicy lenient = %+v, want %+v", got, p2)
	}

	// Org isolation: b sees none of a's policies.
	_, err = s.GetPolicy(ctx, b.ID, "lenient")
	wantErr(t, "reading a's policy as b", err, store.ErrNotFound)
	_, err = s.UpdatePolicy(ctx, store.Policy{OrgID: b.ID, Name: "lenient", Doc: []byte(`{}`)})
	wantErr(t, "updating a's policy as b", err, store.ErrNotFound)
	wantErr(t, "deleting a's policy as b", s.DeletePolicy(ctx, b.ID, "lenient"), store.ErrNotFound)
	if got, _ := s.GetPolicy(ctx, a.ID, "lenient"); got.Version != 1 {
		t.Errorf("a's policy changed by b's update: %+v", got)
	}

	for _, c := range []struct {
		org  int64
		want []string
	}{{a.ID, []string{"lenient", "strict"}}, {b.ID, []string{"strict"}}} {
		list, err := s.ListPolicies(ctx, c.org)
		wantErr(t, "ListPolicies", err, nil)
		var names []string
		for _, p := range list {
			names = append(names, p.Name)
			if p.OrgID != c.org {
				t.Errorf("ListPolicies(%d) gave %+v", c.org, p)
			}
		}
		if !reflect.DeepEqual(names, c.want) {
			t.Errorf("ListPolicies(%d) = %v, want %v", c.org, names, c.want)
		}
	}

	wantErr(t, "DeletePolicy", s.DeletePolicy(ctx, a.ID, "lenient"), nil)
	_, err = s.GetPolicy(ctx, a.ID, "lenient")
	wantErr(t, "GetPolicy after delete", err, store.ErrNotFound)
	wantErr(t, "deleting it again", s.DeletePolicy(ctx, a.ID, "lenient"), store.ErrNotFound)
	if _, err := s.GetPolicy(ctx, b.ID, "strict"); err != nil {
		t.Errorf("b's strict after a's lenient went: %v", err)
	}
}

func testPolicyVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := mustOrg(t, s, "a")
	p := mustPolicy(t, s, a.ID, "p")

	steps := []struct {
		name        string
		version     int64 // the version the update says it read
		doc         string
		secrets     []byte
		wantErr     error
		wantVersion int64 // stored afterwards
	}{
		{"unconditional", 0, `{"v":2}`, []byte("s2"), nil, 2},
		{"stale", 1, `{"v":"stale"}`, nil, store.ErrConflict, 2},
		{"current", 2, `{"v":3}`, nil, nil, 3},
		{"future", 9, `{"v":"future"}`, nil, store.ErrConflict, 3},
		{"unconditional again", 0, `{"v":4}`, []byte("s4"), nil, 4},
	}
	want := p
	for _, st := range steps {
		up, err := s.UpdatePolicy(ctx, store.Policy{OrgID: a.ID, Name: "p", Doc: []byte(st.doc), Secrets: st.secrets, Version: st.version})
		wantErr(t, st.name, err, st.wantErr)
		if st.wantErr == nil {
			if up.Version != st.wantVersion || up.UpdatedAt.Before(want.UpdatedAt) {
				t.Errorf("%s: returned %+v, want version %d", st.name, up, st.wantVersion)
			}
			want = up
		}
		got, err := s.GetPolicy(ctx, a.ID, "p")
		wantErr(t, st.name+": GetPolicy", err, nil)
		if got.Version != st.wantVersion || string(got.Doc) != string(want.Doc) || !bytes.Equal(got.Secrets, want.Secrets) {
			t.Errorf("%s: stored %+v, want version %d doc %s secrets %q", st.name, got, st.wantVersion, want.Doc, want.Secrets)
		}
	}
	_, err := s.UpdatePolicy(ctx, store.Policy{OrgID: a.ID, Name: "nope", Doc: []byte(`{}`)})
	wantErr(t, "updating an unknown policy", err, store.ErrNotFound)
	_, err = s.UpdatePolicy(ctx, store.Policy{OrgID: a.ID, Name: "nope", Doc: []byte(`{}`), Version: 3})
	wantErr(t, "updating an unknown policy at a version", err, store.ErrNotFound)
}

func testDevices(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	mustPolicy(t, s, a.ID, "pa")
	mustPolicy(t, s, b.ID, "pb")

	want := fullDevice(a.ID, "fw1", "pa")
	d1, err := s.CreateDevice(ctx, want)
	wantErr(t, "CreateDevice", err, nil)
	if d1.ID == 0 || d1.Generation != 1 || d1.CreatedAt.IsZero() || !d1.UpdatedAt.Equal(d1.CreatedAt) {
		t.Fatalf("created %+v", d1)
	}
	want.ID, want.Generation, want.CreatedAt, want.UpdatedAt = d1.ID, 1, d1.CreatedAt, d1.UpdatedAt
	sameDevice(t, "CreateDevice's result", d1, want)
	got, err := s.GetDevice(ctx, a.ID, "fw1")
	wantErr(t, "GetDevice", err, nil)
	sameDevice(t, "GetDevice", got, want)
	got, err = s.DeviceByID(ctx, d1.ID)
	wantErr(t, "DeviceByID", err, nil)
	sameDevice(t, "DeviceByID", got, want)

	// A device without secrets keeps a nil secret.
	bare, err := s.CreateDevice(ctx, store.Device{OrgID: a.ID, Nickname: "bare", Provider: "aws", Policy: "pa", CredKind: store.CredAmbient})
	wantErr(t, "CreateDevice with the fewest fields", err, nil)
	if got, _ := s.DeviceByID(ctx, bare.ID); got.SecretKey != nil || got.Nickname != "bare" {
		t.Errorf("bare device read back as %+v", got)
	}

	_, err = s.CreateDevice(ctx, fullDevice(a.ID, "fw1", "pa"))
	wantErr(t, "a taken nickname", err, store.ErrConflict)
	d3 := mustDevice(t, s, b.ID, "fw1", "pb") // the same nickname in another org

	for _, c := range []struct{ name, org, policy string }{
		{"a policy that does not exist", "a", "missing-policy"},
		{"another org's policy", "b", "pa"},
	} {
		org := a.ID
		if c.org == "b" {
			org = b.ID
		}
		_, err := s.CreateDevice(ctx, fullDevice(org, "new", c.policy))
		wantErr(t, c.name, err, store.ErrNotFound)
		if !strings.Contains(err.Error(), c.policy) {
			t.Errorf("%s: the error %q does not name the policy", c.name, err)
		}
	}

	_, err = s.GetDevice(ctx, b.ID, "bare")
	wantErr(t, "reading a's device as b", err, store.ErrNotFound)
	_, err = s.DeviceByID(ctx, d3.ID+1000)
	wantErr(t, "DeviceByID of an unknown device", err, store.ErrNotFound)

	list, err := s.ListDevices(ctx, a.ID)
	wantErr(t, "ListDevices", err, nil)
	if len(list) != 2 || list[0].Nickname != "bare" || list[1].Nickname != "fw1" || list[1].OrgID != a.ID {
		t.Errorf("ListDevices(a) = %+v, want bare and fw1", list)
	}
	all, err := s.AllDevices(ctx)
	wantErr(t, "AllDevices", err, nil)
	var ids []int64
	for _, d := range all {
		ids = append(ids, d.ID)
	}
	if !reflect.DeepEqual(ids, []int64{d1.ID, bare.ID, d3.ID}) {
		t.Errorf("AllDevices = %v, want %v", ids, []int64{d1.ID, bare.ID, d3.ID})
	}

	wantErr(t, "SetAccount", s.SetAccount(ctx, d1.ID, "210987654321"), nil)
	got, _ = s.DeviceByID(ctx, d1.ID)
	if got.AccountID != "210987654321" || got.Generation != 1 {
		t.Errorf("after SetAccount: account %q generation %d, want the account and generation 1", got.AccountID, got.Generation)
	}
	wantErr(t, "SetAccount of an unknown device", s.SetAccount(ctx, d3.ID+1000, "x"), store.ErrNotFound)

	wantErr(t, "DeleteDevice", s.DeleteDevice(ctx, bare.ID), nil)
	_, err = s.DeviceByID(ctx, bare.ID)
	wantErr(t, "DeviceByID after delete", err, store.ErrNotFound)
	wantErr(t, "deleting it again", s.DeleteDevice(ctx, bare.ID), store.ErrNotFound)
}

func testDeviceUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	mustPolicy(t, s, a.ID, "p1")
	mustPolicy(t, s, a.ID, "p2")
	mustPolicy(t, s, b.ID, "p3")
	d := mustDevice(t, s, a.ID, "fw", "p1")
	mustDevice(t, s, a.ID, "other", "p1")

	steps := []struct {
		name    string
		change  func(d *store.Device)
		wantErr error
		wantGen int64 // stored afterwards
	}{
		{"unconditional", func(d *store.Device) { d.Generation = 0; d.Note = "n2"; d.Policy = "p2" }, nil, 2},
		{"stale", func(d *store.Device) { d.Generation = 1; d.Note = "stale" }, store.ErrConflict, 2},
		{"current", func(d *store.Device) { d.Note = "n3"; d.SecretKey = nil; d.Paused = false }, nil, 3},
		{"rename", func(d *store.Device) { d.Nickname = "fw-renamed" }, nil, 4},
		{"rename onto a taken nickname", func(d *store.Device) { d.Nickname = "other" }, store.ErrConflict, 4},
		{"a missing policy", func(d *store.Device) { d.Policy = "missing-policy" }, store.ErrNotFound, 4},
		{"another org's policy", func(d *store.Device) { d.Policy = "p3" }, store.ErrNotFound, 4},
		{"as another org", func(d *store.Device) { d.OrgID = b.ID; d.Note = "b was here" }, store.ErrNotFound, 4},
		{"unknown ID", func(d *store.Device) { d.ID += 1000 }, store.ErrNotFound, 4},
	}
	want := d
	for _, st := range steps {
		in := want
		st.change(&in)
		up, err := s.UpdateDevice(ctx, in)
		wantErr(t, st.name, err, st.wantErr)
		if st.wantErr == nil {
			in.Generation = st.wantGen
			in.CreatedAt = d.CreatedAt
			in.UpdatedAt = up.UpdatedAt
			sameDevice(t, st.name+": UpdateDevice's result", up, in)
			want = up
		} else if strings.Contains(st.name, "policy") && !strings.Contains(err.Error(), in.Policy) {
			t.Errorf("%s: the error %q does not name the policy", st.name, err)
		}
		got, err := s.DeviceByID(ctx, d.ID)
		wantErr(t, st.name+": DeviceByID", err, nil)
		sameDevice(t, st.name+": stored", got, want)
	}
}

func testPolicyInUse(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, b := mustOrg(t, s, "a"), mustOrg(t, s, "b")
	mustPolicy(t, s, a.ID, "shared")
	mustPolicy(t, s, b.ID, "shared")
	d1 := mustDevice(t, s, a.ID, "fw1", "shared")
	d2 := mustDevice(t, s, a.ID, "fw2", "shared")

	// b's policy of the same name is used by no device of b.
	wantErr(t, "deleting b's unused policy", s.DeletePolicy(ctx, b.ID, "shared"), nil)
	wantErr(t, "deleting a policy two devices use", s.DeletePolicy(ctx, a.ID, "shared"), store.ErrInUse)
	wantErr(t, "DeleteDevice", s.DeleteDevice(ctx, d1.ID), nil)
	wantErr(t, "deleting a policy one device uses", s.DeletePolicy(ctx, a.ID, "shared"), store.ErrInUse)
	mustPolicy(t, s, a.ID, "other")
	d2.Policy, d2.Generation = "other", 0
	_, err := s.UpdateDevice(ctx, d2)
	wantErr(t, "moving the last device to another policy", err, nil)
	wantErr(t, "deleting the policy no device uses", s.DeletePolicy(ctx, a.ID, "shared"), nil)
}

func testPing(t *testing.T, s store.Store) {
	wantErr(t, "Ping", s.Ping(t.Context()), nil)
}
