package http

import (
	"encoding/json"
	"maps"
	"net/url"
	"strings"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// maxBodyInEvent is how much of a body the request event quotes, as DECNET.
const maxBodyInEvent = 512

// requestEvent is the "request" event of one exchange. req holds what was
// parsed, status what the decky answered (0 for nothing), errReason why the
// request was refused or cut short; form holds the body's form fields.
func requestEvent(c *conn, req *request, form url.Values, status int, errReason string) event.Event {
	e := c.Event(event.TypeRequest)
	fields := map[string]any{"status": status}
	maps.Copy(fields, c.tlsFields)
	if errReason != "" {
		fields["error"] = errReason
	}
	if req != nil {
		fields["method"] = req.Method
		fields["path"] = req.Target
		fields["version"] = req.Proto
		fields["headers"], fields["headers_ordered"] = headersJSON(req.Headers)
		fields["header_list"] = headerList(req.Headers)
		fields["user_agent"] = req.Get("User-Agent")
		fields["host"] = req.Get("Host")
		fields["body_size"] = req.BodySize
		if len(req.Body) > 0 {
			fields["body"] = event.Printable(req.Body[:min(len(req.Body), maxBodyInEvent)])
		}
		if auth := req.Get("Authorization"); auth != "" {
			scheme, _, _ := strings.Cut(auth, " ")
			fields["auth_scheme"] = strings.ToLower(scheme)
		}
	}
	e.Fields = fields
	return e
}

// headersJSON renders the headers as DECNET does: a JSON object of name to
// value (repeated fields joined with ", ", the first spelling of a name kept)
// and a JSON array of the lower-case names in wire order.
func headersJSON(hs []header) (object, ordered string) {
	obj := make(map[string]string, len(hs))
	spelling := make(map[string]string, len(hs))
	names := make([]string, 0, len(hs))
	for _, h := range hs {
		lower := strings.ToLower(h.Name)
		names = append(names, lower)
		if name, seen := spelling[lower]; seen {
			obj[name] += ", " + h.Value
			continue
		}
		spelling[lower] = h.Name
		obj[h.Name] = h.Value
	}
	o, _ := json.Marshal(obj) // a map of strings always marshals
	n, _ := json.Marshal(names)
	return string(o), string(n)
}

// headerList renders the headers in wire order with their names as sent:
// a JSON array of [name, value] pairs, repeated fields kept apart.
func headerList(hs []header) string {
	pairs := make([][2]string, len(hs))
	for i, h := range hs {
		pairs[i] = [2]string{h.Name, h.Value}
	}
	b, _ := json.Marshal(pairs) // strings always marshal
	return string(b)
}

// attempt is one credential a request carried and how it came.
type attempt struct {
	cred *event.Credential
	// via is "basic", "digest", "bearer", "form" or "xmlrpc".
	via    string
	fields map[string]any
}

// loginAttempts lists the credentials of a request: its Authorization
// header, the credential its application found (an XML-RPC call), else a
// login form in the body. Each becomes one login_attempt event.
func loginAttempts(req *request, form url.Values, resp *response) []attempt {
	var out []attempt
	if auth := req.Get("Authorization"); auth != "" {
		if c, ok := honeypot.ClassifyAuthorization(auth); ok {
			scheme, _, _ := strings.Cut(strings.TrimSpace(auth), " ")
			a := attempt{cred: c, via: strings.ToLower(scheme)}
			if a.via == "token" {
				a.via = "bearer"
			}
			if p, ok := honeypot.DigestParams(auth); ok {
				a.fields = map[string]any{"digest_method": req.Method}
				for _, k := range []string{"realm", "nonce", "uri", "qop", "nc", "cnonce", "algorithm", "opaque"} {
					if v, ok := p[k]; ok {
						a.fields["digest_"+k] = v
					}
				}
			}
			out = append(out, a)
		}
	}
	if resp.cred != nil {
		return append(out, attempt{cred: resp.cred, via: resp.credVia})
	}
	if req.Method == "POST" {
		if c, ok := honeypot.FormCredentials(form); ok {
			out = append(out, attempt{cred: c, via: "form"})
		}
	}
	return out
}

// loginEvent is the login_attempt event of one credential.
func loginEvent(c *conn, req *request, app string, a attempt) event.Event {
	e := c.Event(event.TypeLoginAttempt)
	fields := map[string]any{
		"method": req.Method, "path": req.Target, "auth": a.via, "app": app,
		"username": a.cred.Principal, "user_agent": req.Get("User-Agent"),
	}
	maps.Copy(fields, c.tlsFields)
	maps.Copy(fields, a.fields)
	e.Fields = fields
	e.Credential = a.cred
	return e
}
