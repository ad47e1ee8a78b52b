package prober

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"
)

// JARM follows the Salesforce reference implementation (jarm.py, version
// 1.0) byte for byte where it matters to the hash: the ten ClientHellos
// (versions, cipher lists and their orders, GREASE, ALPN lists, extension
// sets), the way a ServerHello is read (fixed offsets, Python slice
// semantics, the reference's error cases), and the fuzzy hash. Its quirks
// are kept on purpose, because fixing them would change the hash:
//   - the ALPN list lacks a comma in the reference, so "spdy/3" and "h2"
//     are one element when the list is reordered;
//   - the SNI carries the host as given, an IP literal included;
//   - the answer is what one read returns (at most 1484 bytes); this
//     implementation keeps reading until the first TLS record is complete,
//     which only differs when the network split a ServerHello;
//   - a read timeout on any of the ten connections gives the all-zero hash.
// Where the reference raises an exception and stops (a hostile server
// whose version's last hex digit is not 0–5, or an ALPN that contains '|'
// or ','), the hash is still computed: the version counts as no answer and
// the raw string is split as the reference would split it.

// ZeroJARM is the hash of a port that answered none of the ten hellos with
// a ServerHello: not TLS, or closed.
const ZeroJARM = "00000000000000000000000000000000000000000000000000000000000000"

// jarmRecvMax is the reference's recv size.
const jarmRecvMax = 1484

// allCiphers is the reference's "ALL" list, in its order.
var allCiphers = []uint16{
	0x0016, 0x0033, 0x0067, 0xc09e, 0xc0a2, 0x009e, 0x0039, 0x006b, 0xc09f, 0xc0a3,
	0x009f, 0x0045, 0x00be, 0x0088, 0x00c4, 0x009a, 0xc008, 0xc009, 0xc023, 0xc0ac,
	0xc0ae, 0xc02b, 0xc00a, 0xc024, 0xc0ad, 0xc0af, 0xc02c, 0xc072, 0xc073, 0xcca9,
	0x1302, 0x1301, 0xcc14, 0xc007, 0xc012, 0xc013, 0xc027, 0xc02f, 0xc014, 0xc028,
	0xc030, 0xc060, 0xc061, 0xc076, 0xc077, 0xcca8, 0x1305, 0x1304, 0x1303, 0xcc13,
	0xc011, 0x000a, 0x002f, 0x003c, 0xc09c, 0xc0a0, 0x009c, 0x0035, 0x003d, 0xc09d,
	0xc0a1, 0x009d, 0x0041, 0x00ba, 0x0084, 0x00c0, 0x0007, 0x0004, 0x0005,
}

// no13Ciphers is "NO1.3": ALL without the TLS 1.3 suites, same order.
var no13Ciphers = func() []uint16 {
	var out []uint16
	for _, c := range allCiphers {
		if c>>8 != 0x13 {
			out = append(out, c)
		}
	}
	return out
}()

// cipherIndex is the reference's list for the fuzzy hash: a cipher is
// written as its 1-based position here, in two hex digits.
var cipherIndex = []uint16{
	0x0004, 0x0005, 0x0007, 0x000a, 0x0016, 0x002f, 0x0033, 0x0035, 0x0039, 0x003c,
	0x003d, 0x0041, 0x0045, 0x0067, 0x006b, 0x0084, 0x0088, 0x009a, 0x009c, 0x009d,
	0x009e, 0x009f, 0x00ba, 0x00be, 0x00c0, 0x00c4, 0xc007, 0xc008, 0xc009, 0xc00a,
	0xc011, 0xc012, 0xc013, 0xc014, 0xc023, 0xc024, 0xc027, 0xc028, 0xc02b, 0xc02c,
	0xc02f, 0xc030, 0xc060, 0xc061, 0xc072, 0xc073, 0xc076, 0xc077, 0xc09c, 0xc09d,
	0xc09e, 0xc09f, 0xc0a0, 0xc0a1, 0xc0a2, 0xc0a3, 0xc0ac, 0xc0ad, 0xc0ae, 0xc0af,
	0xcc13, 0xcc14, 0xcca8, 0xcca9, 0x1301, 0x1302, 0x1303, 0x1304, 0x1305,
}

