package pop3

import (
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/mailbox"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// TestCurl drives the service with the real curl binary: a wrong password
// is refused and recorded, the persona's weak password lists and retrieves
// the bait mailbox, over plain POP3 and after STLS.
func TestCurl(t *testing.T) {
	curl := gate.Tool(t, "curl")
	p := testPersona()
	addr, rec := start(t, p, nil)
	acct := p.Logins[1]
	box := mailbox.For(p, acct.User)
	base := "pop3://" + addr

	out, err := exec.Command(curl, "-s", "-S", base+"/", "-u", acct.User+":letmein-not").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Login denied") {
		t.Errorf("curl with a wrong password: err=%v %s", err, out)
	}

	out, err = exec.Command(curl, "-s", "-S", base+"/", "-u", acct.User+":"+acct.Password).CombinedOutput()
	if err != nil {
		t.Fatalf("curl list: %v\n%s", err, out)
	}
	if n := strings.Count(string(out), "\n"); n != len(box.Messages) {
		t.Errorf("curl listed %d messages, want %d:\n%s", n, len(box.Messages), out)
	}

	last := len(box.Messages)
	out, err = exec.Command(curl, "-s", "-S", base+"/"+strconv.Itoa(last), "-u", acct.User+":"+acct.Password).CombinedOutput()
	if err != nil {
		t.Fatalf("curl retr: %v\n%s", err, out)
	}
	if string(out) != string(box.Messages[last-1].Raw) {
		t.Errorf("curl retrieved something else than the bait:\n%s", out)
	}

	// STLS, as curl --ssl-reqd does it.
	out, err = exec.Command(curl, "-s", "-S", "--ssl-reqd", "-k", base+"/1", "-u", "root:"+p.Logins[0].Password).CombinedOutput()
	if err != nil {
		t.Fatalf("curl over STLS: %v\n%s", err, out)
	}
	if string(out) != string(mailbox.For(p, "root").Messages[0].Raw) {
		t.Errorf("curl over STLS retrieved:\n%s", out)
	}

	logins := rec.WaitFor(t, event.TypeLoginAttempt, 4)
	want := []struct {
		user, secret, outcome string
		tls                   bool
	}{
		{acct.User, "letmein-not", event.OutcomeFailure, false},
		{acct.User, acct.Password, event.OutcomeSuccess, false},
		{acct.User, acct.Password, event.OutcomeSuccess, false},
		{"root", p.Logins[0].Password, event.OutcomeSuccess, true},
	}
	for i, w := range want {
		e := logins[i]
		c := e.Credential
		if c == nil || c.Principal != w.user || c.SecretPrintable != w.secret || c.Outcome != w.outcome || e.Fields["tls"] != w.tls {
			t.Errorf("login %d: %v %+v, want %+v", i, e.Fields, c, w)
		}
		if e.Decky != "decky-test" || e.Service != "pop3" || e.SrcIP != "127.0.0.1" || e.Session == "" {
			t.Errorf("login %d envelope: %+v", i, e)
		}
	}
}
