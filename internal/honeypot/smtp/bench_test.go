package smtp

import (
	"strings"
	"testing"
)

// BenchmarkSession measures one full session over loopback, a reply
// awaited for every command: connect, greeting, EHLO, AUTH PLAIN (refused),
// MAIL, RCPT, DATA with a 2 KiB message (stored as an artifact), QUIT.
func BenchmarkSession(b *testing.B) {
	in := start(b, false, nil)
	body := "Subject: bench\r\n\r\n" + strings.Repeat("0123456789abcdef0123456789abcdef\r\n", 60) + ".\r\n"
	b.ReportAllocs()
	for b.Loop() {
		cl := dial(b, in.addr)
		cl.reply()
		cl.cmd("EHLO bench.example")
		cl.cmd("AUTH PLAIN AGFkbWluAHNlY3JldA==")
		cl.cmd("MAIL FROM:<a@b.example>")
		if got := cl.cmd("RCPT TO:<root@localhost>"); got != "250 2.1.5 Ok" {
			b.Fatal(got)
		}
		cl.cmd("DATA")
		cl.send(body)
		if got := cl.reply(); !strings.HasPrefix(got, "250 2.0.0 Ok: queued as") {
			b.Fatal(got)
		}
		cl.cmd("QUIT")
		cl.c.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
