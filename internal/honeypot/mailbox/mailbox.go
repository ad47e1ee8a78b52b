// Package mailbox makes the bait mailbox a decky's mail services (pop3,
// imap) show to an attacker who logged in: a handful of ordinary-looking
// messages — IT notices, invoices, a password reset, the VPN credentials a
// colleague mailed in clear text — addressed to the account that logged in.
//
// Everything is drawn from the persona (names, company domain, dates
// relative to the boot time, the secrets in the bait), so two deckies never
// show the same mailbox and one decky shows the same mailbox across
// restarts. Messages are complete RFC 5322 texts with CRLF line endings, the
// form both protocols put on the wire; sizes are their byte counts.
//
// The package only builds values; it keeps no state. A protocol session
// copies what it mutates (deleted marks, \Seen flags).
package mailbox

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// Mailbox is the INBOX of one account on one decky.
type Mailbox struct {
	// Owner is the account's address, user@Domain.
	Owner  string
	Domain string
	// UIDValidity and UIDNext are the IMAP values of the folder (RFC 3501
	// §2.3.1.1); UIDValidity is a Unix time, as Dovecot makes it.
	UIDValidity uint32
	UIDNext     uint32
	Messages    []*Message
}

// Message is one mail of the bait mailbox.
type Message struct {
	UID       uint32
	Date      time.Time // the Date header, also the internal date
	From      Address
	To        Address
	Subject   string
	MessageID string // with angle brackets
	// Seen is the \Seen flag at login time.
	Seen bool
	// Raw is the complete message with CRLF line endings.
	Raw []byte
	// headerLen is the length of the header block including the blank line.
	headerLen int
}

// Address is a mailbox with its display name.
type Address struct {
	Name    string // may be empty
	Mailbox string // local part
	Host    string
}

// String formats the address as a From or To header shows it.
func (a Address) String() string {
	if a.Name == "" {
		return a.Mailbox + "@" + a.Host
	}
	return fmt.Sprintf("%s <%s@%s>", a.Name, a.Mailbox, a.Host)
}

// Email is the bare address.
func (a Address) Email() string { return a.Mailbox + "@" + a.Host }

// Size is the message's size in octets, as POP3 LIST and IMAP RFC822.SIZE
// report it.
func (m *Message) Size() int { return len(m.Raw) }

// Header is the header block, ending with the empty line.
func (m *Message) Header() []byte { return m.Raw[:m.headerLen] }

// Body is the text after the header block.
func (m *Message) Body() []byte { return m.Raw[m.headerLen:] }

// HeaderValue returns the first header field named name (case-insensitive),
// unfolded, or "".
func (m *Message) HeaderValue(name string) string {
	for _, f := range m.fields() {
		if strings.EqualFold(f[0], name) {
			return f[1]
		}
	}
	return ""
}

// fields splits the header block into unfolded name/value pairs.
func (m *Message) fields() [][2]string {
	var out [][2]string
	for _, line := range strings.Split(string(m.Header()), "\r\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && len(out) > 0 {
			out[len(out)-1][1] += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		out = append(out, [2]string{name, strings.TrimSpace(value)})
	}
	return out
}

// For returns the mailbox of user on the decky of p. The same persona and
// user always give the same mailbox.
func For(p *persona.Persona, user string) *Mailbox {
	r := p.Rand("mailbox:" + user)
	org := orgOf(p)
	owner := Address{Name: displayName(p, user), Mailbox: localPart(user), Host: org.domain}
	zone := zones[p.Rand("mailbox-zone").IntN(len(zones))]
	g := &gen{r: r, p: p, org: org, owner: owner, zone: zone}

	// The bait kinds, in a persona-chosen order; the VPN mail is always
	// there and always among the newest, where an attacker looks first.
	kinds := []func(*gen, time.Time) draft{itNotice, invoice, passwordReset, cronMail, dbCredentials, allHands, awsKeys}
	r.Shuffle(len(kinds), func(i, j int) { kinds[i], kinds[j] = kinds[j], kinds[i] })
	kinds = kinds[:4+r.IntN(3)]
	kinds = append(kinds, vpnCredentials)

	// Dates: spread over the weeks before the machine's boot, the newest
	// within the hour after it (every persona has been up at least an hour).
	n := len(kinds)
	dates := make([]time.Time, n)
	t := p.BootTime.Add(-time.Duration(14+r.IntN(20)) * 24 * time.Hour)
	for i := range n - 1 {
		t = t.Add(time.Duration(6+r.IntN(60))*time.Hour + time.Duration(r.IntN(3600))*time.Second)
		if t.After(p.BootTime) {
			t = p.BootTime.Add(-time.Duration(n-i) * 17 * time.Minute)
		}
		dates[i] = t
	}
	slices.SortFunc(dates[:n-1], func(a, b time.Time) int { return a.Compare(b) })
	dates[n-1] = p.BootTime.Add(time.Duration(5+r.IntN(50))*time.Minute + time.Duration(r.IntN(60))*time.Second)

	mb := &Mailbox{Owner: owner.Email(), Domain: org.domain}
	mb.UIDValidity = uint32(dates[0].Add(-time.Duration(30+r.IntN(300)) * 24 * time.Hour).Unix())
	uid := uint32(1 + r.IntN(40))
	for i, k := range kinds {
		d := k(g, dates[i].In(zone))
		m := g.render(d, uid)
		// Everything but the newest two has been read.
		m.Seen = i < n-2
		mb.Messages = append(mb.Messages, m)
		uid += uint32(1 + r.IntN(4)) // gaps: mail the owner deleted
	}
	mb.UIDNext = uid
	return mb
}

