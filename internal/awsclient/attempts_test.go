package awsclient

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	r53r "github.com/aws/aws-sdk-go-v2/service/route53resolver"
)

// TestOnAttemptSeesRetriedThrottles: a throttle the retryer hides is still
// told to OnAttempt, then the attempt that worked; access denied is told
// as its class.
func TestOnAttemptSeesRetriedThrottles(t *testing.T) {
	tests := []struct {
		name   string
		first  string // the error type of the first answer
		status int
		want   []string
	}{
		{"throttled then ok", "ThrottlingException", http.StatusBadRequest, []string{ClassThrottled, "ok"}},
		{"access denied", "AccessDeniedException", http.StatusBadRequest, []string{ClassAccessDenied}},
		{"server error then ok", "InternalServiceErrorException", http.StatusInternalServerError, []string{ClassOther, "ok"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var n atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				if n.Add(1) == 1 {
					w.WriteHeader(tc.status)
					w.Write([]byte(`{"__type":"` + tc.first + `","Message":"no"}`))
					return
				}
				w.Write([]byte(`{"FirewallRuleGroups":[]}`))
			}))
			defer srv.Close()
			var mu sync.Mutex
			var got []string
			o := Options{Region: "eu-west-1", Endpoint: srv.URL, AccessKeyID: "AKID", SecretAccessKey: "s", MaxAttempts: 3,
				OnAttempt: func(_ context.Context, op string, err error) {
					if op != "ListFirewallRuleGroups" {
						t.Errorf("operation %q", op)
					}
					mu.Lock()
					defer mu.Unlock()
					if err == nil {
						got = append(got, "ok")
						return
					}
					got = append(got, ErrorClass(err))
				}}
			cfg, err := Config(context.Background(), o)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = Resolver(cfg, o).ListFirewallRuleGroups(context.Background(), &r53r.ListFirewallRuleGroupsInput{})
			mu.Lock()
			defer mu.Unlock()
			if len(got) != len(tc.want) {
				t.Fatalf("attempts %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("attempts %v, want %v", got, tc.want)
				}
			}
		})
	}
}
