package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/device"
	"github.com/rpzfw/rpzfw/internal/store"
)

// canaryWait bounds the setup page's read of a test name from AWS.
const canaryWait = 8 * time.Second

// setupData is the setup page: the seed's steps with this device's values.
type setupData struct {
	D        api.DeviceView
	QueueARN string
	IAM      string // the policy JSON, indented
	Account  string
	IAMErr   string
	Canary   *api.CanaryView
	CanaryEr string
	// Dig is the command line of the test step.
	Dig     string
	Sandbox bool
	// Logs is what a logs setup just did (or would do).
	Logs      *api.LogSetupResult
	LogsErr   string
	LogsField string
	LogsForm  url.Values
}

// queueARN is the ARN of an SQS queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME),
// for the bucket notification's destination; "" when the URL says too
// little.
func queueARN(queueURL string) string {
	u, err := url.Parse(queueURL)
	if err != nil {
		return ""
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	region, ok := strings.CutPrefix(u.Hostname(), "sqs.")
	region, ok2 := strings.CutSuffix(region, ".amazonaws.com")
	if len(parts) != 2 || !ok || !ok2 {
		return ""
	}
	return "arn:aws:sqs:" + region + ":" + parts[0] + ":" + parts[1]
}

func (s *Server) deviceSetup(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	data := s.setupFor(r, u, d)
	s.render(w, http.StatusOK, "device_setup", page{Title: "Set up " + d.Nickname, User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: data})
}

func (s *Server) setupFor(r *http.Request, u store.User, d api.DeviceView) setupData {
	data := setupData{D: d, QueueARN: queueARN(d.LogUpload.SQSQueueURL), Sandbox: d.Region == device.SandboxRegion,
		LogsForm: url.Values{"query_logging": {"on"}}}
	var pol api.IAMPolicyView
	if data.IAMErr = s.optional(r.Context(), u, devicePath(d.Nickname, "iam-policy"), &pol); data.IAMErr == "" {
		data.IAM, data.Account = indentJSON(pol.Policy), pol.Account
	}
	// The test name is read from the device's AWS API: bound the wait, so
	// a slow or unreachable account slows the page only so much.
	ctx, cancel := context.WithTimeout(r.Context(), canaryWait)
	defer cancel()
	var c api.CanaryView
	if data.CanaryEr = s.optional(ctx, u, devicePath(d.Nickname, "canary"), &c); data.CanaryEr == "" {
		data.Canary = &c
		data.Dig = "dig " + c.Name
		if data.Sandbox && s.cfg.SandboxDNS != "" {
			if host, port, err := net.SplitHostPort(s.cfg.SandboxDNS); err == nil {
				data.Dig = "dig @" + host + " -p " + port + " " + c.Name
			}
		}
	}
	return data
}

// indentJSON lays a JSON document out for reading and copying, keeping
// its keys in order.
func indentJSON(raw []byte) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// logsSetup is the setup page's one-click logs setup: the API's
// /logs/setup with the device's credentials. The page shows each step.
func (s *Server) logsSetup(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	body := map[string]any{"bucket": strings.TrimSpace(r.PostFormValue("bucket")), "prefix": strings.TrimSpace(r.PostFormValue("prefix")),
		"query_logging": r.PostFormValue("query_logging") == "on", "dry_run": r.PostFormValue("dry_run") == "on"}
	var res api.LogSetupResult
	err := s.callAPI(r.Context(), u, http.MethodPost, devicePath(d.Nickname, "logs", "setup"), nil, body, &res)
	status := http.StatusOK
	if err == nil && !res.DryRun {
		// The device now reads logs: show its settings as they are.
		if err2 := s.callAPI(r.Context(), u, http.MethodGet, devicePath(d.Nickname), nil, nil, &d); err2 != nil {
			s.log.Warn("re-reading a device after logs setup", "device", d.Nickname, "err", err2)
		}
	}
	data := s.setupFor(r, u, d)
	data.LogsForm = r.PostForm
	if err != nil {
		var ae *APIError
		if !errors.As(err, &ae) {
			s.internal(w, r, "setting logs up", err)
			return
		}
		data.LogsErr, data.LogsField, status = ae.Message, ae.Field, ae.Status
	} else {
		data.Logs = &res
		s.log.Info("logs setup", "user", u.Name, "device", d.Nickname, "dry_run", res.DryRun)
	}
	s.render(w, status, "device_setup", page{Title: "Set up " + d.Nickname, User: &u, CSRF: sess.CSRF, Admin: true, Data: data})
}

// preflightData is the result of "test connection".
type preflightData struct {
	D       api.DeviceView
	Report  device.PreflightReport
	Missing []device.Check
	IAM     string
	IAMErr  string
}

// failedChecks are the permissions found missing, and those that failed
// otherwise (not found, credentials refused), each with why.
func failedChecks(rep device.PreflightReport) []device.Check {
	var out []device.Check
	for _, c := range rep.Checks {
		if c.Status == device.CheckMissing || c.Status == device.CheckFailed {
			out = append(out, c)
		}
	}
	return out
}

func (s *Server) devicePreflight(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	var rep device.PreflightReport
	if err := s.callAPI(r.Context(), u, http.MethodPost, devicePath(d.Nickname, "preflight"), nil, nil, &rep); err != nil {
		s.apiFailure(w, r, "running a preflight", err)
		return
	}
	data := preflightData{D: d, Report: rep, Missing: failedChecks(rep)}
	var doc map[string]any
	if err := json.Unmarshal(rep.IAMPolicy, &doc); err != nil {
		data.IAMErr = "the preflight gave no IAM policy"
	} else if msg, ok := doc["error"].(string); ok {
		data.IAMErr = msg
	} else {
		data.IAM = indentJSON(rep.IAMPolicy)
	}
	s.log.Info("preflight", "user", u.Name, "device", d.Nickname, "ok", rep.OK, "missing", len(rep.Missing))
	s.render(w, http.StatusOK, "device_preflight", page{Title: "Connection test of " + d.Nickname, User: &u, CSRF: sess.CSRF, Admin: true, Data: data})
}
