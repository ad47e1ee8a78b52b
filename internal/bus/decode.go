package bus

import (
	"bytes"
	"encoding/binary"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/decnet-go/decnet/internal/event"
)

// The fast path reads the shape our own publishers produce (encoding/json
// output of event.Event: exact lower-case member names, no nulls, integer
// ports, UTC timestamps) token by token, instead of letting the reflective
// decoder rediscover the struct layout for every event. It must give exactly
// what decodeEventsSlow gives, so it only accepts what it can prove it reads
// the same way; on anything else it gives up and the slow path decides, errors
// included. It never reports an error itself.

// decodeEventsFast decodes data if it has the common shape; ok is false when
// the caller must use decodeEventsSlow instead.
func decodeEventsFast(data []byte) (evs []event.Event, ok bool) {
	d := fastDecoders.Get().(*fastDecoder)
	defer d.release()
	d.dec.Reset(bytes.NewBuffer(data), decodeOpts) // a bytes.Buffer is parsed in place, not copied

	switch d.dec.PeekKind() {
	case '{':
		var e event.Event
		if !d.event(&e) {
			return nil, false
		}
		evs = []event.Event{e}
	case '[':
		if !d.begin('[') {
			return nil, false
		}
		// The slow path gives an empty, non-nil slice for []. A marshalled
		// event takes a few hundred bytes; guessing 256 saves most of the
		// regrowth without reserving more memory than the message takes.
		evs = make([]event.Event, 0, len(data)/256)
		for d.dec.PeekKind() == '{' {
			evs = append(evs, event.Event{})
			if !d.event(&evs[len(evs)-1]) {
				return nil, false
			}
		}
		if !d.end(']') {
			return nil, false
		}
	default: // null, other kinds and syntax errors are the slow path's to judge
		return nil, false
	}
	// Like jsonv2.Unmarshal, accept only trailing whitespace.
	if _, err := d.dec.ReadToken(); err != io.EOF {
		return nil, false
	}
	return evs, true
}

// fastDecoder is the reusable state of one decodeEventsFast call.
type fastDecoder struct {
	dec *jsontext.Decoder
	// interned holds strings of the current message that events tend to
	// share (decky, service, type, addresses, session, field names and
	// values), so a batch of 64 events of one decky carries one copy of its
	// name, not 64. It is a small cache indexed by a cheap hash rather than
	// a map: a collision only costs a copy, and a miss little more than the
	// copy it makes anyway.
	interned [256]internedString
}

type internedString struct {
	s string
	v any // s as a fields value, boxed once
}

func (s *internedString) boxed() any {
	if s.v == nil {
		s.v = s.s
	}
	return s.v
}

var fastDecoders = sync.Pool{New: func() any {
	return &fastDecoder{dec: jsontext.NewDecoder(noInput)}
}}

// noInput parks pooled decoders so they do not keep the last message alive.
var noInput = bytes.NewReader(nil)

func (d *fastDecoder) release() {
	d.dec.Reset(noInput)
	d.interned = [len(d.interned)]internedString{} // interning is per message
	fastDecoders.Put(d)
}

// member reads the value of the member name of a T.
type member[T any] struct {
	name string
	read func(d *fastDecoder, v *T) bool
}

// eventMembers and credentialMembers list the members under their exact
// json tag names. Any other name, including a case variant the slow path
// would match case-insensitively, sends the message to the slow path.
var eventMembers = []member[event.Event]{
	{"id", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.ID, false) }},
	{"ts", func(d *fastDecoder, e *event.Event) bool { return d.time(&e.Time) }},
	{"decky", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.Decky, true) }},
	{"service", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.Service, true) }},
	{"type", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.Type, true) }},
	{"src_ip", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.SrcIP, true) }},
	{"src_port", func(d *fastDecoder, e *event.Event) bool { return d.int(&e.SrcPort) }},
	{"dst_ip", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.DstIP, true) }},
	{"dst_port", func(d *fastDecoder, e *event.Event) bool { return d.int(&e.DstPort) }},
	{"proto", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.Proto, true) }},
	{"session", func(d *fastDecoder, e *event.Event) bool { return d.string(&e.Session, true) }},
	{"fields", func(d *fastDecoder, e *event.Event) bool { return d.fields(&e.Fields) }},
	{"credential", func(d *fastDecoder, e *event.Event) bool {
		if d.dec.PeekKind() != '{' { // null or a wrong kind
			return false
		}
		e.Credential = new(event.Credential)
		return object(d, e.Credential, credentialMembers)
	}},
}

