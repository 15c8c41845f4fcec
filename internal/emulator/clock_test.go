package emulator

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A list settles when the emulator's clock has moved past its settle
// delay, not before, however the clock is moved: so tests settle by the
// emulator's clock instead of sleeping.
func TestAdvanceSettles(t *testing.T) {
	clock := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	e, err := New(Config{Settle: time.Hour, Now: func() time.Time { return clock }})
	if err != nil {
		t.Fatal(err)
	}
	_, body := call(t, e, "CreateFirewallDomainList", `{"CreatorRequestId":"x","Name":"l"}`, "AKID", "x")
	id := body[strings.Index(body, "rslvr-fdl-") : strings.Index(body, "rslvr-fdl-")+27]
	if code, body := call(t, e, "UpdateFirewallDomains", `{"FirewallDomainListId":"`+id+`","Operation":"ADD","Domains":["a.example"]}`, "AKID", "x"); code != 200 {
		t.Fatal(body)
	}
	status := func() string {
		_, body := call(t, e, "GetFirewallDomainList", `{"FirewallDomainListId":"`+id+`"}`, "AKID", "x")
		return body
	}
	admin := func(method, body string) (int, string) {
		req := httptest.NewRequest(method, "http://emulator.local/_emulator/clock", strings.NewReader(body))
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	steps := []struct {
		advance string
		code    int
		want    string // in the list's status
		now     string
	}{
		{"59m", 200, `"Status":"UPDATING"`, "2026-03-01T12:59:00Z"},
		{"-5m", 400, `"Status":"UPDATING"`, "2026-03-01T12:59:00Z"},
		{"soon", 400, `"Status":"UPDATING"`, "2026-03-01T12:59:00Z"},
		{"1m", 200, `"Status":"COMPLETE"`, "2026-03-01T13:00:00Z"},
	}
	for _, s := range steps {
		if code, body := admin(http.MethodPost, `{"advance":"`+s.advance+`"}`); code != s.code {
			t.Fatalf("advance %s: %d %s", s.advance, code, body)
		}
		if got := status(); !strings.Contains(got, s.want) {
			t.Errorf("after advancing %s: %s, want %s", s.advance, got, s.want)
		}
		if _, body := admin(http.MethodGet, ""); !strings.Contains(body, s.now) || !e.Now().Equal(mustTime(t, s.now)) {
			t.Errorf("after advancing %s: clock %s, Now %s, want %s", s.advance, body, e.Now(), s.now)
		}
	}
}

func mustTime(t *testing.T, s string) time.Time {
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
