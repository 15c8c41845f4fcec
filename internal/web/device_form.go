package web

import (
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/rpzfw/rpzfw/internal/api"
	"github.com/rpzfw/rpzfw/internal/fwsync"
	"github.com/rpzfw/rpzfw/internal/store"
)

// deviceForm is the add / edit device page: the seed's fields, each with
// the API's message about it, if any.
type deviceForm struct {
	Edit     bool
	ReadOnly bool
	Nickname string // of the device edited
	Values   url.Values
	Errors   map[string]string
	// TopError is a problem that names no field of the form.
	TopError  string
	SecretSet bool
	Policies  []string
	Regions   []string
	// IAM is the device's least-privilege policy (edit only), or IAMErr
	// why there is none yet.
	IAM, IAMErr string
}

// V is a field's value as typed (or as stored).
func (f deviceForm) V(name string) string { return f.Values.Get(name) }

// Err is the message about a field.
func (f deviceForm) Err(name string) string { return f.Errors[name] }

// Checked says whether a checkbox is on.
func (f deviceForm) Checked(name string) bool { return f.Values.Get(name) == "on" }

// formFields are the form's inputs, named as the API's fields, so an API
// error's field names its input.
var textFields = []string{"policy", "note", "region", "rule_group_id", "endpoint_url", "priority_band"}

// credFields are the credential inputs of each type.
var credFields = map[string][]string{
	store.CredAccessKey: {"access_key_id"},
	store.CredRole:      {"role_arn", "external_id"},
}

// commonRegions fill the region field's suggestions.
var commonRegions = []string{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "ca-central-1", "eu-west-1", "eu-west-2", "eu-west-3",
	"eu-central-1", "eu-north-1", "ap-southeast-1", "ap-southeast-2", "ap-northeast-1", "ap-south-1", "sa-east-1"}

// deviceBody turns the form into the API's device input. create sends
// only what was given, so the API fills its defaults. A value the API
// could not even receive (a size that is not a number) is a form error.
func deviceBody(f url.Values, create bool) (map[string]any, map[string]string) {
	body := map[string]any{}
	errs := map[string]string{}
	if create {
		body["nickname"] = strings.TrimSpace(f.Get("nickname"))
	}
	for _, k := range textFields {
		v := f.Get(k)
		if k != "note" {
			v = strings.TrimSpace(v)
		}
		switch {
		case k == "priority_band" && v == "" && !create:
			body[k] = fwsync.DefaultBand.String() // as a new device gets
		case v != "" || !create:
			body[k] = v
		}
	}
	if v := strings.TrimSpace(f.Get("max_policy_size")); v != "" {
		n, err := strconv.Atoi(strings.ReplaceAll(strings.ReplaceAll(v, ",", ""), "_", ""))
		if err != nil {
			errs["max_policy_size"] = "want a whole number of domains, such as 100000"
		} else {
			body["max_policy_size"] = n
		}
	} else if !create {
		errs["max_policy_size"] = "required: the most domains this device may hold (100000 by default in AWS)"
	}
	body["monitor_only"] = f.Get("monitor_only") == "on"
	body["paused"] = f.Get("paused") == "on"
	body["log_upload"] = map[string]any{"enabled": f.Get("log_upload.enabled") == "on",
		"sqs_queue_url": strings.TrimSpace(f.Get("log_upload.sqs_queue_url"))}
	body["credentials"] = credentialsBody(f)
	return body, errs
}

