package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rpzfw/rpzfw/internal/emulator/apimodel"
)

// Key is one access key the emulator knows: its secret (for signature
// checks) and the account it belongs to.
type Key struct {
	Secret  string
	Account string
}

// ObjectStore is the slice of S3 the emulator uses: reading import files
// and writing query logs.
type ObjectStore interface {
	GetObject(ctx context.Context, bucket, key string) ([]byte, error)
	PutObject(ctx context.Context, bucket, key string, body []byte) error
}

// Config configures an emulator. Zero values take the defaults.
type Config struct {
	// Account is the account of requests signed with an unknown key.
	Account string
	// Region is used when a request carries no SigV4 scope.
	Region string
	// VPCID is the VPC the data plane plays (default "vpc-emulated").
	VPCID string
	// Settle is how long a changed domain list stays UPDATING.
	Settle time.Duration
	Quotas Quotas
	// Keys maps access key IDs to secrets and accounts.
	Keys map[string]Key
	// VerifySigV4 rejects requests whose signature does not check out
	// against Keys.
	VerifySigV4 bool
	Faults      Faults
	// Objects reads import files and receives query logs (nil: imports
	// fail, logs are not written).
	Objects ObjectStore
	// StatePath, when set, keeps the state across restarts.
	StatePath string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Log receives what the emulator reports (failed state saves and
	// query log writes); nil: nowhere.
	Log *slog.Logger
}

// DefaultAccount is the account of unknown keys.
const DefaultAccount = "123456789012"

// Emulator is one emulated DNS Firewall control plane (and, through
// NewDNSServer, its data plane).
type Emulator struct {
	mu       sync.Mutex
	accounts map[string]*account // by "account/region"
	version  uint64              // bumps on every change the data plane sees

	defAccount, defRegion, vpc string
	settle                     time.Duration
	quotas                     Quotas
	keys                       map[string]Key
	verify                     bool
	objects                    ObjectStore
	statePath                  string
	saveTimer                  *time.Timer
	now                        func() time.Time
	offset                     atomic.Int64 // Advance's shift of the clock, ns
	log                        *slog.Logger
	model                      *apimodel.Model
	faults                     *faultState
	ops                        map[string]func(*account, []byte) (any, *apiError)

	statsMu sync.Mutex
	stats   map[string]*OpStats
	logs    *queryLogger
}

// OpStats counts calls of one operation.
type OpStats struct {
	Calls     int `json:"calls"`
	OK        int `json:"ok"`
	Throttled int `json:"throttled"`
	Errors    int `json:"errors"`
}

// New makes an emulator from cfg, loading saved state when StatePath
// exists.
func New(cfg Config) (*Emulator, error) {
	m, err := apimodel.Load()
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		accounts: map[string]*account{}, defAccount: cfg.Account, defRegion: cfg.Region, vpc: cfg.VPCID,
		settle: cfg.Settle, quotas: cfg.Quotas, keys: cfg.Keys, verify: cfg.VerifySigV4, objects: cfg.Objects,
		statePath: cfg.StatePath, now: cfg.Now, log: cfg.Log, model: m, stats: map[string]*OpStats{},
	}
	if e.defAccount == "" {
		e.defAccount = DefaultAccount
	}
	if e.defRegion == "" {
		e.defRegion = "us-east-1"
	}
	if e.vpc == "" {
		e.vpc = "vpc-emulated"
	}
	if e.quotas == (Quotas{}) {
		e.quotas = DefaultQuotas
	}
	base := e.now
	if base == nil {
		base = time.Now
	}
	e.now = func() time.Time { return base().Add(time.Duration(e.offset.Load())) }
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	e.faults = &faultState{now: e.now}
	e.faults.set(cfg.Faults)
	e.registerOps()
	if e.statePath != "" {
		if err := e.load(); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *Emulator) registerOps() {
	e.ops = map[string]func(*account, []byte) (any, *apiError){
		"CreateFirewallDomainList":           op(e.createFirewallDomainList),
		"GetFirewallDomainList":              op(e.getFirewallDomainList),
		"DeleteFirewallDomainList":           op(e.deleteFirewallDomainList),
		"ListFirewallDomainLists":            op(e.listFirewallDomainLists),
		"UpdateFirewallDomains":              op(e.updateFirewallDomains),
		"ListFirewallDomains":                op(e.listFirewallDomains),
		"ImportFirewallDomains":              op(e.importFirewallDomains),
		"CreateFirewallRuleGroup":            op(e.createFirewallRuleGroup),
		"GetFirewallRuleGroup":               op(e.getFirewallRuleGroup),
		"DeleteFirewallRuleGroup":            op(e.deleteFirewallRuleGroup),
		"ListFirewallRuleGroups":             op(e.listFirewallRuleGroups),
		"GetFirewallRuleGroupPolicy":         op(e.getFirewallRuleGroupPolicy),
		"PutFirewallRuleGroupPolicy":         op(e.putFirewallRuleGroupPolicy),
		"CreateFirewallRule":                 op(e.createFirewallRule),
		"UpdateFirewallRule":                 op(e.updateFirewallRule),
		"DeleteFirewallRule":                 op(e.deleteFirewallRule),
		"ListFirewallRules":                  op(e.listFirewallRules),
		"AssociateFirewallRuleGroup":         op(e.associateFirewallRuleGroup),
		"DisassociateFirewallRuleGroup":      op(e.disassociateFirewallRuleGroup),
		"GetFirewallRuleGroupAssociation":    op(e.getFirewallRuleGroupAssociation),
		"UpdateFirewallRuleGroupAssociation": op(e.updateFirewallRuleGroupAssociation),
		"ListFirewallRuleGroupAssociations":  op(e.listFirewallRuleGroupAssociations),
		"GetFirewallConfig":                  op(e.getFirewallConfig),
		"UpdateFirewallConfig":               op(e.updateFirewallConfig),
		"ListFirewallConfigs":                op(e.listFirewallConfigs),
		"TagResource":                        op(e.tagResource),
		"UntagResource":                      op(e.untagResource),
		"ListTagsForResource":                op(e.listTagsForResource),
	}
}

// op adapts a typed operation to the dispatcher.
func op[In any](f func(*account, In) (any, *apiError)) func(*account, []byte) (any, *apiError) {
	return func(a *account, body []byte) (any, *apiError) {
		var in In
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, &apiError{Status: 400, Type: "SerializationException", Message: err.Error()}
		}
		return f(a, in)
	}
}