// ALPN entries, each already length-prefixed as on the wire.
func alpn(s string) []byte { return append([]byte{byte(len(s))}, s...) }

// alpnAll is the reference's list "from weakest to strongest". Its
// "spdy/3" and "h2" are one element (the reference lacks a comma there).
var alpnAll = [][]byte{
	alpn("http/0.9"), alpn("http/1.0"), alpn("http/1.1"), alpn("spdy/1"), alpn("spdy/2"),
	append(alpn("spdy/3"), alpn("h2")...), alpn("h2c"), alpn("hq"),
}

// alpnRare drops h2 and http/1.1.
var alpnRare = [][]byte{
	alpn("http/0.9"), alpn("http/1.0"), alpn("spdy/1"), alpn("spdy/2"), alpn("spdy/3"),
	alpn("h2c"), alpn("hq"),
}

// order is how a list is rearranged: the reference's cipher_mung requests.
type order int

const (
	forward order = iota
	reverse
	topHalf
	bottomHalf
	middleOut
)

// supportedVersions says whether and how a hello carries the
// supported_versions extension.
type supportedVersions int

const (
	svNone supportedVersions = iota // "NO_SUPPORT": only for TLS 1.3 hellos
	sv12                            // "1.2_SUPPORT": 1.0–1.2
	sv13                            // "1.3_SUPPORT": 1.0–1.3
)

// jarmHello is one of the ten probes.
type jarmHello struct {
	version  uint16 // 0x0302, 0x0303, or 0x0304 for a TLS 1.3 hello
	ciphers  []uint16
	order    order
	grease   bool
	rareALPN bool
	sv       supportedVersions
	extOrder order // of the ALPN and supported_versions lists
}

// jarmHellos are the reference's ten probes, in its order.
var jarmHellos = [10]jarmHello{
	{0x0303, allCiphers, forward, false, false, sv12, reverse},
	{0x0303, allCiphers, reverse, false, false, sv12, forward},
	{0x0303, allCiphers, topHalf, false, false, svNone, forward},
	{0x0303, allCiphers, bottomHalf, false, true, svNone, forward},
	{0x0303, allCiphers, middleOut, true, true, svNone, reverse},
	{0x0302, allCiphers, forward, false, false, svNone, forward},
	{0x0304, allCiphers, forward, false, false, sv13, reverse},
	{0x0304, allCiphers, reverse, false, false, sv13, forward},
	{0x0304, no13Ciphers, forward, false, false, sv13, forward},
	{0x0304, allCiphers, middleOut, true, false, sv13, reverse},
}

// mung rearranges a list the way the reference's cipher_mung does.
func mung[T any](in []T, o order) []T {
	n := len(in)
	var out []T
	switch o {
	case forward:
		return append(out, in...)
	case reverse:
		for i := n - 1; i >= 0; i-- {
			out = append(out, in[i])
		}
	case bottomHalf:
		if n%2 == 1 {
			return append(out, in[n/2+1:]...)
		}
		return append(out, in[n/2:]...)
	case topHalf:
		if n%2 == 1 {
			out = append(out, in[n/2])
		}
		out = append(out, mung(mung(in, reverse), bottomHalf)...)
	case middleOut:
		mid := n / 2
		if n%2 == 1 {
			out = append(out, in[mid])
			for i := 1; i <= mid; i++ {
				out = append(out, in[mid+i], in[mid-i])
			}
		} else {
			for i := 1; i <= mid; i++ {
				out = append(out, in[mid-1+i], in[mid-i])
			}
		}
	}
	return out
}

// grease returns one of the sixteen GREASE values, as the reference picks.
func grease() []byte {
	b := byte(mrand.IntN(16))<<4 | 0x0a
	return []byte{b, b}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func be16(b []byte, v int) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }

