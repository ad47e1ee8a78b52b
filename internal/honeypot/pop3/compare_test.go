package pop3

// Differential test: the same probe sessions against a real Dovecot 2.3
// (Debian's dovecot-pop3d) and against the service, transcripts compared
// line for line. Dovecot is given the persona's bait mailbox, so the
// message listing, sizes and retrieved texts must match too.
//
// Remaining known differences, not compared:
//   - UIDL values: Dovecot's UIDVALIDITY is the time the test maildir was
//     made, ours is drawn from the persona (the format, %08x%08x, matches).
//   - Dovecot's anvil auth penalty grows the delay of repeated failures from
//     one address up to 15 s; the service waits a fixed auth_fail_delay_ms.
//   - DELE then QUIT expunges on Dovecot; the service forgets deletions
//     when the connection ends, so the next login sees the whole mailbox.
//   - After login, Dovecot's bad-command limit (20 in a row) is assumed,
//     not measured.

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox/dovecottest"
)

// probes are sessions on fresh connections: each line is sent after the
// answer to the previous one was read.
var probes = []struct {
	name  string
	lines []string
}{
	{"greeting-capa", []string{"CAPA"}},
	{"unknown", []string{"FOO bar", "", "noop", "QUIT"}},
	{"too-many-bad", []string{"A", "B", "C"}},
	{"apop", []string{"APOP root 0123456789abcdef0123456789abcdef", "QUIT"}},
	{"pass-first", []string{"PASS x", "user", "QUIT"}},
	{"auth-mechs", []string{"AUTH", "AUTH LOGIN", "AUTH PLAIN", "*", "AUTH PLAIN", "not base64!", "QUIT"}},
	{"bad-login", []string{"USER nobody-here", "PASS secret", "QUIT"}},
	{"auth-plain-session", []string{"AUTH PLAIN {plain}", "STAT", "QUIT"}},
	// Last to log in: its DELE 2 and QUIT expunge a message on Dovecot.
	{"session", []string{"USER {user}", "PASS {pass}", "CAPA", "STAT", "LIST", "LIST 1", "LIST 0", "LIST x", "LIST 1 x",
		"LIST 99999999999", "RETR 1", "TOP 2 3", "TOP 2 0", "TOP 1", "RETR", "DELE 1", "RETR 1", "LIST", "STAT", "RSET",
		"STAT", "NOOP", "FOO", "USER x", "STLS", "DELE 2", "QUIT"}},
	{"stls", []string{"STLS"}},
	{"long-line", []string{"USER " + strings.Repeat("x", 6000)}},
}

func TestCompareDovecot(t *testing.T) {
	p := testPersona()
	acct := p.Logins[1]
	box := mailbox.For(p, acct.User)
	real := dovecottest.Start(t, p, dovecottest.Account{User: acct.User, Password: acct.Password, Messages: box.Messages})
	ours, _ := start(t, p, nil)
	repl := strings.NewReplacer("{user}", acct.User, "{pass}", acct.Password,
		"{plain}", base64.StdEncoding.EncodeToString([]byte("\x00"+acct.User+"\x00"+acct.Password)))

	for _, pr := range probes {
		t.Run(pr.name, func(t *testing.T) {
			lines := make([]string, len(pr.lines))
			for i, l := range pr.lines {
				lines[i] = repl.Replace(l)
			}
			want := hptest.Transcript(t, real.POP3, lines)
			got := hptest.Transcript(t, ours, lines)
			if w, g := mask(want), mask(got); w != g {
				t.Errorf("transcripts differ\n--- dovecot\n%s\n--- ours\n%s", w, g)
			}
		})
	}
}

// mask blanks what differs by nature: UIDL values.
func mask(s string) string {
	lines := strings.Split(s, "\n")
	inUIDL := false
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, ">>> "):
			inUIDL = strings.HasPrefix(strings.ToUpper(l), ">>> UIDL")
		case inUIDL:
			if f := strings.Fields(l); len(f) >= 2 && len(f[len(f)-1]) == 16 {
				f[len(f)-1] = "<uidl>"
				lines[i] = strings.Join(f, " ")
			}
		}
	}
	return strings.Join(lines, "\n")
}