var credentialMembers = []member[event.Credential]{
	{"principal", func(d *fastDecoder, c *event.Credential) bool { return d.string(&c.Principal, true) }},
	{"secret_kind", func(d *fastDecoder, c *event.Credential) bool { return d.string(&c.SecretKind, true) }},
	{"secret_printable", func(d *fastDecoder, c *event.Credential) bool { return d.string(&c.SecretPrintable, true) }},
	{"secret_b64", func(d *fastDecoder, c *event.Credential) bool { return d.string(&c.SecretB64, true) }},
	{"outcome", func(d *fastDecoder, c *event.Credential) bool { return d.string(&c.Outcome, true) }},
}

// event reads one JSON object into the zero event e.
func (d *fastDecoder) event(e *event.Event) bool { return object(d, e, eventMembers) }

// object reads a JSON object into the zero struct v.
func object[T any](d *fastDecoder, v *T, members []member[T]) bool {
	if !d.begin('{') {
		return false
	}
	// A repeated member is merged, not replaced, by the slow path (fields
	// maps, the credential), so duplicates are left to it.
	var seen uint64
	next := 0 // members usually come in struct order
	for d.dec.PeekKind() == '"' {
		raw, err := d.dec.ReadValue()
		if err != nil {
			return false
		}
		// The tag names need no escaping, so a name matches one exactly
		// when its raw form does; an escaped name is left to the slow path.
		i := memberIndex(members, raw[1:len(raw)-1], next)
		if i < 0 || seen&(1<<i) != 0 {
			return false
		}
		seen |= 1 << i
		next = i + 1
		if !members[i].read(d, v) {
			return false
		}
	}
	return d.end('}')
}

// memberIndex returns the index of the member called name, or -1,
// looking from index next on first.
func memberIndex[T any](members []member[T], name []byte, next int) int {
	if next < len(members) && members[next].name == string(name) {
		return next
	}
	for i := range members {
		if members[i].name == string(name) {
			return i
		}
	}
	return -1
}

// fields reads the free-form fields object. The slow path decodes each
// value into a fresh any, as UnmarshalDecode into a nil any does; scalars
// are read here the same way, nested objects and arrays are left to
// UnmarshalDecode on the same stream with the same options.
func (d *fastDecoder) fields(m *map[string]any) bool {
	if !d.begin('{') { // null or a wrong kind
		return false
	}
	*m = make(map[string]any, 8) // sized for a typical event's fields
	for d.dec.PeekKind() == '"' {
		name, ok := d.name()
		if !ok {
			return false
		}
		key := d.intern(name).s
		var v any
		switch d.dec.PeekKind() {
		case '"':
			v, ok = d.stringAny()
		case '0':
			v, ok = d.float()
		case 't', 'f', 'n':
			v, ok = d.literal()
		default:
			v, ok = d.anyValue()
		}
		if !ok {
			return false
		}
		n := len(*m)
		if (*m)[key] = v; len(*m) == n { // a duplicate, merged by the slow path
			return false
		}
	}
	return d.end('}')
}

// anyValue reads a nested object or array with the slow path's decoder.
func (d *fastDecoder) anyValue() (any, bool) {
	var v any
	err := jsonv2.UnmarshalDecode(d.dec, &v)
	return v, err == nil
}

// begin reads the opening delimiter of an object or array.
func (d *fastDecoder) begin(kind jsontext.Kind) bool {
	if d.dec.PeekKind() != kind {
		return false
	}
	_, err := d.dec.ReadToken()
	return err == nil
}

// end reads the closing delimiter of the current object or array.
func (d *fastDecoder) end(kind jsontext.Kind) bool {
	tok, err := d.dec.ReadToken()
	return err == nil && tok.Kind() == kind
}

// value reads the next value if it is of the given kind; the slow path
// turns a null into a zero value and rejects other kinds, so a different
// kind is the slow path's business. The result is valid until the next read.
func (d *fastDecoder) value(kind jsontext.Kind) (jsontext.Value, bool) {
	v, err := d.dec.ReadValue()
	return v, err == nil && v.Kind() == kind
}

// name reads an object member name, unquoted. The result is valid until
// the next read.
func (d *fastDecoder) name() ([]byte, bool) {
	raw, err := d.dec.ReadValue() // the caller peeked '"'
	if err != nil {
		return nil, false
	}
	return unquote(raw)
}

// string reads a JSON string into *s, sharing the copy with equal strings
// of the message if intern is set.
func (d *fastDecoder) string(s *string, intern bool) bool {
	raw, ok := d.value('"')
	if !ok {
		return false
	}
	b, ok := unquote(raw)
	if !ok {
		return false
	}
	if intern {
		*s = d.intern(b).s
	} else {
		*s = string(b)
	}
	return true
}

