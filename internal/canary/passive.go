package canary

import (
	"context"
	"strings"

	"github.com/decnet-go/decnet/internal/event"
)

// Passive detection: an aws_passive token has no callback, but an attacker
// who uses the key against a decky (an S3-looking HTTP service, an
// uploaded ~/.aws/config, a key pasted into a shell) sends its key id, and
// the decky's event carries it.

const (
	maxScanBytes = 1 << 20 // total string bytes looked at per event
	maxScanDepth = 8
	maxScanKeys  = 8 // distinct key ids looked up per event
)

// ScanEvent looks for a planted AWS key id in an event from a decky and,
// when it finds one, records a passive trigger. It reports whether it
// fired. Canary events themselves are never scanned (a trigger's own
// fields must not fire again).
func (l *Listener) ScanEvent(ctx context.Context, ev event.Event) bool {
	if ev.Service == Service {
		return false
	}
	l.init()
	s := scanState{budget: maxScanBytes, seen: map[string]bool{}}
	if c := ev.Credential; c != nil {
		s.str(c.Principal)
		s.str(c.SecretPrintable)
		if sec, err := c.Secret(); err == nil {
			s.str(string(sec))
		}
	}
	s.value(ev.Fields, 0)
	fired := false
	for _, id := range s.ids {
		tok, found, err := l.Tokens.TokenByAccessKey(ctx, id)
		if err != nil {
			l.log().Warn("canary: access key lookup", "decky", ev.Decky, "service", ev.Service, "err", err)
			continue
		}
		if !found || tok.State != StatePlanted {
			continue
		}
		tr := Trigger{Via: "passive", SrcIP: ev.SrcIP, RawHeaders: map[string]string{
			"_source_decky": ev.Decky, "_source_service": ev.Service, "_source_type": ev.Type, "_access_key_id": id,
		}}
		if ev.ID != "" {
			tr.RawHeaders["_source_event"] = ev.ID
		}
		if ua, ok := ev.Fields["user_agent"].(string); ok {
			tr.UserAgent = truncate(ua, maxHeaderValueLen)
		}
		for _, k := range []string{"path", "uri", "url", "raw_url"} {
			if p, ok := ev.Fields[k].(string); ok && p != "" {
				tr.RequestPath = truncate(p, maxRequestPathLen)
				break
			}
		}
		l.fire(ctx, tok, tr)
		fired = true
	}
	return fired
}

type scanState struct {
	budget int
	seen   map[string]bool
	ids    []string
}

func (s *scanState) value(v any, depth int) {
	if depth > maxScanDepth || s.budget <= 0 {
		return
	}
	switch x := v.(type) {
	case string:
		s.str(x)
	case map[string]any:
		for _, e := range x {
			s.value(e, depth+1)
		}
	case []any:
		for _, e := range x {
			s.value(e, depth+1)
		}
	case []string:
		for _, e := range x {
			s.str(e)
		}
	case map[string]string:
		for _, e := range x {
			s.str(e)
		}
	case map[string][]string: // http.Header
		for _, e := range x {
			for _, v := range e {
				s.str(v)
			}
		}
	case []map[string]any:
		for _, e := range x {
			s.value(e, depth+1)
		}
	}
}

// str collects the AWS key ids in one string. The Contains checks are the
// cheap prefilter: almost no event holds either prefix.
func (s *scanState) str(v string) {
	if len(v) > s.budget {
		v = v[:s.budget]
	}
	s.budget -= len(v)
	if !strings.Contains(v, "AKIA") && !strings.Contains(v, "ASIA") {
		return
	}
	for _, id := range findKeyIDs(v) {
		if len(s.ids) >= maxScanKeys {
			return
		}
		if !s.seen[id] {
			s.seen[id] = true
			s.ids = append(s.ids, id)
		}
	}
}

// findKeyIDs finds (AKIA|ASIA) + 16 of [A-Z2-7], not inside a longer run
// of key characters (a key id is a token of its own: after "Credential=",
// "=", a quote or a space).
func findKeyIDs(v string) []string {
	var out []string
	for i := 0; i+20 <= len(v); i++ {
		if v[i] != 'A' || (v[i+1:i+4] != "KIA" && v[i+1:i+4] != "SIA") {
			continue
		}
		if i > 0 && isKeyWordChar(v[i-1]) {
			continue
		}
		ok := true
		for j := i + 4; j < i+20; j++ {
			c := v[j]
			if !(c >= 'A' && c <= 'Z' || c >= '2' && c <= '7') {
				ok = false
				break
			}
		}
		if !ok || (i+20 < len(v) && isKeyWordChar(v[i+20])) {
			continue
		}
		out = append(out, v[i:i+20])
		i += 19
	}
	return out
}

func isKeyWordChar(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
}