// org is the organisation the decky belongs to.
type org struct {
	name   string // "Northwind Logistics"
	domain string // "northwind-logistics.com"
	mx     string // the mail relay's host name
	relay  string // its private address
}

// orgOf draws the decky's organisation; every service of the decky agrees
// on it.
func orgOf(p *persona.Persona) org {
	r := p.Rand("mailbox-org")
	a := orgWords[r.IntN(len(orgWords))]
	b := orgKinds[r.IntN(len(orgKinds))]
	tld := tlds[r.IntN(len(tlds))]
	o := org{name: a + " " + b, domain: strings.ToLower(a+"-"+b) + tld}
	if r.IntN(2) == 0 {
		o.domain = strings.ToLower(a) + tld
	}
	o.mx = []string{"mail", "mx1", "smtp", "mx"}[r.IntN(4)] + "." + o.domain
	o.relay = fmt.Sprintf("10.%d.%d.%d", r.IntN(250)+1, r.IntN(250), r.IntN(250)+2)
	return o
}

// Domain is the mail domain of the decky's organisation.
func Domain(p *persona.Persona) string { return orgOf(p).domain }

func localPart(user string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(user) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "postmaster"
	}
	return b.String()
}

// displayName is the owner's name: root reads mail as the system's admin.
func displayName(p *persona.Persona, user string) string {
	if user == "root" {
		return ""
	}
	r := p.Rand("mailbox-owner:" + user)
	return firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
}

// gen holds what the bait templates draw from.
type gen struct {
	r     *rand.Rand
	p     *persona.Persona
	org   org
	owner Address
	zone  *time.Location
}

// draft is a message before rendering.
type draft struct {
	date    time.Time
	from    Address
	subject string
	extra   [][2]string // headers after Subject
	body    string      // LF line endings
}

func (g *gen) person() Address {
	f := firstNames[g.r.IntN(len(firstNames))]
	l := lastNames[g.r.IntN(len(lastNames))]
	return Address{Name: f + " " + l, Mailbox: strings.ToLower(f + "." + l), Host: g.org.domain}
}

func (g *gen) firstName() string {
	n := g.owner.Name
	if n == "" {
		return "team"
	}
	first, _, _ := strings.Cut(n, " ")
	return first
}

// password draws a password of the kind people mail each other.
func (g *gen) password() string {
	switch g.r.IntN(3) {
	case 0:
		return seasons[g.r.IntN(len(seasons))] + fmt.Sprint(2019+g.r.IntN(6)) + "!"
	case 1:
		return g.token(4, upperLower) + "-" + g.token(4, digits) + "-" + g.token(4, upperLower)
	}
	return g.token(14, upperLower+digits)
}

const (
	upperLower = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
	digits     = "0123456789"
	upperDigit = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	hexDigits  = "0123456789ABCDEF"
)

func (g *gen) token(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[g.r.IntN(len(alphabet))]
	}
	return string(b)
}

func (g *gen) host() string { return g.p.ShortHostname() + "." + g.org.domain }

// render turns a draft into the message as the decky's MTA delivered it.
func (g *gen) render(d draft, uid uint32) *Message {
	recv := d.date.Add(time.Duration(1+g.r.IntN(40)) * time.Second)
	id := fmt.Sprintf("<%s.%s@%s>", d.date.UTC().Format("20060102150405"), strings.ToLower(g.token(10, upperDigit)), d.from.Host)
	var h strings.Builder
	fmt.Fprintf(&h, "Return-Path: <%s>\n", d.from.Email())
	fmt.Fprintf(&h, "Delivered-To: %s\n", g.owner.Email())
	fmt.Fprintf(&h, "Received: from %s (%s [%s])\n\tby %s (Postfix) with ESMTPS id %s\n\tfor <%s>; %s\n",
		g.org.mx, g.org.mx, g.org.relay, g.host(), g.token(10, hexDigits), g.owner.Email(), recv.Format(time.RFC1123Z))
	fmt.Fprintf(&h, "Date: %s\n", d.date.Format(time.RFC1123Z))
	fmt.Fprintf(&h, "From: %s\n", d.from)
	fmt.Fprintf(&h, "To: %s\n", g.owner)
	fmt.Fprintf(&h, "Subject: %s\n", d.subject)
	fmt.Fprintf(&h, "Message-ID: %s\n", id)
	for _, x := range d.extra {
		fmt.Fprintf(&h, "%s: %s\n", x[0], x[1])
	}
	h.WriteString("MIME-Version: 1.0\nContent-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 7bit\n\n")
	head := crlf(h.String())
	body := crlf(strings.TrimRight(d.body, "\n") + "\n")
	raw := append(head, body...)
	return &Message{
		UID: uid, Date: d.date, From: d.from, To: g.owner, Subject: d.subject, MessageID: id,
		Raw: raw, headerLen: len(head),
	}
}

func crlf(s string) []byte {
	return bytes.ReplaceAll([]byte(s), []byte("\n"), []byte("\r\n"))
}
