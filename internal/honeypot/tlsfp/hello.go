// Package tlsfp is the TLS face of a decky: what it learns from a client's
// ClientHello (JA3 and JA4 fingerprints, SNI, ALPN) and what it shows in
// return (a persona certificate that stays the same across restarts).
//
// It reads the ClientHello off the wire itself, before crypto/tls sees it,
// because tls.ClientHelloInfo drops what the fingerprints need (extension
// order, GREASE positions, point formats). Sniff wraps a connection so that
// the bytes it read are replayed to crypto/tls untouched. The package emits
// nothing; a service puts Fields into its own events.
package tlsfp

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Extension numbers the fingerprints treat specially.
const (
	extServerName          = 0x0000
	extSupportedGroups     = 0x000a
	extPointFormats        = 0x000b
	extSignatureAlgorithms = 0x000d
	extALPN                = 0x0010
	extSupportedVersions   = 0x002b
)

// ClientHello is what a TLS client announced in its first message. Lists
// are in wire order with GREASE values kept; the fingerprints drop them.
type ClientHello struct {
	// Version is the legacy client_version (0x0303 for TLS 1.2 and 1.3).
	Version             uint16
	CipherSuites        []uint16
	Extensions          []uint16
	SupportedVersions   []uint16
	SupportedGroups     []uint16
	PointFormats        []uint8
	SignatureAlgorithms []uint16
	ALPN                []string
	ServerName          string
}

// ErrNotClientHello reports bytes that are not a TLS ClientHello.
var ErrNotClientHello = errors.New("tlsfp: not a TLS ClientHello")

// maxHelloBytes bounds a ClientHello message (real ones are under 2 KiB;
// post-quantum key shares and padding stay far below this).
const maxHelloBytes = 1 << 16

