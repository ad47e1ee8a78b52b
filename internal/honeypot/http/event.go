package http

import (
	"encoding/json"
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
func requestEvent(c *honeypot.Conn, req *request, form url.Values, status int, errReason string) event.Event {
	e := c.Event(event.TypeRequest)
	fields := map[string]any{"status": status}
	if errReason != "" {
		fields["error"] = errReason
	}
	if req != nil {
		fields["method"] = req.Method
		fields["path"] = req.Target
		fields["version"] = req.Proto
		fields["headers"], fields["headers_ordered"] = headersJSON(req.Headers)
		fields["user_agent"] = req.Get("User-Agent")
		fields["host"] = req.Get("Host")
		fields["body_size"] = req.BodySize
		if len(req.Body) > 0 {
			fields["body"] = event.Printable(req.Body[:min(len(req.Body), maxBodyInEvent)])
		}
		e.Credential = requestCredential(req, form)
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

// requestCredential takes the credential from the Authorization header
// first, then from a login form in the body.
func requestCredential(req *request, form url.Values) *event.Credential {
	if auth := req.Get("Authorization"); auth != "" {
		if c, ok := honeypot.ClassifyAuthorization(auth); ok {
			return c
		}
	}
	if c, ok := honeypot.FormCredentials(form); ok {
		return c
	}
	return nil
}
