package ssh

import (
	"net"
	"testing"

	"golang.org/x/crypto/ssh"
)

// BenchmarkHandshake measures a full SSH handshake with a successful
// password login.
func BenchmarkHandshake(b *testing.B) {
	srv := startServer(b, sharedKeys, nil)
	cfg := clientConfig("root", rootPassword(srv.persona), nil)
	for b.Loop() {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			b.Fatal(err)
		}
		sc, chans, reqs, err := ssh.NewClientConn(c, srv.addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ssh.NewClient(sc, chans, reqs).Close()
	}
}