// build returns the ClientHello record for host (the SNI, as given).
func (h jarmHello) build(host string) []byte {
	recordVersion, helloVersion := h.version, h.version
	if h.version == 0x0304 {
		recordVersion, helloVersion = 0x0301, 0x0303
	}
	var body []byte
	body = be16(body, int(helloVersion))
	body = append(body, randomBytes(32)...)
	body = append(body, 32)
	body = append(body, randomBytes(32)...)
	ciphers := mung(h.ciphers, h.order)
	var cs []byte
	if h.grease {
		cs = append(cs, grease()...)
	}
	for _, c := range ciphers {
		cs = be16(cs, int(c))
	}
	body = be16(body, len(cs))
	body = append(body, cs...)
	body = append(body, 1, 0) // one compression method: null
	ext := h.extensions(host)
	body = be16(body, len(ext))
	body = append(body, ext...)

	hs := []byte{1, 0}
	hs = be16(hs, len(body))
	hs = append(hs, body...)
	rec := []byte{0x16}
	rec = be16(rec, int(recordVersion))
	rec = be16(rec, len(hs))
	return append(rec, hs...)
}

func (h jarmHello) extensions(host string) []byte {
	var e []byte
	if h.grease {
		e = append(e, grease()...)
		e = append(e, 0, 0)
	}
	// server_name
	e = append(e, 0, 0)
	e = be16(e, len(host)+5)
	e = be16(e, len(host)+3)
	e = append(e, 0)
	e = be16(e, len(host))
	e = append(e, host...)
	e = append(e, 0x00, 0x17, 0x00, 0x00)       // extended_master_secret
	e = append(e, 0x00, 0x01, 0x00, 0x01, 0x01) // max_fragment_length 2^9
	e = append(e, 0xff, 0x01, 0x00, 0x01, 0x00) // renegotiation_info
	e = append(e, 0x00, 0x0a, 0x00, 0x0a, 0x00, 0x08, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x19)
	e = append(e, 0x00, 0x0b, 0x00, 0x02, 0x01, 0x00) // ec_point_formats
	e = append(e, 0x00, 0x23, 0x00, 0x00)             // session_ticket
	// ALPN
	list := alpnAll
	if h.rareALPN {
		list = alpnRare
	}
	var protos []byte
	for _, p := range mung(list, h.extOrder) {
		protos = append(protos, p...)
	}
	e = append(e, 0x00, 0x10)
	e = be16(e, len(protos)+2)
	e = be16(e, len(protos))
	e = append(e, protos...)
	e = append(e, 0x00, 0x0d, 0x00, 0x14, 0x00, 0x12, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01,
		0x05, 0x03, 0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01, 0x02, 0x01) // signature_algorithms
	// key_share: an optional GREASE share of one byte, then x25519
	var share []byte
	if h.grease {
		share = append(share, grease()...)
		share = append(share, 0x00, 0x01, 0x00)
	}
	share = append(share, 0x00, 0x1d, 0x00, 0x20)
	share = append(share, randomBytes(32)...)
	e = append(e, 0x00, 0x33)
	e = be16(e, len(share)+2)
	e = be16(e, len(share))
	e = append(e, share...)
	e = append(e, 0x00, 0x2d, 0x00, 0x02, 0x01, 0x01) // psk_key_exchange_modes
	if h.version == 0x0304 || h.sv == sv12 {
		vers := [][]byte{{3, 1}, {3, 2}, {3, 3}}
		if h.sv != sv12 {
			vers = append(vers, []byte{3, 4})
		}
		var v []byte
		if h.grease {
			v = append(v, grease()...)
		}
		for _, x := range mung(vers, h.extOrder) {
			v = append(v, x...)
		}
		e = append(e, 0x00, 0x2b)
		e = be16(e, len(v)+1)
		e = append(e, byte(len(v)))
		e = append(e, v...)
	}
	return e
}

// pySlice is Python's data[i:j] for 0 <= i <= j: clamped, never panics.
func pySlice(b []byte, i, j int) []byte {
	if i > len(b) {
		i = len(b)
	}
	if j > len(b) {
		j = len(b)
	}
	if j < i {
		j = i
	}
	return b[i:j]
}