// stringAny reads a JSON string as the slow path reads one into an any.
func (d *fastDecoder) stringAny() (any, bool) {
	raw, ok := d.value('"')
	if !ok {
		return nil, false
	}
	b, ok := unquote(raw)
	if !ok {
		return nil, false
	}
	return d.intern(b).boxed(), true
}

// intern returns b as a string, usually the same one for equal b within a
// message.
func (d *fastDecoder) intern(b []byte) *internedString {
	slot := &d.interned[internSlot(b)]
	if slot.s != string(b) { // the comparison does not copy b
		*slot = internedString{s: string(b)}
	}
	return slot
}

// internSlot hashes the length and the first and last eight bytes of b,
// where strings of one kind tend to differ (decky-01, pass1, 198.51.0.7),
// to an index of fastDecoder.interned.
func internSlot(b []byte) uint8 {
	var head, tail uint64
	if len(b) >= 8 {
		head, tail = binary.LittleEndian.Uint64(b), binary.LittleEndian.Uint64(b[len(b)-8:])
	} else {
		for i, c := range b {
			head |= uint64(c) << (8 * i)
		}
	}
	const golden = 0x9e3779b97f4a7c15 // Fibonacci hashing: the top bits mix all input bits
	return uint8((head*golden ^ tail ^ uint64(len(b))) * golden >> 56)
}

// float reads a JSON number as the slow path reads one into an any.
func (d *fastDecoder) float() (any, bool) {
	raw, ok := d.value('0')
	if !ok {
		return nil, false
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	return f, err == nil
}

// literal reads true, false or null as the slow path reads one into an any.
func (d *fastDecoder) literal() (any, bool) {
	tok, err := d.dec.ReadToken()
	if err != nil {
		return nil, false
	}
	switch tok.Kind() {
	case 't':
		return true, true
	case 'f':
		return false, true
	}
	return nil, true // null
}

// unquote returns the contents of the JSON string raw. Plain ASCII
// without escapes is the string itself; anything else is unquoted by
// jsontext, and invalid UTF-8 (which the slow path replaces with U+FFFD)
// is left to the slow path.
func unquote(raw jsontext.Value) ([]byte, bool) {
	if s := raw[1 : len(raw)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
		return s, true
	}
	b, err := jsontext.AppendUnquote(nil, raw)
	return b, err == nil
}

// int reads a JSON number that is a plain integer of at most nine digits,
// which fits an int on every platform; the slow path judges the rest
// (fractions, exponents, overflow).
func (d *fastDecoder) int(p *int) bool {
	raw, ok := d.value('0')
	if !ok {
		return false
	}
	digits := raw
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
	}
	n, ok := parseDigits(digits)
	if !ok {
		return false
	}
	if len(digits) != len(raw) {
		n = -n
	}
	*p = n
	return true
}

// time reads a timestamp. UTC ones in our own format are parsed here; for
// any other string the member alone is handed to jsonv2 with the slow path's
// options, which is exactly how the slow path reads it.
func (d *fastDecoder) time(t *time.Time) bool {
	raw, ok := d.value('"')
	if !ok {
		return false
	}
	if tt, ok := parseUTC(raw[1 : len(raw)-1]); ok {
		*t = tt
		return true
	}
	return jsonv2.Unmarshal(raw, t, decodeOpts) == nil
}

// parseUTC parses exactly 2006-01-02T15:04:05Z with an optional fraction of
// one to nine digits. For these, time.Time.UnmarshalText (which jsonv2 calls,
// adding checks that only concern other shapes) validates the same ranges and
// returns time.Date(..., time.UTC); so does parseUTC.
func parseUTC(b []byte) (time.Time, bool) {
	const layout = "2006-01-02T15:04:05"
	if len(b) < len(layout)+1 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := parseDigits(b[0:4])
	month, ok2 := parseDigits(b[5:7])
	day, ok3 := parseDigits(b[8:10])
	hour, ok4 := parseDigits(b[11:13])
	minute, ok5 := parseDigits(b[14:16])
	sec, ok6 := parseDigits(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) ||
		month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	nsec := 0
	if frac := b[len(layout) : len(b)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		n, ok := parseDigits(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) { // scale to nanoseconds
			n *= 10
		}
		nsec = n
	}
	if day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

func daysIn(m time.Month, year int) int {
	switch {
	case m == time.February && year%4 == 0 && (year%100 != 0 || year%400 == 0):
		return 29
	case m == time.February:
		return 28
	case m == time.April || m == time.June || m == time.September || m == time.November:
		return 30
	}
	return 31
}

// parseDigits parses a non-empty run of at most nine decimal digits.
func parseDigits(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 9 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}
