package event

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// SDID is the structured-data id DECNET puts on every line.
const SDID = "relay@55555"

// MaxLineLen bounds a line the decoder accepts.
const MaxLineLen = 64 << 10

// Syslog priorities (facility local0).
const (
	priInfo   = 16*8 + 6
	priNotice = 16*8 + 5
)

// lineNamespace seeds the UUIDv5 ids given to foreign lines that carry no
// event_id, so re-ingesting the same line is idempotent.
var lineNamespace = uuid.MustParse("6f1a4a43-3c1e-4a8e-9d59-0c5be1a1d5e7")

// Envelope keys carried as SD params next to the service fields.
const (
	keyEventID = "event_id"
	keySrcIP   = "src_ip"
	keySrcPort = "src_port"
	keyDstIP   = "dst_ip"
	keyDstPort = "dst_port"
	keyProto   = "proto"
	keySession = "session"
	keyMsg     = "msg"

	keyPrincipal = "principal"
	keyKind      = "secret_kind"
	keyPrintable = "secret_printable"
	keyB64       = "secret_b64"
	keyOutcome   = "outcome"
)

// srcIPKeys are the field names the original collector takes the attacker
// address from, in order of preference (spec/engine.md §3.3).
var srcIPKeys = []string{"src_ip", "src", "client_ip", "remote_ip", "remote_addr", "target_ip", "ip"}

// EncodeRFC5424 renders e in DECNET's line format:
//
//	<134>1 2026-05-02T06:22:48.089309+00:00 decky-01 ssh - login_attempt [relay@55555 k="v" …] msg
//
// The envelope (id, addresses, session) and the credential travel as SD
// params; service fields follow, sorted by name. Non-string field values are
// rendered as their JSON text. A "msg" field becomes the free-form MSG part,
// with line breaks turned into spaces and leading BOMs dropped. Timestamps keep microseconds, the
// precision RFC 5424 allows.
//
// In SD values, \, " and ] are backslash-escaped as in DECNET, and CR and LF
// are written as \r and \n, so an attacker-supplied value can never break the
// one-event-per-line framing (and forge a line of its own). DecodeRFC5424
// undoes all five escapes.
func EncodeRFC5424(e *Event) string {
	var b strings.Builder
	b.Grow(256)
	pri := priInfo
	if e.Credential != nil {
		pri = priNotice
	}
	b.WriteByte('<')
	b.WriteString(strconv.Itoa(pri))
	b.WriteString(">1 ")
	b.WriteString(e.Time.UTC().Format("2006-01-02T15:04:05.000000+00:00"))
	b.WriteByte(' ')
	b.WriteString(headerToken(e.Decky, 255))
	b.WriteByte(' ')
	b.WriteString(headerToken(e.Service, 48))
	b.WriteString(" - ")
	b.WriteString(headerToken(e.Type, 32))
	b.WriteString(" [")
	b.WriteString(SDID)
	param := func(k, v string) {
		b.WriteByte(' ')
		b.WriteString(k)
		b.WriteString(`="`)
		escapeSD(&b, v)
		b.WriteByte('"')
	}
	param(keyEventID, e.ID)
	if e.SrcIP != "" {
		param(keySrcIP, e.SrcIP)
	}
	if e.SrcPort != 0 {
		param(keySrcPort, strconv.Itoa(e.SrcPort))
	}
	if e.DstIP != "" {
		param(keyDstIP, e.DstIP)
	}
	if e.DstPort != 0 {
		param(keyDstPort, strconv.Itoa(e.DstPort))
	}
	if e.Proto != "" {
		param(keyProto, e.Proto)
	}
	if e.Session != "" {
		param(keySession, e.Session)
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		if k != keyMsg && !reservedKey(k) {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		param(paramName(k), FieldString(e.Fields[k]))
	}
	if c := e.Credential; c != nil {
		if c.Principal != "" {
			param(keyPrincipal, c.Principal)
		}
		param(keyKind, c.Kind())
		param(keyPrintable, c.SecretPrintable)
		param(keyB64, c.SecretB64)
		if c.Outcome != "" {
			param(keyOutcome, c.Outcome)
		}
	}
	b.WriteByte(']')
	if msg := canonicalMsg(FieldString(e.Fields[keyMsg])); msg != "" {
		b.WriteByte(' ')
		b.WriteString(msg)
	}
	return b.String()
}

// msgBreaks keeps a MSG on one line; MSG has no escapes to carry a break.
var msgBreaks = strings.NewReplacer("\n", " ", "\r", " ")

// FieldString renders a field value the way it appears in an SD param.
func FieldString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case bool:
		return strconv.FormatBool(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	default:
		j, err := json.Marshal(x)
		if err != nil {
			return fmt.Sprint(x)
		}
		return string(j)
	}
}

