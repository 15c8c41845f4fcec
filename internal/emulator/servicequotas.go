package emulator

import (
	"encoding/json"
	"io"
	"net/http"
)

// The emulator also answers Service Quotas' GetServiceQuota for the DNS
// Firewall domains quota, so that tools can read the quota the way they do
// on AWS.
const (
	serviceQuotasTarget = "ServiceQuotasV20190624.GetServiceQuota"
	DomainsQuotaCode    = "L-740A4B31"
)

func (e *Emulator) serveServiceQuota(w http.ResponseWriter, r *http.Request) {
	var in struct{ ServiceCode, QuotaCode string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil {
		writeErr(w, &apiError{Status: 400, Type: "IllegalArgumentException", Message: "the request body is not JSON"})
		return
	}
	if in.ServiceCode != "route53resolver" || in.QuotaCode != DomainsQuotaCode {
		writeErr(w, &apiError{Status: 400, Type: "NoSuchResourceException", Message: "the emulator knows only route53resolver/" + DomainsQuotaCode})
		return
	}
	writeJSON(w, 200, map[string]any{"Quota": map[string]any{
		"ServiceCode": in.ServiceCode, "ServiceName": "Amazon Route 53 Resolver", "QuotaCode": in.QuotaCode,
		"QuotaName": "Domains per account per Region", "Value": float64(e.quotas.Domains), "Unit": "None", "Adjustable": true, "GlobalQuota": false,
	}})
}
