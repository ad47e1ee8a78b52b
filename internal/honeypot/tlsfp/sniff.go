package tlsfp

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
)

// ErrNotTLS reports a connection whose first byte is not a TLS handshake
// record: typically plain HTTP sent to a TLS port.
var ErrNotTLS = errors.New("tlsfp: connection does not start with a TLS handshake")

const (
	recordHandshake = 22
	maxRecord       = 16384 + 2048 // TLSCiphertext bound; a hello is plaintext but be lenient
)

// Sniff reads the records that carry the ClientHello opening c and returns
// a connection that first replays every byte it read, then reads on from c,
// so crypto/tls (or a plain-text parser) sees the stream untouched.
//
// The hello is nil when the stream is not TLS (ErrNotTLS, after reading a
// single byte), when the hello is malformed (an error wrapping
// ErrNotClientHello) or when reading failed. Sniff reads at most
// maxHelloBytes plus record headers; c's deadlines bound the wait.
func Sniff(c net.Conn) (net.Conn, *ClientHello, error) {
	var seen bytes.Buffer
	replay := func() net.Conn {
		return &replayConn{Conn: c, r: io.MultiReader(bytes.NewReader(seen.Bytes()), c)}
	}
	first := make([]byte, 1)
	if _, err := io.ReadFull(c, first); err != nil {
		return replay(), nil, err
	}
	seen.Write(first)
	if first[0] != recordHandshake {
		return replay(), nil, ErrNotTLS
	}
	var msg []byte
	hdr := make([]byte, 5)
	hdr[0] = first[0]
	for i := 0; ; i++ {
		off := 1
		if i > 0 {
			off = 0
		}
		got, err := io.ReadFull(c, hdr[off:])
		seen.Write(hdr[off : off+got]) // what arrived is replayed, whole or not
		if err != nil {
			return replay(), nil, err
		}
		if hdr[0] != recordHandshake {
			return replay(), nil, fmt.Errorf("%w: record type %d inside the hello", ErrNotClientHello, hdr[0])
		}
		n := int(hdr[3])<<8 | int(hdr[4])
		if n == 0 || n > maxRecord || len(msg)+n > maxHelloBytes+4 {
			return replay(), nil, fmt.Errorf("%w: record of %d bytes", ErrNotClientHello, n)
		}
		start := len(msg)
		msg = append(msg, make([]byte, n)...)
		got, err = io.ReadFull(c, msg[start:])
		seen.Write(msg[start : start+got])
		if err != nil {
			return replay(), nil, err
		}
		if len(msg) >= 4 {
			want := int(msg[1])<<16 | int(msg[2])<<8 | int(msg[3])
			if want > maxHelloBytes {
				return replay(), nil, fmt.Errorf("%w: hello of %d bytes", ErrNotClientHello, want)
			}
			if len(msg) >= 4+want {
				h, err := ParseClientHello(msg)
				return replay(), h, err
			}
		}
	}
}

// replayConn is a net.Conn whose reads drain r (what Sniff read, then the
// connection itself).
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }
