package tftp

import (
	"bytes"
	"encoding/binary"
	"strings"
)

// Opcodes (RFC 1350, RFC 2347).
const (
	opRRQ   = 1
	opWRQ   = 2
	opDATA  = 3
	opACK   = 4
	opERROR = 5
	opOACK  = 6
)

// Error codes (RFC 1350 §5, RFC 2347).
const (
	errUndef    = 0
	errNotFound = 1
	errAccess   = 2
	errDiskFull = 3
	errBadOp    = 4
	errBadID    = 5
	errOptNeg   = 8
)

// option is one RFC 2347 option of a request, in the order sent.
type option struct{ name, value string }

// request is a parsed RRQ or WRQ. When err is set the request was
// malformed and tftpd-hpa would answer it (code errBadOp); unterminated
// says an option field ran to the end of the packet, which tftpd-hpa
// reports only after it has looked the file up.
type request struct {
	op           uint16
	filename     string
	mode         string // lower-cased
	options      []option
	err          string
	unterminated bool
}

// parseRequest parses an RRQ or WRQ as tftpd-hpa 5.2 does: NUL-terminated
// filename and mode, then name/value pairs, an empty field ending the
// list; the mode must be netascii or octet. ok is false for a packet that
// is not a request at all (tftpd-hpa ignores those on its port).
func parseRequest(p []byte) (req request, ok bool) {
	if len(p) < 2 {
		return request{}, false
	}
	req.op = binary.BigEndian.Uint16(p)
	if req.op != opRRQ && req.op != opWRQ {
		return request{}, false
	}
	var fields []string
	for rest := p[2:]; len(rest) > 0 && rest[0] != 0 && len(fields) < 2+2*maxOptions; {
		i := bytes.IndexByte(rest, 0)
		if i < 0 {
			if len(fields) >= 2 {
				req.unterminated = true
			}
			break
		}
		fields = append(fields, string(rest[:i]))
		rest = rest[i+1:]
	}
	if len(fields) > 0 {
		req.filename = fields[0]
	}
	if len(fields) < 2 {
		req.err = "Missing mode"
		return req, true
	}
	req.mode = strings.ToLower(fields[1])
	if req.mode != "netascii" && req.mode != "octet" {
		req.err = "Unknown mode"
		return req, true
	}
	for i := 2; i+1 < len(fields); i += 2 {
		req.options = append(req.options, option{fields[i], fields[i+1]})
	}
	return req, true
}

// maxOptions bounds the options read from one request.
const maxOptions = 16

func errorPacket(code uint16, msg string) []byte {
	b := make([]byte, 4, 5+len(msg))
	binary.BigEndian.PutUint16(b, opERROR)
	binary.BigEndian.PutUint16(b[2:], code)
	b = append(b, msg...)
	return append(b, 0)
}

func ackPacket(block uint16) []byte {
	return []byte{0, opACK, byte(block >> 8), byte(block)}
}

func dataPacket(buf []byte, block uint16, data []byte) []byte {
	buf = append(buf[:0], 0, opDATA, byte(block>>8), byte(block))
	return append(buf, data...)
}

func oackPacket(opts []option) []byte {
	b := []byte{0, opOACK}
	for _, o := range opts {
		b = append(b, o.name...)
		b = append(b, 0)
		b = append(b, o.value...)
		b = append(b, 0)
	}
	return b
}

// toNetascii converts a file for a netascii transfer: LF becomes CR LF and
// a bare CR becomes CR NUL (RFC 1350, as tftpd-hpa sends it).
func toNetascii(b []byte) []byte {
	var out bytes.Buffer
	out.Grow(len(b) + len(b)/16)
	for _, c := range b {
		switch c {
		case '\n':
			out.WriteString("\r\n")
		case '\r':
			out.WriteString("\r\x00")
		default:
			out.WriteByte(c)
		}
	}
	return out.Bytes()
}
