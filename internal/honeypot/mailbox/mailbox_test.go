package mailbox

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

func TestMailboxIsDeterministicAndDiffers(t *testing.T) {
	a := For(persona.New([]byte("secret"), "decky-a"), "root")
	a2 := For(persona.New([]byte("secret"), "decky-a"), "root")
	b := For(persona.New([]byte("secret"), "decky-b"), "root")
	if len(a.Messages) != len(a2.Messages) {
		t.Fatal("same persona, different mailbox size")
	}
	for i := range a.Messages {
		if !bytes.Equal(a.Messages[i].Raw, a2.Messages[i].Raw) || a.Messages[i].UID != a2.Messages[i].UID {
			t.Errorf("message %d differs between two builds of one persona", i)
		}
	}
	for _, ma := range a.Messages {
		for _, mb := range b.Messages {
			if bytes.Equal(ma.Raw, mb.Raw) {
				t.Errorf("two deckies share message %q", ma.Subject)
			}
		}
	}
	if a.Domain == b.Domain && a.Messages[0].Subject == b.Messages[0].Subject {
		t.Errorf("two deckies look alike: %s", a.Domain)
	}
}

func TestMessagesAreWellFormed(t *testing.T) {
	for _, name := range []string{"decky-a", "decky-b", "mail-01", "web-7"} {
		p := persona.New([]byte("k"), name)
		for _, user := range []string{"root", p.User} {
			box := For(p, user)
			if n := len(box.Messages); n < 5 || n > 8 {
				t.Errorf("%s/%s: %d messages", name, user, n)
			}
			var prevUID uint32
			ids := map[string]bool{}
			for i, m := range box.Messages {
				if m.UID <= prevUID || m.UID >= box.UIDNext {
					t.Errorf("%s: UID %d after %d (next %d)", name, m.UID, prevUID, box.UIDNext)
				}
				prevUID = m.UID
				if bytes.Contains(bytes.ReplaceAll(m.Raw, []byte("\r\n"), nil), []byte("\n")) {
					t.Errorf("%s: bare LF in message %d", name, i)
				}
				msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
				if err != nil {
					t.Fatalf("%s: message %d does not parse: %v", name, i, err)
				}
				d, err := msg.Header.Date()
				if err != nil || !d.Equal(m.Date) {
					t.Errorf("%s: Date header %v (%v), want %v", name, d, err, m.Date)
				}
				if i > 0 && m.Date.Before(box.Messages[i-1].Date) {
					t.Errorf("%s: message %d is older than the one before", name, i)
				}
				if m.Date.After(p.BootTime.Add(time.Hour)) {
					t.Errorf("%s: message %d dated after boot+1h", name, i)
				}
				if _, err := mail.ParseAddress(msg.Header.Get("From")); err != nil {
					t.Errorf("%s: From %q: %v", name, msg.Header.Get("From"), err)
				}
				id := msg.Header.Get("Message-Id")
				if id != m.MessageID || ids[id] || !strings.HasPrefix(id, "<") {
					t.Errorf("%s: Message-ID %q", name, id)
				}
				ids[id] = true
				if m.HeaderValue("subject") != m.Subject || len(m.Header())+len(m.Body()) != m.Size() {
					t.Errorf("%s: header/body split of message %d", name, i)
				}
			}
			newest := box.Messages[len(box.Messages)-1]
			if newest.Subject != "VPN access" || newest.Seen || !strings.Contains(string(newest.Body()), "password: ") {
				t.Errorf("%s: newest message is not the unread VPN bait: %q", name, newest.Subject)
			}
		}
	}
}

func TestTLSConfigPersists(t *testing.T) {
	p := persona.New([]byte("k"), "decky-a")
	dir := t.TempDir()
	c1, err := TLSConfig(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := TLSConfig(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.Certificates[0].Certificate[0], c2.Certificates[0].Certificate[0]) {
		t.Error("certificate changed across restarts")
	}
	leaf := c1.Certificates[0].Leaf
	if leaf == nil || leaf.Subject.CommonName != p.Hostname || leaf.NotAfter.Sub(leaf.NotBefore) < 9*365*24*time.Hour {
		t.Errorf("certificate %+v", leaf)
	}
}
