package imap

// Differential test: the same probe sessions against a real Dovecot 2.3
// (Debian's dovecot-imapd, with the persona's bait mailbox, its \Seen flags
// and dates) and against the service, transcripts compared line for line
// after masking what differs by nature.
//
// Masked, not compared:
//   - the "(0.001 + 0.000 secs)" timings of tagged replies;
//   - UIDs, UIDVALIDITY and UIDNEXT: Dovecot numbers the test maildir from
//     1, the service keeps the persona's gapped UIDs;
//   - the order of LIST lines (Dovecot lists folders in directory order).
// Remaining known differences, not probed:
//   - \Recent: the service never reports recent messages (the bait was
//     seen by an earlier session); the probes clear Dovecot's first.
//   - STORE, COPY, MOVE, EXPUNGE, CREATE, RENAME and APPEND are accepted
//     but change nothing beyond the session; LSUB lists every folder as
//     subscribed.
//   - BODYSTRUCTURE is that of a single text/plain part, which is what
//     every bait message is.

import (
	"encoding/base64"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/honeypot/hptest"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox/dovecottest"
)

var probes = []struct {
	name  string
	lines []string
}{
	{"capability", []string{"a CAPABILITY", "b LOGOUT"}},
	{"unknown", []string{"a FOO", "b NOOP", "c ID NIL", "d LOGOUT"}},
	{"too-many-bad", []string{"a FOO", "b LIST \"\" *", "c SELECT INBOX"}},
	{"untagged", []string{"", "g", "x NOOP"}},
	{"login-args", []string{"h LOGIN", "i LOGIN a", "j NOOP", "k LOGOUT"}},
	{"missing-quote", []string{`a LOGIN "ali\"ce" "x`, "b LOGOUT"}},
	{"auth-mechs", []string{"j AUTHENTICATE XYZ", "k AUTHENTICATE PLAIN", "*", "l LOGOUT"}},
	{"bad-login", []string{"a LOGIN nobody-here secret", "b LOGOUT"}},
	{"huge-literal", []string{"a LOGIN {99999999}"}},
	{"long-line", []string{"a LOGIN " + strings.Repeat("x", 9000) + " y"}},
	{"starttls", []string{"a STARTTLS"}},
	// Clears Dovecot's \Recent flags, which the bait never has.
	{"clear-recent", []string{"a LOGIN {user} {pass}", "b SELECT INBOX", "c LOGOUT"}},
	{"session", []string{"a LOGIN {user} {pass}", "b CAPABILITY", `c LIST "" "*"`, `d LIST "" ""`, "e STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)",
		"f STATUS Nope (MESSAGES)", "g SELECT Nope", "h EXAMINE INBOX", "i FETCH 1:* (FLAGS UID RFC822.SIZE)", "j FETCH 1 ENVELOPE", "k FETCH 2 BODY.PEEK[HEADER]",
		"l UID FETCH 1:* (FLAGS)", "m SEARCH ALL", "n SEARCH UNSEEN", "o SEARCH BOGUS", "p FOO", "q FETCH 99 FLAGS", "r FETCH x FLAGS", "s FETCH",
		"t FETCH 1 FAST", "u FETCH 1:2 ALL", "v FETCH 1 (BODY[HEADER.FIELDS (From Subject)])", "w FETCH 3 BODY.PEEK[]<0.10>", "x FETCH 2 BODY[TEXT]",
		"y SEARCH SUBJECT VPN", "z CLOSE", "A FETCH 1 FLAGS", "B LOGIN a b", "C", "D LOGOUT"}},
	{"auth-plain-select", []string{"a AUTHENTICATE PLAIN {plain}", "b SELECT INBOX", "c FETCH 1 BODY[]", "d FETCH 1 RFC822.SIZE", "e LOGOUT"}},
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
			want := mask(hptest.Transcript(t, real.IMAP, lines))
			if pr.name == "clear-recent" {
				return // only prepares Dovecot
			}
			got := mask(hptest.Transcript(t, ours, lines))
			if want != got {
				w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
				i := 0
				for i < min(len(w), len(g)) && w[i] == g[i] {
					i++
				}
				t.Errorf("transcripts differ from line %d\n--- dovecot\n%s\n--- ours\n%s", i+1,
					strings.Join(w[max(0, i-3):], "\n"), strings.Join(g[max(0, i-3):], "\n"))
			}
		})
	}
}

var (
	timingRE = regexp.MustCompile(` \(0\.\d{3} \+ 0\.\d{3}( \+ 0\.\d{3})? secs\)\.`)
	uidRE    = regexp.MustCompile(`(UID|UIDNEXT|UIDVALIDITY) \d+`)
)

func mask(s string) string {
	s = timingRE.ReplaceAllString(s, ".")
	s = uidRE.ReplaceAllString(s, "$1 <n>")
	lines := strings.Split(s, "\n")
	// Sort runs of LIST lines.
	for i := 0; i < len(lines); {
		j := i
		for j < len(lines) && strings.HasPrefix(lines[j], "* LIST ") {
			j++
		}
		if j > i {
			slices.Sort(lines[i:j])
			i = j
		} else {
			i++
		}
	}
	return strings.Join(lines, "\n")
}
