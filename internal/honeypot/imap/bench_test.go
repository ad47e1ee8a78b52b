package imap

import (
	"bufio"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
)

// BenchmarkLoginFetch measures whole sessions over loopback: greeting,
// LOGIN with the persona's weak password, SELECT INBOX, FETCH of the
// newest bait message's BODY[], LOGOUT.
func BenchmarkLoginFetch(b *testing.B) {
	p := testPersona()
	addr, _ := start(b, p, nil)
	acct := p.Logins[1]
	n := len(mailbox.For(p, acct.User).Messages)
	script := "a LOGIN " + acct.User + " " + acct.Password + "\r\nb SELECT INBOX\r\nc FETCH " + strconv.Itoa(n) + " BODY[]\r\nd LOGOUT\r\n"
	b.ReportAllocs()
	for b.Loop() {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		br.ReadString('\n')
		io.WriteString(c, script)
		got, err := io.ReadAll(br)
		c.Close()
		if err != nil || !strings.Contains(string(got), "d OK Logout completed") {
			b.Fatalf("session: %v %q", err, got)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