func (e *Emulator) account(id, region string) *account {
	k := id + "/" + region
	a, ok := e.accounts[k]
	if !ok {
		a = newAccount(id, region)
		e.accounts[k] = a
	}
	return a
}

// changed marks a change the data plane must see, and schedules a save.
func (e *Emulator) changed() {
	e.version++
	e.scheduleSave()
}

// VPCID is the VPC the data plane plays.
func (e *Emulator) VPCID() string { return e.vpc }

// SetFaults replaces the fault settings.
func (e *Emulator) SetFaults(f Faults) { e.faults.set(f) }

// Stats returns call counts by operation.
func (e *Emulator) Stats() map[string]OpStats {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	out := make(map[string]OpStats, len(e.stats))
	for k, v := range e.stats {
		out[k] = *v
	}
	return out
}

// ResetStats clears the call counts.
func (e *Emulator) ResetStats() {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	e.stats = map[string]*OpStats{}
}

func (e *Emulator) count(op string, f func(*OpStats)) {
	e.statsMu.Lock()
	defer e.statsMu.Unlock()
	s, ok := e.stats[op]
	if !ok {
		s = &OpStats{}
		e.stats[op] = s
	}
	f(s)
}

var credentialRe = regexp.MustCompile(`Credential=([^/,\s]+)/[0-9]{8}/([^/]+)/([^/]+)/aws4_request`)

