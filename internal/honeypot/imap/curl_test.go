package imap

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// TestCurl drives the service with the real curl binary: folder listing,
// a custom FETCH, a message by UID, a wrong password, and STARTTLS.
func TestCurl(t *testing.T) {
	curl := gate.Tool(t, "curl")
	p := testPersona()
	addr, rec := start(t, p, nil)
	acct := p.Logins[1]
	box := mailbox.For(p, acct.User)
	base := "imap://" + addr
	user := acct.User + ":" + acct.Password
	run := func(args ...string) (string, error) {
		out, err := exec.Command(curl, append([]string{"-s", "-S"}, args...)...).CombinedOutput()
		return string(out), err
	}

	out, err := run(base+"/", "-u", user)
	if err != nil || !strings.Contains(out, `* LIST (\HasNoChildren) "." INBOX`) || !strings.Contains(out, `\Sent) "." Sent`) {
		t.Errorf("curl list: %v\n%s", err, out)
	}
	n := len(box.Messages)
	out, err = run(base+"/INBOX", "-u", user, "-X", "FETCH "+strconv.Itoa(n)+" BODY[]")
	// curl prints the untagged lines of a custom command, not literals.
	if err != nil || !strings.Contains(out, "* "+strconv.Itoa(n)+" FETCH (FLAGS (\\Seen) BODY[] {"+strconv.Itoa(box.Messages[n-1].Size())+"}") {
		t.Errorf("curl FETCH BODY[]: %v\n%s", err, out)
	}
	out, err = run(base+"/INBOX;UID="+strconv.Itoa(int(box.Messages[0].UID)), "-u", user)
	if err != nil || out != string(box.Messages[0].Raw) {
		t.Errorf("curl by UID: %v\n%s", err, out)
	}
	out, err = run(base+"/INBOX", "-u", user, "-X", "SEARCH UNSEEN")
	if err != nil || !strings.Contains(out, "* SEARCH ") {
		t.Errorf("curl SEARCH: %v\n%s", err, out)
	}
	out, err = run(base+"/", "-u", acct.User+":not-"+acct.Password)
	if err == nil || !strings.Contains(out, "Login denied") {
		t.Errorf("curl with a wrong password: %v\n%s", err, out)
	}
	out, err = run("--ssl-reqd", "-k", base+"/INBOX;UID="+strconv.Itoa(int(box.Messages[0].UID)), "-u", user)
	if err != nil || out != string(box.Messages[0].Raw) {
		t.Errorf("curl over STARTTLS: %v\n%s", err, out)
	}

	logins := rec.WaitFor(t, event.TypeLoginAttempt, 6)
	for i, e := range logins {
		want, outcome, tls := acct.Password, event.OutcomeSuccess, i == 5
		if i == 4 {
			want, outcome = "not-"+acct.Password, event.OutcomeFailure
		}
		if c := e.Credential; c == nil || c.Principal != acct.User || c.SecretPrintable != want || c.Outcome != outcome || e.Fields["tls"] != tls {
			t.Errorf("login %d: %v %+v", i, e.Fields, e.Credential)
		}
		if e.Decky != "decky-test" || e.Service != "imap" || e.SrcIP != "127.0.0.1" {
			t.Errorf("login %d envelope %+v", i, e)
		}
	}
}