// ParseClientHello parses a handshake message: the 4-byte handshake header
// (type 1 and a 24-bit length) followed by the ClientHello body.
func ParseClientHello(msg []byte) (*ClientHello, error) {
	if len(msg) < 4 || msg[0] != 1 {
		return nil, ErrNotClientHello
	}
	n := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
	if n > len(msg)-4 {
		return nil, fmt.Errorf("%w: message of %d bytes cut at %d", ErrNotClientHello, n, len(msg)-4)
	}
	r := reader(msg[4 : 4+n])
	h := &ClientHello{}
	var ok bool
	if h.Version, ok = r.u16(); !ok {
		return nil, malformed("version")
	}
	if !r.skip(32) { // random
		return nil, malformed("random")
	}
	if _, ok = r.vec8(); !ok {
		return nil, malformed("session id")
	}
	suites, ok := r.vec16()
	if !ok || len(suites)%2 != 0 {
		return nil, malformed("cipher suites")
	}
	h.CipherSuites = u16s(suites)
	if _, ok = r.vec8(); !ok {
		return nil, malformed("compression methods")
	}
	if len(r) == 0 { // SSL 3.0-style hello without extensions
		return h, nil
	}
	exts, ok := r.vec16()
	if !ok {
		return nil, malformed("extensions")
	}
	for len(exts) > 0 {
		typ, ok1 := exts.u16()
		data, ok2 := exts.vec16()
		if !ok1 || !ok2 {
			return nil, malformed("extension")
		}
		h.Extensions = append(h.Extensions, typ)
		if err := h.parseExtension(typ, data); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (h *ClientHello) parseExtension(typ uint16, data reader) error {
	switch typ {
	case extServerName:
		list, ok := data.vec16()
		for ok && len(list) > 0 {
			kind, ok1 := list.u8()
			name, ok2 := list.vec16()
			if !ok1 || !ok2 {
				return malformed("server name")
			}
			if kind == 0 && h.ServerName == "" {
				h.ServerName = string(name)
			}
		}
		if !ok {
			return malformed("server name")
		}
	case extSupportedGroups, extSignatureAlgorithms:
		list, ok := data.vec16()
		if !ok || len(list)%2 != 0 {
			return malformed("extension " + strconv.Itoa(int(typ)))
		}
		if typ == extSupportedGroups {
			h.SupportedGroups = u16s(list)
		} else {
			h.SignatureAlgorithms = u16s(list)
		}
	case extPointFormats:
		list, ok := data.vec8()
		if !ok {
			return malformed("point formats")
		}
		h.PointFormats = append([]uint8(nil), list...)
	case extALPN:
		list, ok := data.vec16()
		for ok && len(list) > 0 {
			p, ok1 := list.vec8()
			if !ok1 {
				return malformed("alpn")
			}
			h.ALPN = append(h.ALPN, string(p))
		}
		if !ok {
			return malformed("alpn")
		}
	case extSupportedVersions:
		list, ok := data.vec8()
		if !ok || len(list)%2 != 0 {
			return malformed("supported versions")
		}
		h.SupportedVersions = u16s(list)
	}
	return nil
}

func malformed(what string) error { return fmt.Errorf("%w: malformed %s", ErrNotClientHello, what) }

// IsGREASE reports whether v is one of RFC 8701's reserved GREASE values
// (0x0a0a, 0x1a1a, … 0xfafa), which clients sprinkle at random.
func IsGREASE(v uint16) bool { return v&0x0f0f == 0x0a0a && v>>8 == v&0xff }

func noGREASE(vs []uint16) []uint16 {
	out := make([]uint16, 0, len(vs))
	for _, v := range vs {
		if !IsGREASE(v) {
			out = append(out, v)
		}
	}
	return out
}

// JA3 is the JA3 string (Salesforce): version, ciphers, extensions, curves
// and point formats, decimal, GREASE removed.
func (h *ClientHello) JA3() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(h.Version)))
	for _, list := range [][]uint16{noGREASE(h.CipherSuites), noGREASE(h.Extensions), noGREASE(h.SupportedGroups)} {
		b.WriteByte(',')
		for i, v := range list {
			if i > 0 {
				b.WriteByte('-')
			}
			b.WriteString(strconv.Itoa(int(v)))
		}
	}
	b.WriteByte(',')
	for i, v := range h.PointFormats {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(strconv.Itoa(int(v)))
	}
	return b.String()
}

// JA3Hash is the MD5 of the JA3 string, in hex: the form JA3 is shared in.
func (h *ClientHello) JA3Hash() string {
	sum := md5.Sum([]byte(h.JA3()))
	return hex.EncodeToString(sum[:])
}

// JA4 is FoxIO's JA4 fingerprint of a ClientHello received over TCP, e.g.
// "t13d1516h2_8daaf6152771_e5627efa2ab1".
func (h *ClientHello) JA4() string {
	ciphers := noGREASE(h.CipherSuites)
	exts := noGREASE(h.Extensions)
	sni := 'i'
	if slices.Contains(exts, extServerName) {
		sni = 'd'
	}
	a := fmt.Sprintf("t%s%c%02d%02d%s", ja4Version(h), sni, min(len(ciphers), 99), min(len(exts), 99), ja4ALPN(h.ALPN))

	b := "000000000000"
	if len(ciphers) > 0 {
		b = hash12(hexList(slices.Sorted(slices.Values(ciphers))))
	}
	c := "000000000000"
	var hashed []uint16
	for _, e := range exts {
		if e != extServerName && e != extALPN {
			hashed = append(hashed, e)
		}
	}
	if len(hashed) > 0 {
		s := hexList(slices.Sorted(slices.Values(hashed)))
		if sigs := noGREASE(h.SignatureAlgorithms); len(sigs) > 0 {
			s += "_" + hexList(sigs)
		}
		c = hash12(s)
	}
	return a + "_" + b + "_" + c
}

