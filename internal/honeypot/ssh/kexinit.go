package ssh

import (
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"net"
	"strings"
	"sync"
)

// clientHello is what the client says in the clear before keys are
// exchanged: its identification line and the algorithm lists of its
// KEXINIT, from which HASSH is computed.
type clientHello struct {
	Version     string
	KEX         []string
	HostKeys    []string
	Ciphers     []string // client to server
	MACs        []string // client to server
	Compression []string // client to server
}

// hasshAlgorithms is the HASSH input string "kex;ciphers;macs;compression".
func (h clientHello) hasshAlgorithms() string {
	return strings.Join([]string{
		strings.Join(h.KEX, ","), strings.Join(h.Ciphers, ","),
		strings.Join(h.MACs, ","), strings.Join(h.Compression, ","),
	}, ";")
}

// hassh is the MD5 of hasshAlgorithms, as in salesforce/hassh.
func (h clientHello) hassh() string {
	sum := md5.Sum([]byte(h.hasshAlgorithms()))
	return hex.EncodeToString(sum[:])
}

// maxHelloBytes bounds what the sniffer buffers: a version line and one
// KEXINIT fit in far less (RFC 4253 caps the version line at 255 bytes and
// OpenSSH KEXINITs are under 2 KiB).
const maxHelloBytes = 16 << 10

// helloSniffer is a net.Conn that watches the first bytes the client sends
// and reports its clientHello once: when the KEXINIT has been read, or with
// the version alone when the client sends something else or too much.
type helloSniffer struct {
	net.Conn
	mu   sync.Mutex
	buf  []byte
	done bool
	// report is called at most once, from the goroutine reading the
	// connection.
	report func(clientHello)
}

func (s *helloSniffer) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done && n > 0 {
		s.buf = append(s.buf, p[:n]...)
		if h, complete := parseHello(s.buf); complete || len(s.buf) >= maxHelloBytes {
			s.finish(h)
		}
	}
	return n, err
}

// flush reports what was seen if the hello never completed.
func (s *helloSniffer) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.done {
		h, _ := parseHello(s.buf)
		if h.Version != "" {
			s.finish(h)
		}
	}
}

func (s *helloSniffer) finish(h clientHello) {
	s.done, s.buf = true, nil
	if s.report != nil {
		s.report(h)
	}
}

// parseHello parses the client's version line and first binary packet.
// complete is true once the KEXINIT was parsed or can no longer follow.
func parseHello(b []byte) (h clientHello, complete bool) {
	// The client's first line must be its identification (RFC 4253 §4.2
	// allows other lines only from the server).
	i := strings.IndexByte(string(b), '\n')
	if i < 0 {
		return h, false
	}
	h.Version = strings.TrimRight(string(b[:i]), "\r")
	if !strings.HasPrefix(h.Version, "SSH-") {
		return h, true
	}
	b = b[i+1:]
	if len(b) < 6 {
		return h, false
	}
	plen := binary.BigEndian.Uint32(b)
	if plen > 35000 || plen < 2 {
		return h, true
	}
	if uint32(len(b)-4) < plen {
		return h, false
	}
	pad := uint32(b[4])
	if pad+1 > plen {
		return h, true
	}
	payload := b[5 : 4+plen-pad]
	const msgKexInit = 20
	if len(payload) < 17 || payload[0] != msgKexInit {
		return h, true
	}
	r := payload[17:] // type + 16-byte cookie
	lists := make([][]string, 0, 8)
	for range 8 { // kex, hostkey, enc c2s, enc s2c, mac c2s, mac s2c, comp c2s, comp s2c
		if len(r) < 4 {
			return h, true
		}
		n := binary.BigEndian.Uint32(r)
		if uint32(len(r)-4) < n {
			return h, true
		}
		var l []string
		if n > 0 {
			l = strings.Split(string(r[4:4+n]), ",")
		}
		lists = append(lists, l)
		r = r[4+n:]
	}
	h.KEX, h.HostKeys, h.Ciphers, h.MACs, h.Compression = lists[0], lists[1], lists[2], lists[4], lists[6]
	return h, true
}