// beUint is Python's int(hex(b), 16): big-endian, any length, 0 for none.
func beUint(b []byte) int {
	v := 0
	for _, x := range b {
		v = v<<8 | int(x)
	}
	return v
}

const noAnswer = "|||"

// ParseServerHello turns a server's answer to one JARM hello into the
// reference's "cipher|version|alpn|extension-types" string, or "|||" when it
// is not a ServerHello (an alert, another protocol, nothing). data is what
// was read, untrusted; it never panics.
func ParseServerHello(data []byte) string {
	if len(data) == 0 || data[0] == 21 || len(data) < 6 || data[0] != 22 || data[5] != 2 || len(data) < 44 {
		return noAnswer
	}
	counter := int(data[43])
	cipher := pySlice(data, counter+44, counter+46)
	version := pySlice(data, 9, 11)
	if v := hex.EncodeToString(version); len(v) == 4 && (v[3] < '0' || v[3] > '5') {
		// The reference would raise computing the version byte.
		return noAnswer
	}
	ext, ok := extensionInfo(data, counter)
	if !ok {
		return noAnswer
	}
	return hex.EncodeToString(cipher) + "|" + hex.EncodeToString(version) + "|" + ext
}

// extensionInfo is the reference's extract_extension_info: "alpn|types".
// ok is false where the reference raises an error that voids the whole
// answer; the "|||" results are those it returns itself.
func extensionInfo(data []byte, counter int) (string, bool) {
	if len(data) <= counter+47 || data[counter+47] == 11 {
		return noAnswer, true
	}
	if string(pySlice(data, counter+50, counter+53)) == "\x0e\xac\x0b" || string(pySlice(data, 82, 85)) == "\x0f\xf0\x0b" {
		return noAnswer, true
	}
	count := 49 + counter
	maximum := beUint(pySlice(data, counter+47, counter+49)) + count - 1
	type ext struct {
		typ   []byte
		val   []byte
		empty bool // declared length 0: the reference stores "" (a str)
	}
	var exts []ext
	for count < maximum {
		typ := pySlice(data, count, count+2)
		lb := pySlice(data, count+2, count+4)
		if len(lb) == 0 {
			return "", false // int('', 16) raises
		}
		n := beUint(lb)
		if n == 0 {
			exts = append(exts, ext{typ: typ, empty: true})
			count += 4
		} else {
			exts = append(exts, ext{typ: typ, val: pySlice(data, count+4, count+4+n)})
			count += n + 4
		}
	}
	var b strings.Builder
	for _, e := range exts {
		if string(e.typ) == "\x00\x10" {
			if e.empty {
				return "", false // "".decode() raises
			}
			v := pySlice(e.val, 3, len(e.val))
			if !utf8.Valid(v) {
				return "", false
			}
			b.Write(v)
			break
		}
	}
	b.WriteByte('|')
	for i, e := range exts {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(hex.EncodeToString(e.typ))
	}
	return b.String(), true
}

// zeroRaw is the raw JARM of a port that gave no ServerHello at all.
var zeroRaw = strings.TrimSuffix(strings.Repeat(noAnswer+",", 10), ",")

// JARMHash is the reference's fuzzy hash of a raw JARM (the ten answers of
// ParseServerHello joined by commas): per answer two hex digits for the
// cipher's position and one letter for the version, then the first 32 hex
// digits of the SHA-256 of the ALPNs and extension lists.
func JARMHash(raw string) string {
	if raw == zeroRaw {
		return ZeroJARM
	}
	var fuzzy strings.Builder
	var rest strings.Builder
	for _, hs := range strings.Split(raw, ",") {
		c := strings.Split(hs, "|")
		get := func(i int) string {
			if i < len(c) {
				return c[i]
			}
			return ""
		}
		fuzzy.WriteString(cipherByte(get(0)))
		fuzzy.WriteString(versionByte(get(1)))
		rest.WriteString(get(2))
		rest.WriteString(get(3))
	}
	sum := sha256.Sum256([]byte(rest.String()))
	fuzzy.WriteString(hex.EncodeToString(sum[:])[:32])
	return fuzzy.String()
}