// ja4Version is the highest version offered: supported_versions when
// present, else the legacy version.
func ja4Version(h *ClientHello) string {
	v := h.Version
	if vs := noGREASE(h.SupportedVersions); len(vs) > 0 {
		v = slices.Max(vs)
	}
	switch v {
	case 0x0304:
		return "13"
	case 0x0303:
		return "12"
	case 0x0302:
		return "11"
	case 0x0301:
		return "10"
	case 0x0300:
		return "s3"
	case 0x0002:
		return "s2"
	case 0xfeff:
		return "d1"
	case 0xfefd:
		return "d2"
	case 0xfefc:
		return "d3"
	}
	return "00"
}

// ja4ALPN is the first and last character of the first ALPN value; the
// first and last hex digit of it when either is not alphanumeric.
func ja4ALPN(alpn []string) string {
	if len(alpn) == 0 || alpn[0] == "" {
		return "00"
	}
	p := alpn[0]
	first, last := p[0], p[len(p)-1]
	if isAlnum(first) && isAlnum(last) {
		return string([]byte{first, last})
	}
	x := hex.EncodeToString([]byte(p))
	return string([]byte{x[0], x[len(x)-1]})
}

func isAlnum(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func hexList(vs []uint16) string {
	var b strings.Builder
	for i, v := range vs {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%04x", v)
	}
	return b.String()
}

func hash12(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:6])
}

// VersionName names a TLS version as the fingerprints' consumers expect
// ("TLS 1.3"); the hex value for an unknown one.
func VersionName(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS 1.3"
	case 0x0303:
		return "TLS 1.2"
	case 0x0302:
		return "TLS 1.1"
	case 0x0301:
		return "TLS 1.0"
	case 0x0300:
		return "SSL 3.0"
	}
	return fmt.Sprintf("0x%04x", v)
}

// Fields are the flat event fields describing the hello, named as DECNET's
// tls_client_hello event names them (spec/engine.md §2.2): ja3 (the
// string), ja3_hash, ja4, tls_version (the highest offered), sni, alpn
// (comma-separated), raw_ciphers and raw_extensions (hex, wire order).
func (h *ClientHello) Fields() map[string]any {
	v := h.Version
	if vs := noGREASE(h.SupportedVersions); len(vs) > 0 {
		v = slices.Max(vs)
	}
	return map[string]any{
		"ja3":            h.JA3(),
		"ja3_hash":       h.JA3Hash(),
		"ja4":            h.JA4(),
		"tls_version":    VersionName(v),
		"sni":            h.ServerName,
		"alpn":           strings.Join(h.ALPN, ","),
		"raw_ciphers":    hexList(h.CipherSuites),
		"raw_extensions": hexList(h.Extensions),
	}
}

// reader is a cursor over TLS wire data.
type reader []byte

func (r *reader) u8() (uint8, bool) {
	if len(*r) < 1 {
		return 0, false
	}
	v := (*r)[0]
	*r = (*r)[1:]
	return v, true
}

func (r *reader) u16() (uint16, bool) {
	if len(*r) < 2 {
		return 0, false
	}
	v := binary.BigEndian.Uint16(*r)
	*r = (*r)[2:]
	return v, true
}

func (r *reader) skip(n int) bool {
	if len(*r) < n {
		return false
	}
	*r = (*r)[n:]
	return true
}

func (r *reader) bytes(n int) (reader, bool) {
	if len(*r) < n {
		return nil, false
	}
	v := (*r)[:n]
	*r = (*r)[n:]
	return v, true
}

func (r *reader) vec8() (reader, bool) {
	n, ok := r.u8()
	if !ok {
		return nil, false
	}
	return r.bytes(int(n))
}

func (r *reader) vec16() (reader, bool) {
	n, ok := r.u16()
	if !ok {
		return nil, false
	}
	return r.bytes(int(n))
}

func u16s(b []byte) []uint16 {
	out := make([]uint16, len(b)/2)
	for i := range out {
		out[i] = binary.BigEndian.Uint16(b[2*i:])
	}
	return out
}
