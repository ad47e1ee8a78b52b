package pop3

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

func dialRaw(addr string) (net.Conn, error) {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(2 * time.Second))
	return c, nil
}

// BenchmarkLoginRetr measures whole sessions over loopback: greeting,
// USER/PASS with the persona's weak password, RETR of the newest bait
// message, QUIT.
func BenchmarkLoginRetr(b *testing.B) {
	p := testPersona()
	addr, _ := start(b, p, nil)
	acct := p.Logins[1]
	n := len(mailbox.For(p, acct.User).Messages)
	script := "USER " + acct.User + "\r\nPASS " + acct.Password + "\r\nRETR " + strconv.Itoa(n) + "\r\nQUIT\r\n"
	b.ReportAllocs()
	for b.Loop() {
		c, err := dialRaw(addr)
		if err != nil {
			b.Fatal(err)
		}
		br := bufio.NewReader(c)
		br.ReadString('\n')
		io.WriteString(c, script)
		got, err := io.ReadAll(br)
		c.Close()
		if err != nil || !strings.HasSuffix(string(got), "+OK Logging out.\r\n") {
			b.Fatalf("session: %v %q", err, got)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}
