package ssh

import (
	"net"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"golang.org/x/crypto/ssh"
)

// TestServerKexInit reads the server's KEXINIT off the wire and checks it
// offers OpenSSH's lists in OpenSSH's order (minus what x/crypto lacks).
func TestServerKexInit(t *testing.T) {
	for _, tc := range []struct {
		banner            string
		kexFirst, hostKey string
	}{
		{"OpenSSH_9.2p1 Debian-2+deb12u3", "curve25519-sha256", "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"},
		{"OpenSSH_8.2p1 Ubuntu-4ubuntu0.11", "curve25519-sha256", "rsa-sha2-512,rsa-sha2-256,ssh-rsa,ecdsa-sha2-nistp256,ssh-ed25519"},
		{"OpenSSH_10.0p2 Debian-7", "mlkem768x25519-sha256", "rsa-sha2-512,rsa-sha2-256,ecdsa-sha2-nistp256,ssh-ed25519"},
	} {
		t.Run(tc.banner, func(t *testing.T) {
			srv := startServer(t, sharedKeys, map[string]string{"banner": tc.banner})
			h := serverHello(t, srv.addr)
			if h.Version != "SSH-2.0-"+tc.banner {
				t.Errorf("version %q", h.Version)
			}
			if len(h.KEX) == 0 || h.KEX[0] != tc.kexFirst || h.KEX[len(h.KEX)-1] != "kex-strict-s-v00@openssh.com" {
				t.Errorf("kex %v, want %s first", h.KEX, tc.kexFirst)
			}
			if got := strings.Join(h.HostKeys, ","); got != tc.hostKey {
				t.Errorf("host key algorithms %s, want %s", got, tc.hostKey)
			}
			if got := strings.Join(h.Ciphers, ","); got != "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com" {
				t.Errorf("ciphers %s", got)
			}
			if got := strings.Join(h.MACs, ","); got != "hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1" {
				t.Errorf("macs %s", got)
			}
		})
	}
}

// serverHello sends a client version and parses what the server answers
// with the same parser the service uses on clients.
func serverHello(t *testing.T, addr string) clientHello {
	t.Helper()
	c := hptest.Dial(t, addr)
	c.Write([]byte("SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n"))
	var buf []byte
	chunk := make([]byte, 4096)
	for {
		n, err := c.Read(chunk)
		buf = append(buf, chunk[:n]...)
		if h, done := parseHello(buf); done {
			return h
		}
		if err != nil {
			t.Fatalf("reading server hello: %v (%d bytes)", err, len(buf))
		}
	}
}

func TestParseHelloRejectsJunk(t *testing.T) {
	for _, in := range []string{"GET / HTTP/1.1\r\n", "SSH-2.0-x\r\n\xff\xff\xff\xff\x05\x00", "SSH-2.0-x\r\n\x00\x00\x00\x08\x07\x14abcdefg"} {
		h, done := parseHello([]byte(in))
		if !done || len(h.KEX) != 0 {
			t.Errorf("parseHello(%q) = %+v, %v", in, h, done)
		}
	}
}

// TestRSAHostKeyAlgorithms checks a client can pin each RSA signature
// algorithm the server lists, and gets the real RSA key signed with it.
func TestRSAHostKeyAlgorithms(t *testing.T) {
	srv := startServer(t, sharedKeys, map[string]string{"banner": "OpenSSH_8.2p1 Ubuntu-4ubuntu0.11"})
	for _, algo := range []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA} {
		t.Run(algo, func(t *testing.T) {
			var got ssh.PublicKey
			cfg := clientConfig("root", rootPassword(srv.persona), nil)
			cfg.HostKeyAlgorithms = []string{algo}
			cfg.HostKeyCallback = func(_ string, _ net.Addr, k ssh.PublicKey) error { got = k; return nil }
			cl, err := ssh.Dial("tcp", srv.addr, cfg)
			if err != nil {
				t.Fatalf("dial with host key algorithm %s: %v", algo, err)
			}
			cl.Close()
			if got == nil || got.Type() != ssh.KeyAlgoRSA {
				t.Errorf("host key %v, want an ssh-rsa key", got)
			}
		})
	}
}