func reservedKey(k string) bool {
	switch k {
	case keyEventID, keySrcIP, keySrcPort, keyDstIP, keyDstPort, keyProto, keySession,
		keyPrincipal, keyKind, keyPrintable, keyB64, keyOutcome:
		return true
	}
	return false
}

// headerToken makes s a valid header field: printable ASCII, no spaces, "-" when empty.
func headerToken(s string, max int) string {
	if s == "" {
		return "-"
	}
	if len(s) > max {
		s = s[:max]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
}

// paramName makes k a valid SD-NAME: 1–32 printable ASCII, none of = ] " or space.
func paramName(k string) string {
	if k == "" {
		return "_"
	}
	if len(k) > 32 {
		k = k[:32]
	}
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' || r == '=' || r == ']' || r == '"' {
			return '_'
		}
		return r
	}, k)
}

func escapeSD(b *strings.Builder, v string) {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\', '"', ']':
			b.WriteByte('\\')
			b.WriteByte(c)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
}

// ErrSyntax is returned for lines that are not RFC 5424.
var ErrSyntax = errors.New("rfc5424: syntax error")

// DecodeRFC5424 parses one line in DECNET's format, including the original's
// quirks: the double-wrapped bash command lines, free-form "CMD uid=… cmd=…"
// messages, and attacker addresses under any of the collector's field names.
// Lines without an event_id get a UUIDv5 of the line, so ingesting the same
// line twice is harmless. The result is not validated; call Validate.
//
// The decoder is as strict as RFC 5424 where the encoder relies on it: header
// fields must be printable US-ASCII within their length limits and SD param
// names valid SD-NAMEs, so that every line it accepts re-encodes to a line
// that decodes to the same event.
func DecodeRFC5424(line string) (Event, error) {
	line = strings.TrimRight(line, "\r\n")
	if len(line) > MaxLineLen {
		return Event{}, fmt.Errorf("%w: line longer than %d bytes", ErrSyntax, MaxLineLen)
	}
	rest, ok := strings.CutPrefix(line, "<")
	if !ok {
		return Event{}, fmt.Errorf("%w: no priority", ErrSyntax)
	}
	pri, rest, ok := strings.Cut(rest, ">")
	if n, err := strconv.Atoi(pri); !ok || err != nil || n < 0 || n > 191 || len(pri) > 3 {
		return Event{}, fmt.Errorf("%w: bad priority", ErrSyntax)
	}
	rest, ok = strings.CutPrefix(rest, "1 ")
	if !ok {
		return Event{}, fmt.Errorf("%w: not version 1", ErrSyntax)
	}
	h, err := parseBody(rest)
	if err != nil {
		return Event{}, err
	}
	// Double wrap: rsyslog wrapped logger's own RFC 5424 line as MSG.
	if h.msgID == "-" && h.params == nil {
		if inner := strings.TrimLeft(h.msg, " "); inner != "" && inner[0] >= '0' && inner[0] <= '9' {
			if ih, err := parseBody(inner); err == nil {
				h = ih
			}
		}
	}
	return h.event(line), nil
}

type header struct {
	ts     time.Time
	host   string
	app    string
	msgID  string
	params map[string]string // relay@55555 params; nil when the line has none
	msg    string
}

