package ssh

import (
	"bytes"
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"time"
)

// OpenSSH's limits and answers for the client's identification line
// (kex.c, kex_exchange_identification, server side).
const (
	maxIdentLine    = 8192 // SSH_MAX_BANNER_LEN
	identInvalid    = "Invalid SSH identification string.\r\n"
	identMismatch   = "Protocol major versions differ.\r\n"
	cleartextBlock  = 8 // OpenSSH's block size before keys are in use
	minPadding      = 4 // RFC 4253 §6
	msgNewKeys      = 21
	maxCleartextPkt = 256 << 10
)

var errIdent = errors.New("ssh: client identification refused")

// openSSHWire sits between x/crypto/ssh and the connection and makes the
// cleartext part of the protocol look like OpenSSH's on the wire, where the
// library behaves differently and nothing it hashes changes:
//
//   - the client's identification line is checked as sshd checks it: a NUL
//     byte, a CR not followed by LF, a first line not starting "SSH-", a
//     malformed "SSH-x.y-software" or a protocol other than 2.0/1.99 get
//     sshd's one-line answer and the connection closes (x/crypto skips
//     non-SSH lines and accepts any "SSH-" line);
//   - the server's KEXINIT is on the wire before the client's first packet
//     reaches the library, as sshd sends it before reading (x/crypto sends
//     it from another goroutine and may close first on a bad packet);
//   - the cleartext binary packets (KEXINIT, KEX reply, NEWKEYS) are
//     re-framed with sshd's padding: to a multiple of 8 bytes with zero
//     bytes (x/crypto pads to 16 with random bytes). The padding is not
//     part of the exchange hash, and no MAC is in use yet.
//
// Everything after the server's NEWKEYS passes through untouched.
type openSSHWire struct {
	net.Conn

	// read side: the identification line
	identDone bool
	expectNL  bool
	ident     []byte
	kexSent   chan struct{} // closed once the first packet went out
	kexWaited bool

	// write side: banner, then cleartext packets until NEWKEYS
	wmu       sync.Mutex
	bannerOut bool
	firstOut  bool
	encrypted bool
	pending   []byte
}

// newOpenSSHWire wraps c.
func newOpenSSHWire(c net.Conn) *openSSHWire {
	return &openSSHWire{Conn: c, kexSent: make(chan struct{})}
}

// kexInitWait bounds how long a read waits for the server's KEXINIT.
const kexInitWait = 5 * time.Second

func (w *openSSHWire) Read(p []byte) (int, error) {
	if w.identDone && !w.kexWaited {
		w.kexWaited = true
		t := time.NewTimer(kexInitWait)
		select {
		case <-w.kexSent:
		case <-t.C:
		}
		t.Stop()
	}
	n, err := w.Conn.Read(p)
	if w.identDone || n == 0 {
		return n, err
	}
	for i := 0; i < n && !w.identDone; i++ {
		switch c := p[i]; {
		case c == '\r':
			w.expectNL = true
		case c == '\n':
			w.identDone = true
			if answer := checkIdent(w.ident); answer != "" {
				return 0, w.refuse(answer)
			}
			w.ident = nil
		case c == 0 || w.expectNL:
			return 0, w.refuse(identInvalid)
		default:
			if w.ident = append(w.ident, c); len(w.ident) > maxIdentLine {
				return 0, w.refuse(identInvalid)
			}
		}
	}
	return n, err
}

// refuse sends sshd's answer to a bad identification line and closes.
func (w *openSSHWire) refuse(answer string) error {
	w.identDone = true
	w.wmu.Lock()
	w.flushPendingLocked()
	w.Conn.Write([]byte(answer))
	w.wmu.Unlock()
	w.Conn.Close()
	return errIdent
}

// checkIdent returns sshd's answer to an identification line it refuses,
// or "" when the line is acceptable. A server accepts no lines before the
// identification, and sshd reads it with sscanf("SSH-%d.%d-%[^\n]").
func checkIdent(line []byte) string {
	s := string(line)
	if len(s) <= 4 || s[:4] != "SSH-" {
		return identInvalid
	}
	major, rest, ok := scanInt(s[4:])
	if !ok || rest == "" || rest[0] != '.' {
		return identInvalid
	}
	minor, rest, ok := scanInt(rest[1:])
	if !ok || len(rest) < 2 || rest[0] != '-' {
		return identInvalid
	}
	if major == 2 || (major == 1 && minor == 99) {
		return ""
	}
	return identMismatch
}

// scanInt reads an integer the way sscanf's %d does: leading white space,
// an optional sign, at least one digit.
func scanInt(s string) (n int, rest string, ok bool) {
	i := 0
	for i < len(s) && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')) {
		i++
	}
	neg := false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		if n < 1<<30 {
			n = n*10 + int(s[i]-'0')
		}
		i++
	}
	if i == start {
		return 0, s, false
	}
	if neg {
		n = -n
	}
	return n, s[i:], true
}

func (w *openSSHWire) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if w.encrypted && len(w.pending) == 0 {
		return w.Conn.Write(p)
	}
	w.pending = append(w.pending, p...)
	if err := w.emitLocked(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// emitLocked writes every complete unit of pending: the banner line, then
// re-framed cleartext packets, then (after NEWKEYS) everything as is.
func (w *openSSHWire) emitLocked() error {
	var out []byte
	for len(w.pending) > 0 {
		switch {
		case w.encrypted:
			out = append(out, w.pending...)
			w.pending = w.pending[:0]
		case !w.bannerOut:
			i := bytes.IndexByte(w.pending, '\n')
			if i < 0 {
				return w.writeOut(out)
			}
			out = append(out, w.pending[:i+1]...)
			w.pending = w.pending[i+1:]
			w.bannerOut = true
		default:
			if len(w.pending) < 5 {
				return w.writeOut(out)
			}
			plen := binary.BigEndian.Uint32(w.pending)
			pad := uint32(w.pending[4])
			if plen > maxCleartextPkt || pad+1 > plen {
				// Not a packet we understand: stop touching the stream.
				w.encrypted = true
				continue
			}
			if uint32(len(w.pending)-4) < plen {
				return w.writeOut(out)
			}
			payload := w.pending[5 : 4+plen-pad]
			out = appendCleartextPacket(out, payload)
			if !w.firstOut {
				w.firstOut = true
				defer close(w.kexSent) // after the write below
			}
			if len(payload) > 0 && payload[0] == msgNewKeys {
				w.encrypted = true
			}
			w.pending = w.pending[4+plen:]
		}
	}
	w.pending = nil
	return w.writeOut(out)
}

func (w *openSSHWire) writeOut(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := w.Conn.Write(b)
	return err
}

// flushPendingLocked writes what is buffered as is (before a close).
func (w *openSSHWire) flushPendingLocked() {
	if len(w.pending) > 0 {
		w.Conn.Write(w.pending)
		w.pending = nil
	}
}

// appendCleartextPacket frames payload as sshd does without a cipher:
// padding to a multiple of the 8-byte block, at least 4 bytes, all zero.
func appendCleartextPacket(b, payload []byte) []byte {
	pad := cleartextBlock - (5+len(payload))%cleartextBlock
	if pad < minPadding {
		pad += cleartextBlock
	}
	b = binary.BigEndian.AppendUint32(b, uint32(1+len(payload)+pad))
	b = append(b, byte(pad))
	b = append(b, payload...)
	return append(b, make([]byte, pad)...)
}
