package device

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rpzfw/rpzfw/internal/emulator"
	"github.com/rpzfw/rpzfw/internal/secret"
	"github.com/rpzfw/rpzfw/internal/store"
)

func testKeyring(t *testing.T) *secret.Keyring {
	t.Helper()
	key, err := secret.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := secret.New(key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestOptionsByCredentials(t *testing.T) {
	keys := testKeyring(t)
	sealed, err := keys.Seal([]byte("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"), store.PurposeDeviceSecret)
	if err != nil {
		t.Fatal(err)
	}
	other := testKeyring(t)
	c := Connector{Keyring: keys, SandboxEndpoint: "http://127.0.0.1:5380"}
	base := store.Device{Nickname: "edge", Region: "eu-west-1", RuleGroupID: "rslvr-frg-01", EndpointURL: "https://vpce.test"}
	tests := []struct {
		name    string
		mod     func(*store.Device)
		conn    Connector
		check   func(t *testing.T, got string)
		wantErr bool
	}{
		{"access key", func(d *store.Device) {
			d.CredKind, d.AccessKeyID, d.SecretKey = store.CredAccessKey, "AKIAEXAMPLE", sealed
		}, c,
			func(t *testing.T, got string) {
				want(t, got, "key=AKIAEXAMPLE secret=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY region=eu-west-1 endpoint=https://vpce.test")
			}, false},
		{"secret of another key", func(d *store.Device) {
			d.CredKind, d.AccessKeyID, d.SecretKey = store.CredAccessKey, "AKIAEXAMPLE", sealed
		},
			Connector{Keyring: other}, nil, true},
		{"role", func(d *store.Device) {
			d.CredKind, d.RoleARN, d.ExternalID = store.CredRole, "arn:aws:iam::111122223333:role/r", "x-1"
		}, c,
			func(t *testing.T, got string) {
				want(t, got, "role=arn:aws:iam::111122223333:role/r/x-1 region=eu-west-1")
			}, false},
		{"ambient", func(d *store.Device) { d.CredKind = store.CredAmbient }, c,
			func(t *testing.T, got string) {
				want(t, got, "key= secret= region=eu-west-1 endpoint=https://vpce.test")
			}, false},
		{"sandbox", func(d *store.Device) { d.Region, d.EndpointURL = SandboxRegion, "" }, c,
			func(t *testing.T, got string) {
				want(t, got, "key="+sandboxKeyID+" secret=rpzfw-sandbox region=us-east-1 endpoint=http://127.0.0.1:5380")
			}, false},
		{"sandbox without one", func(d *store.Device) { d.Region = SandboxRegion }, Connector{}, nil, true},
		{"odd kind", func(d *store.Device) { d.CredKind = "password" }, c, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := base
			tc.mod(&d)
			o, err := tc.conn.Options(d)
			if tc.wantErr {
				if !errors.Is(err, ErrConfig) {
					t.Fatalf("want ErrConfig, got %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := "key=" + o.AccessKeyID + " secret=" + o.SecretAccessKey.Reveal() + " region=" + o.Region
			if o.RoleARN != "" {
				got = "role=" + o.RoleARN + "/" + o.ExternalID + " region=" + o.Region
			}
			if o.Endpoint != "" && !strings.HasPrefix(got, "role") {
				got += " endpoint=" + o.Endpoint
			}
			tc.check(t, got)
		})
	}
}

func want(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// The account comes from the role ARN, or from STS through the device's
// endpoint: here the emulator, which maps keys to accounts.
func TestAccount(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	emu, err := emulator.Serve(ctx, emulator.ServeConfig{APIAddr: "127.0.0.1:0",
		Config: emulator.Config{Keys: map[string]emulator.Key{"AKIAEXAMPLE0000001": {Secret: "s", Account: "444455556666"}}}})
	if err != nil {
		t.Fatal(err)
	}
	keys := testKeyring(t)
	sealed, _ := keys.Seal([]byte("s"), store.PurposeDeviceSecret)
	c := Connector{Keyring: keys, SandboxEndpoint: emu.APIURL}
	for _, tc := range []struct {
		d    store.Device
		want string
	}{
		{store.Device{Region: "eu-west-1", CredKind: store.CredRole, RoleARN: "arn:aws:iam::111122223333:role/rpzfw"}, "111122223333"},
		{store.Device{Region: "eu-west-1", EndpointURL: emu.APIURL, CredKind: store.CredAccessKey, AccessKeyID: "AKIAEXAMPLE0000001", SecretKey: sealed}, "444455556666"},
		{store.Device{Region: SandboxRegion}, emulator.DefaultAccount},
	} {
		got, err := c.Account(ctx, tc.d)
		if err != nil || got != tc.want {
			t.Errorf("%+v: account %q, %v; want %s", tc.d, got, err, tc.want)
		}
	}
}

func TestName(t *testing.T) {
	for _, tc := range []struct {
		d    store.Device
		want string
	}{
		{store.Device{ID: 7, Nickname: "edge-1"}, "d7-edge-1"},
		{store.Device{ID: 12, Nickname: strings.Repeat("n", 64)}, "d12-" + strings.Repeat("n", maxNameLen-4)},
		{store.Device{Nickname: "cli"}, "cli"},
		{store.Device{RuleGroupID: "rslvr-frg-1"}, "rslvr-frg-1"},
	} {
		if got := Name(tc.d); got != tc.want {
			t.Errorf("Name(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