// parseBody parses "TS HOST APP PROCID MSGID SD [MSG]".
func parseBody(s string) (header, error) {
	var h header
	var f [5]string
	for i := range f {
		var ok bool
		f[i], s, ok = strings.Cut(s, " ")
		if !ok || f[i] == "" {
			return h, fmt.Errorf("%w: short header", ErrSyntax)
		}
	}
	if f[0] != "-" {
		t, err := time.Parse(time.RFC3339Nano, f[0])
		// The year must stay four digits in UTC, or the event could not be
		// re-encoded as a line that parses.
		if err != nil || t.UTC().Year() < 0 || t.UTC().Year() > 9999 {
			return h, fmt.Errorf("%w: bad timestamp %q", ErrSyntax, f[0])
		}
		h.ts = t.UTC()
	}
	for i, name := range headerNames {
		if !headerOK(f[i+1], headerMax[i]) {
			return h, fmt.Errorf("%w: bad %s %q", ErrSyntax, name, f[i+1])
		}
	}
	h.host, h.app, h.msgID = f[1], f[2], f[4]
	if s == "" || (s[0] != '-' && s[0] != '[') {
		return h, fmt.Errorf("%w: no structured data", ErrSyntax)
	}
	if s[0] == '-' {
		s = s[1:]
	} else {
		var err error
		if h.params, s, err = parseSD(s); err != nil {
			return h, err
		}
	}
	if s != "" {
		if s[0] != ' ' {
			return h, fmt.Errorf("%w: junk after structured data", ErrSyntax)
		}
		h.msg = strings.TrimPrefix(s[1:], "\ufeff")
	}
	return h, nil
}

// Header fields after the timestamp, with their RFC 5424 length limits.
var (
	headerNames = [4]string{"hostname", "app-name", "procid", "msgid"}
	headerMax   = [4]int{255, 48, 128, 32}
)

// headerOK reports whether s can be a header field: 1 to max printable
// US-ASCII characters (RFC 5424 §6). Anything else could not survive
// re-encoding unchanged.
func headerOK(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '!' || s[i] > '~' {
			return false
		}
	}
	return true
}

// validParamName reports whether k is an SD-NAME: 1 to 32 printable US-ASCII
// characters other than '=', ']', '"' and space (RFC 5424 §6.3.3). The
// encoder only writes such names, so the decoder only accepts them.
func validParamName(k string) bool {
	if k == "" || len(k) > 32 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c > '~' || c == '=' || c == ']' || c == '"' {
			return false
		}
	}
	return true
}

// sdUnescape returns the byte an SD value escape \c stands for. Other
// backslashes are literal, as RFC 5424 says.
func sdUnescape(c byte) (byte, bool) {
	switch c {
	case '\\', '"', ']':
		return c, true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	}
	return 0, false
}

// parseSD reads one or more SD elements and returns the params of relay@55555.
func parseSD(s string) (map[string]string, string, error) {
	var out map[string]string
	for len(s) > 0 && s[0] == '[' {
		end := strings.IndexAny(s, " ]")
		if end < 0 {
			return nil, "", fmt.Errorf("%w: unterminated SD element", ErrSyntax)
		}
		id := s[1:end]
		s = s[end:]
		mine := id == SDID
		if mine && out == nil {
			out = map[string]string{}
		}
		for len(s) > 0 && s[0] == ' ' {
			s = s[1:]
			eq := strings.IndexByte(s, '=')
			if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
				return nil, "", fmt.Errorf("%w: bad SD param", ErrSyntax)
			}
			name := s[:eq]
			if !validParamName(name) {
				return nil, "", fmt.Errorf("%w: bad SD param name %q", ErrSyntax, name)
			}
			s = s[eq+2:]
			var v strings.Builder
			closed := false
			for i := 0; i < len(s); i++ {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					if u, ok := sdUnescape(s[i+1]); ok {
						v.WriteByte(u)
						i++
						continue
					}
				}
				if c == '"' {
					s = s[i+1:]
					closed = true
					break
				}
				v.WriteByte(c)
			}
			if !closed {
				return nil, "", fmt.Errorf("%w: unterminated SD value", ErrSyntax)
			}
			if mine {
				out[name] = v.String()
			}
		}
		if len(s) == 0 || s[0] != ']' {
			return nil, "", fmt.Errorf("%w: unterminated SD element", ErrSyntax)
		}
		s = s[1:]
	}
	return out, s, nil
}

