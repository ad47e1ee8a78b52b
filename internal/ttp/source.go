package ttp

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/decnet-go/decnet/internal/event"
)

// Source kinds: what a tag was derived from. The first six are DECNET's; the
// others come from events DECNET did not tag.
const (
	KindCommand         = "command"          // a shell (or database shell) command line
	KindIntel           = "intel"            // an intel verdict about the source address
	KindEmail           = "email"            // a message kept by smtp / smtp_relay
	KindCanary          = "canary"           // a canary token was used
	KindFingerprint     = "fingerprint"      // ssh handshake, TLS ClientHello, JARM
	KindIPv6Leak        = "ipv6_leak"        // the attacker's link-local IPv6 identity
	KindHTTPRequest     = "http_request"     // one http/https request
	KindAuthAttempt     = "auth_attempt"     // a login attempt, on any service
	KindFile            = "file"             // a file the attacker left (upload, fetch, tftp write)
	KindDownload        = "download"         // wget / curl / tftp run in a decky shell
	KindTunnel          = "tunnel"           // ssh port forwarding
	KindProtocolCommand = "protocol_command" // ftp / imap / pop3 / smtp protocol verbs
	KindTFTPRequest     = "tftp_request"     // a tftp read or write request
	KindMailRecon       = "mail_recon"       // smtp VRFY / refused RCPT: address harvesting
	KindConnect         = "connect"          // a connection opened
	KindName            = "name_query"       // llmnr / nbns / mdns name resolution
	KindCredential      = "credential"       // a credential reused across deckies (credential.reuse.detected)
	KindIdentity        = "identity"         // attackers clustered into one identity (identity.formed / merged)
)

// defaultField is the field a regex reads when the rule names none.
var defaultField = map[string]string{
	KindCommand:         "command",
	KindHTTPRequest:     "path",
	KindAuthAttempt:     "username",
	KindEmail:           "subject",
	KindFile:            "orig_path",
	KindDownload:        "url",
	KindTunnel:          "dst_host",
	KindProtocolCommand: "command",
	KindTFTPRequest:     "filename",
	KindMailRecon:       "rcpt_domain",
	KindName:            "name",
}

// evidenceAllow is, per source kind, every key a tag's evidence may hold.
// Email evidence is PII-safe: domains and counts, never an address or body.
var evidenceAllow = map[string]map[string]bool{
	KindCommand:         set("command", "cwd", "username", "uid", "matched", "field", "service"),
	KindHTTPRequest:     set("method", "path", "user_agent", "host", "status", "body_size", "matched", "field", "service"),
	KindAuthAttempt:     set("username", "method", "service", "outcome", "secret", "client_version", "matched", "field", "fail_count", "password_count", "user_count", "pair_count", "target_count", "usernames", "deckies", "window_s", "first_seen", "last_seen"),
	KindEmail:           set("subject", "from_domain", "mail_from_domain", "return_path_domain", "rcpt_count", "rcpt_domains", "x_mailer", "dkim_signed", "attachment_count", "attachment_sha256s", "attachment_extensions", "msg_id", "stored_as", "sha256", "mal_hash_match", "trigger", "matched", "field", "service"),
	KindCanary:          set("kind", "token_id", "metric", "matched_signature"),
	KindFingerprint:     set("fingerprint_kind", "fingerprint", "label", "client_version", "service", "port", "rotated_from"),
	KindIPv6Leak:        set("addr", "mac_oui", "iid_kind", "vector", "on_iface", "attacker_v4", "observed_at"),
	KindIntel:           set("provider", "verdict", "score", "signal", "malware_family", "ip"),
	KindFile:            set("stored_as", "sha256", "size", "orig_path", "method", "username", "truncated", "malware_family", "matched", "field", "service"),
	KindDownload:        set("url", "tool", "outcome", "sha256", "stored_as", "username", "cwd", "http_status", "malware_family", "matched", "field"),
	KindTunnel:          set("kind", "dst_host", "dst_port", "orig_host", "orig_port", "bind_host", "bind_port", "username", "matched", "field"),
	KindProtocolCommand: set("command", "arg", "path", "service", "username", "matched", "field"),
	KindTFTPRequest:     set("op", "filename", "mode", "path", "matched", "field"),
	KindMailRecon:       set("verb", "rcpt_domain", "service", "matched", "field"),
	KindConnect:         set("service", "count", "mean_interval_s", "jitter_pct", "window_s"),
	KindName:            set("name", "service", "matched", "field"),
	KindCredential:      set("secret_kind", "target_count", "attacker_count", "deckies", "services", "reuse_id"),
	KindIdentity:        set("identity_uuid", "attacker_count", "observation_count", "winner_uuid", "loser_uuid"),
}

