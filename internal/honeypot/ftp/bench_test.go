package ftp

import (
	"io"
	"testing"
)

// BenchmarkLoginList measures a session: greeting, a successful login and
// a passive LIST of a directory.
func BenchmarkLoginList(b *testing.B) {
	srv := startServer(b, nil)
	u := testPersona.Logins[0]
	for b.Loop() {
		c := dial(b, srv.addr)
		c.read()
		c.login(u.User, u.Password)
		d := c.epsv()
		if r := c.cmd("LIST /etc"); r[:3] != "150" {
			b.Fatalf("LIST: %q", r)
		}
		io.Copy(io.Discard, d)
		d.Close()
		c.read()
		c.cmd("QUIT")
		c.c.Close()
	}
}