// event maps a parsed header onto the envelope.
func (h header) event(line string) Event {
	e := Event{
		Time:    h.ts,
		Decky:   strings.ToLower(h.host),
		Service: h.app,
		Type:    h.msgID,
		Fields:  map[string]any{},
	}
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	p := h.params
	for k, v := range p {
		if !reservedKey(k) {
			e.Fields[k] = v
		}
	}
	// The MSG part wins over a msg SD param. Either is read in the form the
	// encoder writes it back (see canonicalMsg), so decoding a re-encoded
	// line gives the same fields.
	msg := h.msg
	if msg == "" {
		msg = p[keyMsg]
	}
	delete(e.Fields, keyMsg)
	if msg = canonicalMsg(msg); msg != "" {
		if cmd, ok := strings.CutPrefix(msg, "CMD "); ok && (e.Type == "-" || e.Type == TypeCommand) {
			e.Type = TypeCommand
			parseCMD(cmd, e.Fields)
		} else {
			e.Fields[keyMsg] = msg
		}
	}
	if e.Type == "-" {
		e.Type = "log"
	}
	e.ID = p[keyEventID]
	if e.ID == "" {
		e.ID = uuid.NewSHA1(lineNamespace, []byte(line)).String()
	}
	e.SrcPort = portOf(p, keySrcPort, "remote_port")
	e.DstIP = p[keyDstIP]
	e.DstPort = portOf(p, keyDstPort)
	e.Proto, e.Session = p[keyProto], p[keySession]
	for _, k := range srcIPKeys {
		v, ok := e.Fields[k].(string)
		if k == keySrcIP {
			v, ok = p[k], p[k] != ""
		}
		if !ok || v == "" {
			continue
		}
		port := ""
		if host, hp, err := net.SplitHostPort(v); err == nil {
			v, port = host, hp
		}
		if _, err := netip.ParseAddr(v); err == nil {
			// The port of an ip:port value only counts when the address does.
			if n := parsePort(port); n != 0 && e.SrcPort == 0 {
				e.SrcPort = n
			}
			e.SrcIP = v
			if k != keySrcIP {
				delete(e.Fields, k)
			}
			break
		}
	}
	if b64, ok := p[keyB64]; ok {
		e.Credential = &Credential{
			Principal:       firstOf(p, keyPrincipal, "username"),
			SecretKind:      p[keyKind],
			SecretPrintable: p[keyPrintable],
			SecretB64:       b64,
			Outcome:         p[keyOutcome],
		}
		// A missing kind means plaintext, as DECNET's ingester reads it; the
		// encoder writes it out, so decoding fills it in.
		e.Credential.SecretKind = e.Credential.Kind()
	}
	if len(e.Fields) == 0 {
		e.Fields = nil
	}
	return e
}

// canonicalMsg is m as EncodeRFC5424 writes it and DecodeRFC5424 reads it
// back: MSG has no escapes, so line breaks become spaces, and leading BOMs
// (RFC 5424's UTF-8 marker) are dropped.
func canonicalMsg(m string) string {
	return strings.TrimLeft(msgBreaks.Replace(m), "\ufeff")
}

// parseCMD reads the bash hook's "uid=0 user=root src=1.2.3.4 pwd=/root cmd=ls -la".
//
// The hook writes its own keys first, but pwd is the attacker's working
// directory and may hold spaces and "key=value" words of the attacker's
// choosing ("cd '/tmp/x src=8.8.8.8'"). So the first occurrence of a key wins
// (an existing field or an earlier token is never overwritten), and words
// that name an envelope key (event_id, src_ip, …) or msg, or are no valid
// SD-NAME, are ignored.
func parseCMD(s string, fields map[string]any) {
	for s != "" {
		var tok string
		if cmd, ok := strings.CutPrefix(s, "cmd="); ok {
			if _, dup := fields["command"]; !dup {
				fields["command"] = cmd
			}
			return
		}
		tok, s, _ = strings.Cut(s, " ")
		k, v, ok := strings.Cut(tok, "=")
		if !ok || !validParamName(k) || reservedKey(k) || k == keyMsg {
			continue
		}
		if _, dup := fields[k]; !dup {
			fields[k] = v
		}
	}
}

// parsePort reads a TCP/UDP port, 1–65535; anything else is no port (0).
func parsePort(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return 0
	}
	return n
}

// portOf is the first valid port among the values of keys, or 0.
func portOf(m map[string]string, keys ...string) int {
	for _, k := range keys {
		if n := parsePort(m[k]); n != 0 {
			return n
		}
	}
	return 0
}

func firstOf(m map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := m[k]; v != "" {
			return v
		}
	}
	return ""
}
