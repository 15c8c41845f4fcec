package emulator

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// The emulator answers STS GetCallerIdentity (the query protocol: a POST
// of form fields, an XML answer), so that tools learn the account of their
// keys from it as they would from AWS: the account the access key maps to
// in Config.Keys, or the default account.

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// isSTS reports whether r is an STS query-protocol request: a form POST
// without the X-Amz-Target of the JSON services.
func isSTS(r *http.Request) bool {
	return r.Method == http.MethodPost && r.Header.Get("X-Amz-Target") == "" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

type stsIdentity struct {
	XMLName xml.Name `xml:"GetCallerIdentityResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Result  struct {
		Arn     string `xml:"Arn"`
		UserID  string `xml:"UserId"`
		Account string `xml:"Account"`
	} `xml:"GetCallerIdentityResult"`
	RequestID string `xml:"ResponseMetadata>RequestId"`
}

type stsError struct {
	XMLName xml.Name `xml:"ErrorResponse"`
	XMLNS   string   `xml:"xmlns,attr"`
	Error   struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	} `xml:"Error"`
	RequestID string `xml:"RequestId"`
}

// stsCodes turns the JSON services' authentication errors into STS's.
var stsCodes = map[string]string{
	"MissingAuthenticationTokenException": "MissingAuthenticationToken",
	"UnrecognizedClientException":         "InvalidClientTokenId",
	"InvalidSignatureException":           "SignatureDoesNotMatch",
	"IncompleteSignatureException":        "IncompleteSignature",
}

func (e *Emulator) serveSTS(w http.ResponseWriter, r *http.Request) {
	reqID := w.Header().Get("x-amzn-RequestId")
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
	if err != nil {
		writeSTSErr(w, reqID, 400, "InvalidInput", "reading the request: "+err.Error())
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		writeSTSErr(w, reqID, 400, "InvalidInput", "the request body is not form-encoded")
		return
	}
	if a := form.Get("Action"); a != "GetCallerIdentity" || form.Get("Version") != "2011-06-15" {
		writeSTSErr(w, reqID, 400, "InvalidAction", fmt.Sprintf("the emulator answers only STS GetCallerIdentity (Version 2011-06-15), not %q", a))
		return
	}
	acct, _, aerr := e.authenticate(r, body)
	if aerr != nil {
		code := stsCodes[aerr.Type]
		if code == "" {
			code = aerr.Type
		}
		writeSTSErr(w, reqID, aerr.Status, code, aerr.Message)
		return
	}
	keyID := credentialRe.FindStringSubmatch(r.Header.Get("Authorization"))[1]
	out := stsIdentity{XMLNS: stsNamespace, RequestID: reqID}
	sum := sha256.Sum256([]byte(keyID))
	out.Result.UserID = "AIDA" + strings.ToUpper(hex.EncodeToString(sum[:8]))
	out.Result.Arn = "arn:aws:iam::" + acct + ":user/emulated"
	out.Result.Account = acct
	writeXML(w, 200, out)
}

func writeSTSErr(w http.ResponseWriter, reqID string, status int, code, msg string) {
	out := stsError{XMLNS: stsNamespace, RequestID: reqID}
	out.Error.Type, out.Error.Code, out.Error.Message = "Sender", code, msg
	if status >= 500 {
		out.Error.Type = "Receiver"
	}
	writeXML(w, status, out)
}

func writeXML(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, xml.Header)
	_ = xml.NewEncoder(w).Encode(v)
}