func set(keys ...string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// SourceKinds lists the source kinds a rule may apply to.
func SourceKinds() []string {
	out := make([]string, 0, len(evidenceAllow))
	for k := range evidenceAllow {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// EvidenceKeys lists the keys a tag of the source kind may carry as evidence.
func EvidenceKeys(kind string) []string {
	var out []string
	for k := range evidenceAllow[kind] {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

var protocolCommandServices = set("ftp", "imap", "pop3", "smtp", "smtp_relay")

// SourceKind is the kind of source an event is for tagging, or "" when no
// rule reads such events.
func SourceKind(e *event.Event) string {
	switch e.Type {
	case event.TypeCommand:
		if protocolCommandServices[e.Service] {
			return KindProtocolCommand
		}
		return KindCommand
	case event.TypeRequest:
		switch e.Service {
		case "http", "https":
			return KindHTTPRequest
		case "tftp":
			return KindTFTPRequest
		case "llmnr", "dns":
			return KindName
		}
	case event.TypeLoginAttempt:
		return KindAuthAttempt
	case event.TypeFileCaptured:
		return KindFile
	case "message_stored":
		return KindEmail
	case "download_attempt":
		return KindDownload
	case "tunnel_request":
		return KindTunnel
	case "vrfy", "rcpt_denied":
		return KindMailRecon
	case event.TypeConnect:
		return KindConnect
	case "handshake", "tls_client_hello", "jarm", KindFingerprint:
		return KindFingerprint
	case "ipv6_leak":
		return KindIPv6Leak
	case KindIntel:
		return KindIntel
	case "canary_triggered", "canary_fingerprint", KindCanary:
		return KindCanary
	case KindEmail:
		return KindEmail
	case KindCredential:
		return KindCredential
	case KindIdentity:
		return KindIdentity
	case "name_query":
		return KindName
	}
	return ""
}

// view is an event as the rules read it: its kind and its fields, with the
// envelope and credential reachable under fixed names.
type view struct {
	ev   *event.Event
	kind string
}

// get returns a field as text. Envelope values answer to service, type,
// decky, src_ip, dst_port; the credential to outcome, principal and secret.
func (v *view) get(name string) (string, bool) {
	e := v.ev
	switch name {
	case "service":
		return e.Service, true
	case "type":
		return e.Type, true
	case "decky":
		return e.Decky, true
	case "src_ip":
		return e.SrcIP, e.SrcIP != ""
	case "dst_port":
		return strconv.Itoa(e.DstPort), e.DstPort != 0
	case "outcome":
		if e.Credential != nil && e.Credential.Outcome != "" {
			return e.Credential.Outcome, true
		}
	case "principal":
		if e.Credential != nil {
			return e.Credential.Principal, true
		}
	case "secret":
		if e.Credential != nil {
			return e.Credential.SecretPrintable, true
		}
	case "rcpt_domain":
		if val, ok := e.Fields["value"].(string); ok {
			return addrDomain(val), true
		}
	case "verb":
		return e.Type, true
	case "from_domain":
		if val, ok := e.Fields["from_hdr"].(string); ok {
			return addrDomain(val), true
		}
	case "return_path_domain":
		if val, ok := e.Fields["return_path"].(string); ok {
			return addrDomain(val), true
		}
	case "attachment_extensions":
		exts := make([]string, 0, 4)
		for _, a := range decodeAttachments(e.Fields["attachments_json"]) {
			exts = append(exts, a.ext())
		}
		return strings.Join(exts, ","), len(exts) > 0
	}
	return text(e.Fields[name])
}

// text renders a JSON-typed field value as text.
func text(v any) (string, bool) {
	switch v := v.(type) {
	case nil:
		return "", false
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	case json.Number:
		return v.String(), true
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			s, _ := text(x)
			parts = append(parts, s)
		}
		return strings.Join(parts, ","), true
	case []string:
		return strings.Join(v, ","), true
	}
	return fmt.Sprint(v), true
}

// number reads a numeric field (JSON numbers decode as float64).
func number(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case string:
		f, err := strconv.ParseFloat(v, 64)
		return f, err == nil
	}
	return 0, false
}

// list reads a field holding several values: a JSON array or a comma-separated string.
func list(v any) []string {
	switch v := v.(type) {
	case []any:
		out := make([]string, 0, len(v))
		for _, x := range v {
			if s, ok := text(x); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return v
	case string:
		if v == "" {
			return nil
		}
		parts := strings.Split(v, ",")
		for i := range parts {
			parts[i] = strings.TrimSpace(parts[i])
		}
		return parts
	}
	return nil
}

// addrDomain is the domain of an address in any of "a@b", "<a@b>", "Name <a@b>" forms.
func addrDomain(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		s = s[i+1:]
	}
	s = strings.TrimRight(s, "> ")
	if i := strings.LastIndexByte(s, '@'); i >= 0 {
		return strings.ToLower(s[i+1:])
	}
	return ""
}

const maxEvidenceText = 1024

// evidence builds a tag's evidence: the rule's evidence fields present on
// the event, the kind's implicit ones, and the lifter's extras, all filtered
// through the kind's allowlist.
func (v *view) evidence(r *Rule, h *hit) map[string]any {
	allow := evidenceAllow[v.kind]
	ev := make(map[string]any, len(r.EvidenceFields)+len(h.evidence)+2)
	put := func(k string, val any) {
		if !allow[k] {
			return
		}
		if s, ok := val.(string); ok && len(s) > maxEvidenceText {
			val = s[:maxEvidenceText]
		}
		ev[k] = val
	}
	for _, f := range r.EvidenceFields {
		if val, ok := v.get(f); ok {
			put(f, val)
		}
	}
	if v.kind == KindCommand {
		for _, f := range [...]string{"username", "cwd", "uid"} {
			if _, done := ev[f]; !done {
				if val, ok := v.get(f); ok && val != "" {
					put(f, val)
				}
			}
		}
	}
	for k, val := range h.evidence {
		put(k, val)
	}
	if h.field != "" {
		put("matched", h.matched)
		put("field", h.field)
	}
	return ev
}