func cipherByte(c string) string {
	if c == "" {
		return "00"
	}
	n := len(cipherIndex) + 1
	for i, x := range cipherIndex {
		if fmt.Sprintf("%04x", x) == c {
			n = i + 1
			break
		}
	}
	return fmt.Sprintf("%02x", n)
}

func versionByte(v string) string {
	if len(v) < 4 || v[3] < '0' || v[3] > '5' {
		return "0"
	}
	return string("abcdef"[v[3]-'0'])
}

// JARMResult is a JARM with the raw answers it was computed from.
type JARMResult struct {
	Hash string // 62 characters; ZeroJARM when no hello was answered
	Raw  string // ten "cipher|version|alpn|extensions" joined by commas
}

// JARM returns the JARM hash of the TLS server at addr ("host:port").
func (p *Prober) JARM(ctx context.Context, addr string) (string, error) {
	r, err := p.JARMDetail(ctx, addr)
	return r.Hash, err
}

// JARMDetail sends the ten JARM hellos to addr, one connection each, and
// returns the hash and raw answers. A port that answers but not with TLS
// gives ZeroJARM and no error; so does a read timeout, as in the
// reference. The error is ErrUnreachable (wrapped) when none of the ten
// connections could be opened, or ctx's error when it ended.
func (p *Prober) JARMDetail(ctx context.Context, addr string) (JARMResult, error) {
	host, err := hostOf(addr)
	if err != nil {
		return JARMResult{}, err
	}
	answers := make([]string, 0, len(jarmHellos))
	var dialErr error
	connected := false
	for i, h := range jarmHellos {
		if i > 0 && p != nil && p.HelloGap > 0 {
			t := time.NewTimer(p.HelloGap)
			select {
			case <-ctx.Done():
				t.Stop()
			case <-t.C:
			}
		}
		if err := ctx.Err(); err != nil {
			return JARMResult{}, err
		}
		data, err := p.jarmExchange(ctx, addr, h.build(host))
		switch {
		case err == nil:
			connected = true
			answers = append(answers, ParseServerHello(data))
		case errors.Is(err, errJARMTimeout):
			if err := ctx.Err(); err != nil {
				return JARMResult{}, err
			}
			return JARMResult{Hash: ZeroJARM, Raw: zeroRaw}, nil
		default:
			dialErr = err
			answers = append(answers, noAnswer)
		}
	}
	raw := strings.Join(answers, ",")
	res := JARMResult{Hash: JARMHash(raw), Raw: raw}
	if !connected {
		return res, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, dialErr)
	}
	return res, nil
}

var errJARMTimeout = errors.New("jarm: timeout")

// jarmExchange sends one hello and returns what the server answered: the
// first read, completed up to the end of the first TLS record (at most
// jarmRecvMax bytes). A timeout before any byte is errJARMTimeout; an
// error after connecting with nothing read is an empty answer.
func (p *Prober) jarmExchange(ctx context.Context, addr string, hello []byte) ([]byte, error) {
	c, err := p.dial(ctx, addr)
	if err != nil {
		if isTimeout(err) {
			return nil, errJARMTimeout
		}
		return nil, err
	}
	defer c.Close()
	if _, err := c.Write(hello); err != nil {
		if isTimeout(err) {
			return nil, errJARMTimeout
		}
		return []byte{}, nil
	}
	buf := make([]byte, jarmRecvMax)
	n := 0
	for n < len(buf) {
		m, err := c.Read(buf[n:])
		n += m
		if err != nil {
			if n == 0 && isTimeout(err) {
				return nil, errJARMTimeout
			}
			break
		}
		if buf[0] != 0x16 || n < 5 {
			if buf[0] != 0x16 {
				break
			}
			continue
		}
		if need := 5 + int(binary.BigEndian.Uint16(buf[3:5])); n >= need {
			break
		}
	}
	return buf[:n], nil
}