// ServeHTTP serves the control plane: POST / with X-Amz-Target, and the
// admin endpoints under /_emulator/.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	reqID := newID("")[:8] + "-emul-" + newID("")[:12]
	w.Header().Set("x-amzn-RequestId", reqID)
	if strings.HasPrefix(r.URL.Path, "/_emulator/") {
		e.serveAdmin(w, r)
		return
	}
	if isSTS(r) {
		e.serveSTS(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if target == serviceQuotasTarget {
		e.serveServiceQuota(w, r)
		return
	}
	opName, ok := strings.CutPrefix(target, "Route53Resolver.")
	if r.Method != http.MethodPost || !ok {
		writeErr(w, &apiError{Status: 400, Type: "UnknownOperationException", Message: "expected POST / with X-Amz-Target: Route53Resolver.<Operation>"})
		return
	}
	handler, known := e.ops[opName]
	if !known {
		writeErr(w, &apiError{Status: 400, Type: "UnknownOperationException", Message: "the emulator does not implement " + opName})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	if err != nil {
		writeErr(w, &apiError{Status: 400, Type: "SerializationException", Message: "reading the request: " + err.Error()})
		return
	}
	acct, region, aerr := e.authenticate(r, body)
	if aerr != nil {
		writeErr(w, aerr)
		return
	}
	e.count(opName, func(s *OpStats) { s.Calls++ })
	if !e.faults.allow(acct + "/" + region) {
		e.count(opName, func(s *OpStats) { s.Throttled++ })
		writeErr(w, throttled())
		return
	}
	latency, ferr := e.faults.before(opName)
	if latency > 0 {
		time.Sleep(latency)
	}
	if ferr != nil {
		e.count(opName, func(s *OpStats) {
			if ferr.Type == "ThrottlingException" {
				s.Throttled++
			} else {
				s.Errors++
			}
		})
		writeErr(w, ferr)
		return
	}
	var req map[string]any
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if len(strings.TrimSpace(string(body))) == 0 {
		req = map[string]any{}
	} else if err := dec.Decode(&req); err != nil {
		writeErr(w, &apiError{Status: 400, Type: "SerializationException", Message: "the request body is not a JSON object"})
		return
	}
	if msg, err := e.model.Validate(opName, req); err != nil {
		writeErr(w, &apiError{Status: 400, Type: "SerializationException", Message: err.Error()})
		return
	} else if msg != "" {
		e.count(opName, func(s *OpStats) { s.Errors++ })
		writeErr(w, validationErr("%s", msg))
		return
	}
	e.mu.Lock()
	out, apiErr := handler(e.account(acct, region), body)
	e.mu.Unlock()
	if apiErr != nil {
		e.count(opName, func(s *OpStats) { s.Errors++ })
		writeErr(w, apiErr)
		return
	}
	e.count(opName, func(s *OpStats) { s.OK++ })
	writeJSON(w, 200, out)
}

// authenticate finds the account and region of a request from its SigV4
// Authorization header, and checks the signature when asked to.
func (e *Emulator) authenticate(r *http.Request, body []byte) (acct, region string, err *apiError) {
	m := credentialRe.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "", "", &apiError{Status: 403, Type: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}
	}
	keyID, region := m[1], m[2]
	acct = e.defAccount
	k, known := e.keys[keyID]
	if known && k.Account != "" {
		acct = k.Account
	}
	if e.verify {
		if !known {
			return "", "", &apiError{Status: 403, Type: "UnrecognizedClientException", Message: "The security token included in the request is invalid."}
		}
		if !verifySigV4(r, body, keyID, k.Secret, region, m[3]) {
			return "", "", &apiError{Status: 403, Type: "InvalidSignatureException", Message: "The request signature we calculated does not match the signature you provided."}
		}
		if err := checkSkew(r, e.now()); err != nil {
			return "", "", err
		}
	}
	return acct, region, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if m, ok := v.(map[string]any); ok {
		for k, val := range m {
			if val == nil {
				delete(m, k)
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, e *apiError) {
	body := map[string]any{"__type": e.Type, "Message": e.Message}
	if e.ResourceType != "" {
		body["ResourceType"] = e.ResourceType
	}
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	writeJSON(w, e.Status, body)
}

// Now is the emulator's clock: Config.Now (or the wall clock) moved on by
// every Advance.
func (e *Emulator) Now() time.Time { return e.now() }

// Advance moves the emulator's clock forward by d, so that lists settle,
// associations complete and throttling refills without waiting: tests and
// scripts settle by the emulator's clock instead of sleeping. A request
// signed with the wall clock is refused by --verify-sigv4 once the clock is
// more than 5 minutes ahead.
func (e *Emulator) Advance(d time.Duration) time.Time {
	if d > 0 {
		e.offset.Add(int64(d))
	}
	return e.now()
}

// serveAdmin: GET/PUT /_emulator/faults, GET /_emulator/stats,
// POST /_emulator/stats/reset, GET /_emulator/clock and
// POST /_emulator/clock {"advance":"90s"}.
func (e *Emulator) serveAdmin(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/_emulator/clock" && r.Method == http.MethodGet:
		writeJSON(w, 200, map[string]any{"now": e.Now().UTC().Format(time.RFC3339Nano)})
	case r.URL.Path == "/_emulator/clock" && r.Method == http.MethodPost:
		var in struct {
			Advance string `json:"advance"`
		}
		err := json.NewDecoder(io.LimitReader(r.Body, 1<<10)).Decode(&in)
		d, derr := time.ParseDuration(in.Advance)
		if err != nil || derr != nil || d < 0 {
			writeJSON(w, 400, map[string]string{"error": `clock: want {"advance":"DURATION"}, a duration such as 90s, not negative`})
			return
		}
		writeJSON(w, 200, map[string]any{"now": e.Advance(d).UTC().Format(time.RFC3339Nano)})
	case r.URL.Path == "/_emulator/faults" && r.Method == http.MethodGet:
		writeJSON(w, 200, e.faults.get())
	case r.URL.Path == "/_emulator/faults" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		var f Faults
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&f); err != nil {
			writeJSON(w, 400, map[string]string{"error": fmt.Sprintf("faults: %v", err)})
			return
		}
		e.SetFaults(f)
		writeJSON(w, 200, f)
	case r.URL.Path == "/_emulator/stats" && r.Method == http.MethodGet:
		writeJSON(w, 200, e.Stats())
	case r.URL.Path == "/_emulator/stats/reset" && r.Method == http.MethodPost:
		e.ResetStats()
		writeJSON(w, 200, map[string]string{})
	default:
		writeJSON(w, 404, map[string]string{"error": "unknown admin endpoint; try /_emulator/faults, /_emulator/stats or /_emulator/clock"})
	}
}

// runImport fetches an import file and replaces the list with it.
func (e *Emulator) runImport(acct, region, listID, bucket, key string) {
	var failure string
	var domains map[string]struct{}
	switch {
	case e.faults.failImport():
		failure = "Injected import failure"
	case e.objects == nil:
		failure = "The emulator has no S3 endpoint (--s3-endpoint) to read the import file from"
	default:
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		body, err := e.objects.GetObject(ctx, bucket, key)
		cancel()
		if err != nil {
			failure = fmt.Sprintf("Could not read s3://%s/%s: %v", bucket, key, err)
			break
		}
		domains, failure = parseImport(body)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.account(acct, region)
	l, ok := a.Lists[listID]
	if !ok {
		return
	}
	if failure == "" && a.domainCount()-len(l.Domains)+len(domains) > e.quotas.Domains {
		failure = fmt.Sprintf("The import would exceed the limit of %d firewall domains", e.quotas.Domains)
	}
	if failure == "" {
		l.Domains, l.sorted = domains, nil
		e.changed()
	}
	l.ImportFailed = failure
	// Whatever came of it, the import changed the list's status (and, when
	// it worked, its content): the modification time moves, as it does on
	// every change.
	l.SettleAt, l.ModificationTime = e.now().Add(e.settle), awsTime(e.now())
}
