package smtp

// End-to-end tests with a real SMTP client, swaks.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// swaks runs swaks against addr and returns its transcript. swaks exits
// non-zero when the server refuses something, which the tests expect.
func swaks(t *testing.T, addr string, args ...string) string {
	t.Helper()
	bin := gate.Tool(t, "swaks")
	host, port, _ := strings.Cut(addr, ":")
	cmd := exec.Command(bin, append([]string{"--server", host, "--port", port, "--helo", "scanner.example", "--timeout", "10"}, args...)...)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

// TestSwaksAuth captures AUTH LOGIN and AUTH PLAIN logins from swaks, in
// clear text and after STARTTLS, and refuses them as Postfix does.
func TestSwaksAuth(t *testing.T) {
	for _, tc := range []struct {
		mech, user, pass string
		tls              bool
	}{
		{"LOGIN", "admin", "P@ssw0rd!", false},
		{"PLAIN", "info@corp.example", "Winter2024", false},
		{"LOGIN", "root", "toor", true},
		{"PLAIN", "backup", "s3cr3t pass", true},
	} {
		name := tc.mech
		if tc.tls {
			name += "+STARTTLS"
		}
		t.Run(name, func(t *testing.T) {
			in := start(t, false, nil)
			args := []string{"--from", "a@b.example", "--to", "root@localhost", "--auth", tc.mech,
				"--auth-user", tc.user, "--auth-password", tc.pass, "--quit-after", "AUTH"}
			if tc.tls {
				args = append(args, "--tls")
			}
			out := swaks(t, in.addr, args...)
			if !strings.Contains(out, "<~* 535 5.7.8 Error: authentication failed: authentication failure") &&
				!strings.Contains(out, "<** 535 5.7.8 Error: authentication failed: authentication failure") {
				t.Fatalf("swaks did not see Postfix's 535:\n%s", out)
			}
			if tc.tls && !strings.Contains(out, "220 2.0.0 Ready to start TLS") {
				t.Fatalf("no STARTTLS:\n%s", out)
			}
			e := in.rec.WaitFor(t, event.TypeLoginAttempt, 1)[0]
			c := e.Credential
			if c == nil {
				t.Fatalf("login_attempt without credential: %+v", e)
			}
			if c.Principal != tc.user || c.SecretPrintable != tc.pass || c.Kind() != event.SecretPlaintext || c.Outcome != event.OutcomeFailure {
				t.Errorf("credential %+v, want %s / %s", c, tc.user, tc.pass)
			}
			if secret, _ := c.Secret(); string(secret) != tc.pass {
				t.Errorf("secret bytes %q", secret)
			}
			if e.Fields["mechanism"] != tc.mech || e.Service != "smtp" || e.Decky != testDecky || e.SrcIP != "127.0.0.1" {
				t.Errorf("event %+v", e)
			}
			if tc.tls {
				st := in.rec.WaitFor(t, "starttls", 1)[0]
				if st.Fields["ok"] != true {
					t.Errorf("starttls event %v", st.Fields)
				}
			}
		})
	}
}

// TestSwaksRelayAttachment sends a message with two attachments through
// the open relay and checks the stored .eml and the attachment summary.
func TestSwaksRelayAttachment(t *testing.T) {
	in := start(t, true, nil)
	dir := t.TempDir()
	png := []byte("\x89PNG\r\n\x1a\n" + strings.Repeat("\x00\x01binary\xff", 500))
	pdf := []byte("%PDF-1.4\n" + strings.Repeat("stream of invoice text\n", 300))
	if err := os.WriteFile(filepath.Join(dir, "logo.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "invoice-0042.pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	out := swaks(t, in.addr, "--from", "billing@evil.example", "--to", "victim@bank.example,cfo@bank.example",
		"--auth", "LOGIN", "--auth-user", "relayuser", "--auth-password", "relaypass",
		"--header", "Subject: Overdue invoice 0042", "--body", "Please see attached.",
		"--attach-type", "image/png", "--attach", "@"+filepath.Join(dir, "logo.png"),
		"--attach-type", "application/pdf", "--attach", "@"+filepath.Join(dir, "invoice-0042.pdf"))
	if !strings.Contains(out, "<-  250 2.0.0 Ok: queued as ") {
		t.Fatalf("message not queued:\n%s", out)
	}
	if !strings.Contains(out, "235 2.7.0 Authentication successful") {
		t.Errorf("relay refused the login:\n%s", out)
	}
	e := in.rec.WaitFor(t, "message_stored", 1)[0]
	if e.Service != "smtp_relay" || e.Decky != testDecky || e.SrcIP != "127.0.0.1" {
		t.Errorf("envelope %+v", e)
	}
	stored, err := os.ReadFile(filepath.Join(in.stateDir, "artifacts", e.Fields["stored_as"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(stored)
	if e.Fields["sha256"] != hex.EncodeToString(sum[:]) {
		t.Errorf("sha256 field %v does not match the stored file", e.Fields["sha256"])
	}
	if !strings.Contains(string(stored), "Subject: Overdue invoice 0042") {
		t.Errorf("stored message lacks its header:\n%.400s", stored)
	}
	if !strings.HasSuffix(e.Fields["stored_as"].(string), "_"+e.Fields["msg_id"].(string)+".eml") {
		t.Errorf("stored_as %v", e.Fields["stored_as"])
	}
	for k, want := range map[string]any{
		"mail_from": "billing@evil.example", "rcpt_count": 2, "rcpt_domains": "bank.example",
		"subject": "Overdue invoice 0042", "attachment_count": 2, "authenticated": true,
	} {
		if got := e.Fields[k]; got != want {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	var atts []attachment
	if err := json.Unmarshal([]byte(e.Fields["attachments_json"].(string)), &atts); err != nil {
		t.Fatal(err)
	}
	want := []attachment{
		{Filename: "logo.png", ContentType: "image/png", Size: int64(len(png)), SHA256: sha(png)},
		{Filename: "invoice-0042.pdf", ContentType: "application/pdf", Size: int64(len(pdf)), SHA256: sha(pdf)},
	}
	if len(atts) != len(want) {
		t.Fatalf("attachments %+v, want %+v", atts, want)
	}
	for i := range want {
		if atts[i] != want[i] {
			t.Errorf("attachment %d: %+v, want %+v", i, atts[i], want[i])
		}
	}
	for _, ev := range in.rec.Events() {
		if ev.Type == "rcpt_to" {
			continue
		}
		b, _ := json.Marshal(ev.Fields)
		if strings.Contains(string(b), "victim@bank.example") {
			t.Errorf("%s event carries a raw recipient: %s", ev.Type, b)
		}
	}
	if n := len(in.rec.OfType("rcpt_to")); n != 2 {
		t.Errorf("%d rcpt_to events, want 2", n)
	}
	acc := in.rec.WaitFor(t, "message_accepted", 1)[0]
	if acc.Fields["msg_id"] != e.Fields["msg_id"] || acc.Fields["rcpt_count"] != 2 {
		t.Errorf("message_accepted %v", acc.Fields)
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