// credentialsBody sends the chosen type's fields, and any other field
// filled in, so that the API says it does not belong rather than it
// being dropped. An empty secret keeps the stored one.
func credentialsBody(f url.Values) map[string]any {
	typ := f.Get("credentials.type")
	c := map[string]any{"type": typ}
	for _, k := range []string{"access_key_id", "role_arn", "external_id"} {
		v := strings.TrimSpace(f.Get("credentials." + k))
		if v != "" || contains(credFields[typ], k) {
			c[k] = v
		}
	}
	if v := f.Get("credentials.secret_access_key"); v != "" {
		c["secret_access_key"] = v
	}
	return c
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// formValues are a stored device's fields as the form shows them.
func formValues(d api.DeviceView) url.Values {
	v := url.Values{}
	v.Set("nickname", d.Nickname)
	v.Set("policy", d.Policy)
	v.Set("note", d.Note)
	v.Set("region", d.Region)
	v.Set("rule_group_id", d.RuleGroupID)
	v.Set("endpoint_url", d.EndpointURL)
	v.Set("priority_band", d.PriorityBand)
	v.Set("max_policy_size", strconv.Itoa(d.MaxPolicySize))
	v.Set("credentials.type", d.Credentials.Type)
	v.Set("credentials.access_key_id", d.Credentials.AccessKeyID)
	v.Set("credentials.role_arn", d.Credentials.RoleARN)
	v.Set("credentials.external_id", d.Credentials.ExternalID)
	v.Set("log_upload.sqs_queue_url", d.LogUpload.SQSQueueURL)
	for k, on := range map[string]bool{"monitor_only": d.MonitorOnly, "paused": d.Paused, "log_upload.enabled": d.LogUpload.Enabled} {
		if on {
			v.Set(k, "on")
		}
	}
	return v
}

// policyNames lists the organization's policies for the policy field.
func (s *Server) policyNames(r *http.Request, u store.User) ([]string, error) {
	var out struct {
		Policies []map[string]any `json:"policies"`
	}
	if err := s.callAPI(r.Context(), u, http.MethodGet, "/api/v1/policies", nil, nil, &out); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out.Policies))
	for _, p := range out.Policies {
		if n, ok := p["name"].(string); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

func (s *Server) renderForm(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User, status int, f deviceForm) {
	names, err := s.policyNames(r, u)
	if err != nil {
		s.internal(w, r, "listing policies", err)
		return
	}
	f.Policies, f.Regions = names, commonRegions
	if s.cfg.SandboxDNS != "" {
		f.Regions = append([]string{"sandbox"}, f.Regions...)
	}
	title := "Add a device"
	if f.Edit {
		title = "Edit " + f.Nickname
		if f.ReadOnly {
			title = "Settings of " + f.Nickname
		}
	}
	s.render(w, status, "device_form", page{Title: title, User: &u, CSRF: sess.CSRF, Admin: u.Role == store.RoleAdmin, Data: f})
}

func (s *Server) newDevicePage(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	v := url.Values{}
	v.Set("max_policy_size", "100000")
	v.Set("credentials.type", store.CredAccessKey)
	s.renderForm(w, r, sess, u, http.StatusOK, deviceForm{Values: v})
}

func (s *Server) createDevice(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	f := deviceForm{Values: r.PostForm}
	body, errs := deviceBody(r.PostForm, true)
	if len(errs) > 0 {
		f.Errors = errs
		s.renderForm(w, r, sess, u, http.StatusUnprocessableEntity, f)
		return
	}
	var d api.DeviceView
	if err := s.callAPI(r.Context(), u, http.MethodPost, "/api/v1/devices", nil, body, &d); err != nil {
		s.formFailed(w, r, sess, u, f, err)
		return
	}
	s.log.Info("device created", "user", u.Name, "device", d.Nickname)
	http.Redirect(w, r, "/ui/devices/"+url.PathEscape(d.Nickname)+"?notice=created", http.StatusSeeOther)
}

// formFailed shows the API's refusal next to its field, or at the top.
func (s *Server) formFailed(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User, f deviceForm, err error) {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status >= 500 {
		s.apiFailure(w, r, "saving a device", err)
		return
	}
	f.Errors = map[string]string{}
	if ae.Field != "" && formHasField(ae.Field) {
		f.Errors[ae.Field] = ae.Message
	} else {
		f.TopError = ae.Error()
	}
	status := ae.Status
	if status == http.StatusNotFound {
		status = http.StatusUnprocessableEntity
	}
	s.renderForm(w, r, sess, u, status, f)
}

func formHasField(name string) bool {
	switch name {
	case "nickname", "max_policy_size", "monitor_only", "paused", "log_upload.enabled", "log_upload.sqs_queue_url",
		"credentials.type", "credentials.access_key_id", "credentials.secret_access_key", "credentials.role_arn", "credentials.external_id":
		return true
	}
	return contains(textFields, name)
}

func (s *Server) editDevicePage(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	f := deviceForm{Edit: true, ReadOnly: u.Role != store.RoleAdmin, Nickname: d.Nickname,
		Values: formValues(d), SecretSet: d.Credentials.SecretSet}
	var pol api.IAMPolicyView
	if f.IAMErr = s.optional(r.Context(), u, devicePath(d.Nickname, "iam-policy"), &pol); f.IAMErr == "" {
		f.IAM = indentJSON(pol.Policy)
	}
	s.renderForm(w, r, sess, u, http.StatusOK, f)
}

func (s *Server) updateDevice(w http.ResponseWriter, r *http.Request, sess store.Session, u store.User) {
	d, ok := s.loadDevice(w, r, u)
	if !ok {
		return
	}
	f := deviceForm{Edit: true, Nickname: d.Nickname, Values: r.PostForm, SecretSet: d.Credentials.SecretSet}
	f.Values.Set("nickname", d.Nickname)
	body, errs := deviceBody(r.PostForm, false)
	if len(errs) > 0 {
		f.Errors = errs
		s.renderForm(w, r, sess, u, http.StatusUnprocessableEntity, f)
		return
	}
	if err := s.callAPI(r.Context(), u, http.MethodPatch, devicePath(d.Nickname), nil, body, &d); err != nil {
		s.formFailed(w, r, sess, u, f, err)
		return
	}
	s.log.Info("device changed", "user", u.Name, "device", d.Nickname)
	http.Redirect(w, r, "/ui/devices/"+url.PathEscape(d.Nickname)+"?notice=saved", http.StatusSeeOther)
}
