package ssh

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func TestCheckIdent(t *testing.T) {
	for _, tc := range []struct{ line, want string }{
		{"SSH-2.0-OpenSSH_9.2p1", ""},
		{"SSH-1.99-x", ""},
		{"SSH-2.0-x y z", ""},
		{"SSH- 2.0-x", ""}, // sscanf's %d skips white space
		{"SSH-2.0-", identInvalid},
		{"SSH-2.0", identInvalid},
		{"SSH-", identInvalid},
		{"ssh-2.0-x", identInvalid},
		{"GET / HTTP/1.0", identInvalid},
		{"SSH-x.0-x", identInvalid},
		{"SSH-1.5-x", identMismatch},
		{"SSH-3.0-x", identMismatch},
		{"SSH-1.98-x", identMismatch},
	} {
		if got := checkIdent([]byte(tc.line)); got != tc.want {
			t.Errorf("checkIdent(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

// TestWireReframes checks cleartext packets leave with sshd's framing and
// everything after NEWKEYS is passed through as written.
func TestWireReframes(t *testing.T) {
	a, b := net.Pipe()
	defer b.Close()
	w := newOpenSSHWire(a)
	// x/crypto-style: 16-byte multiple, random padding
	xpkt := func(payload []byte) []byte {
		pad := 16 - (5+len(payload))%16
		if pad < 4 {
			pad += 16
		}
		p := binary.BigEndian.AppendUint32(nil, uint32(1+len(payload)+pad))
		p = append(p, byte(pad))
		p = append(p, payload...)
		return append(p, bytes.Repeat([]byte{0xAA}, pad)...)
	}
	in := [][]byte{[]byte("SSH-2.0-x\r\n"), xpkt([]byte{20, 1, 2, 3}), xpkt([]byte{21}), []byte("encrypted")}
	go func() {
		defer a.Close()
		for _, p := range in {
			// split each write to exercise the buffering
			w.Write(p[:len(p)/2])
			w.Write(p[len(p)/2:])
		}
	}()
	b.SetDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(b)
	want := "SSH-2.0-x\r\n" + string(appendCleartextPacket(nil, []byte{20, 1, 2, 3})) +
		string(appendCleartextPacket(nil, []byte{21})) + "encrypted"
	if string(got) != want {
		t.Errorf("wire bytes\n got %q\nwant %q", got, want)
	}
	if p := appendCleartextPacket(nil, []byte{21}); len(p) != 16 || p[4] != 10 || !bytes.Equal(p[6:], make([]byte, 10)) {
		t.Errorf("NEWKEYS framed as %x, want sshd's 16 bytes with 10 zero bytes of padding", p)
	}
}

// FuzzIdentLine feeds client identification lines through the wire layer:
// it must never panic, and a line it lets through must be one checkIdent
// accepts.
func FuzzIdentLine(f *testing.F) {
	for _, s := range []string{"SSH-2.0-OpenSSH_9.2p1\r\n", "GET / HTTP/1.0\r\n\r\n", "SSH-2.0-a\rb", "\x16\x03\x01\x00",
		"SSH-1.99-x\n", "SSH-+2.-1-x\r\n", strings.Repeat("A", 300) + "\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := net.Pipe()
		w := newOpenSSHWire(a)
		go func() {
			b.Write(data)
			b.Close()
		}()
		go io.Copy(io.Discard, b) // the refusal text
		var line []byte
		one := make([]byte, 1)
		for {
			n, err := w.Read(one)
			if n > 0 {
				line = append(line, one[0])
				if one[0] == '\n' {
					s := strings.TrimRight(strings.TrimSuffix(string(line), "\n"), "\r")
					if checkIdent([]byte(s)) != "" {
						t.Fatalf("let %q through", line)
					}
					break
				}
			}
			if err != nil {
				break
			}
		}
		a.Close()
	})
}

// kexInitPacket builds a client's identification line and cleartext
// KEXINIT packet, as OpenSSH 9.2 sends them.
func kexInitPacket() []byte {
	payload := []byte{20}
	payload = append(payload, make([]byte, 16)...) // cookie
	for _, l := range []string{
		"sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ext-info-c,kex-strict-c-v00@openssh.com",
		"ssh-ed25519-cert-v01@openssh.com,ssh-ed25519,ecdsa-sha2-nistp256,rsa-sha2-512,rsa-sha2-256",
		"chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com", "chacha20-poly1305@openssh.com,aes128-ctr,aes256-gcm@openssh.com",
		"umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com", "umac-64-etm@openssh.com,hmac-sha2-256-etm@openssh.com",
		"none,zlib@openssh.com", "none,zlib@openssh.com", "", "",
	} {
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(l)))
		payload = append(payload, l...)
	}
	payload = append(payload, 0, 0, 0, 0, 0) // first_kex_packet_follows, reserved
	return appendCleartextPacket([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"), payload)
}

// FuzzParseHello feeds the parser of what a client sends in the clear (its
// identification and KEXINIT, the input of HASSH): it must never panic or
// read past its input, whatever the lengths claim.
func FuzzParseHello(f *testing.F) {
	good := kexInitPacket()
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte("SSH-2.0-libssh_0.9.6\r\n\x00\x00\x00\x0c\x0a\x14"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add([]byte("SSH-2.0-x\n\xff\xff\xff\xff\x04"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, complete := parseHello(b)
		if complete && len(h.KEX) > 0 {
			if got := h.hassh(); len(got) != 32 {
				t.Fatalf("hassh %q is not an MD5 hex digest", got)
			}
		}
	})
}

func TestParseHelloOpenSSH(t *testing.T) {
	h, complete := parseHello(kexInitPacket())
	if !complete || h.Version != "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3" || len(h.KEX) != 6 || h.Compression[1] != "zlib@openssh.com" {
		t.Fatalf("parseHello = %+v, %v", h, complete)
	}
}
