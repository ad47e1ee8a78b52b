// Package persona derives the identity a decky shows to attackers: hostname,
// operating system, daemon versions and banners, accounts with weak
// passwords, uptime and the contents of a small fake filesystem.
//
// Everything is derived deterministically from a seed (the install secret and
// the decky name), so deckies differ from each other and from every other
// install, yet each stays the same across restarts. Nothing here is a fixed
// default that would fingerprint DECNET-Go.
package persona

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Persona is the deterministic identity of one decky.
type Persona struct {
	Decky    string
	Hostname string
	Distro   Distro
	// Kernel release and build line as uname prints them.
	KernelRelease string
	KernelVersion string
	// SSHVersion is the identification string after "SSH-2.0-".
	SSHVersion string
	// HTTPServer is the Server header of the http service.
	HTTPServer string
	// Logins are the accounts that accept a (weak) password.
	Logins []Login
	// User is the regular (non-root) account of the machine.
	User string
	// BootTime is when the machine pretends to have booted.
	BootTime  time.Time
	MachineID string

	seed [32]byte
}

// Login is one account with the password the decky accepts for it.
type Login struct {
	User     string
	Password string
	UID      int
	Home     string
	Shell    string
}

// New derives the persona of the named decky from the install secret, its
// distro drawn from the seed too. The same inputs always give the same
// persona.
func New(installSecret []byte, decky string) *Persona {
	p, _ := NewWithDistro(installSecret, decky, "")
	return p
}

// NewWithDistro is New with the distro chosen by the operator (a slug of
// Distros); an empty slug lets the seed choose, as New does. Everything else
// is drawn exactly as New draws it, so choosing the distro the seed would
// have chosen gives the same persona.
func NewWithDistro(installSecret []byte, decky, slug string) (*Persona, error) {
	h := sha256.New()
	h.Write(installSecret)
	h.Write([]byte{0})
	h.Write([]byte(decky))
	var seed [32]byte
	copy(seed[:], h.Sum(nil))
	p := &Persona{Decky: decky, seed: seed}
	r := p.Rand("identity")

	p.Distro = distros[r.IntN(seeded)]
	if slug != "" {
		d, ok := LookupDistro(slug)
		if !ok {
			return nil, fmt.Errorf("unknown distro %q (known: %s)", slug, strings.Join(Distros(), ", "))
		}
		p.Distro = d
	}
	p.KernelRelease, p.KernelVersion = p.Distro.Kernel.Release, p.Distro.Kernel.Version
	p.SSHVersion = p.Distro.SSH
	p.Hostname = p.Distro.hostname(r)
	p.HTTPServer = p.Distro.HTTPServers[r.IntN(len(p.Distro.HTTPServers))]
	p.User = userNames[r.IntN(len(userNames))]
	// Up for 1 hour to 45 days, measured from the first moment the persona is
	// asked, rounded so the value is stable within a run.
	up := time.Duration(1+r.IntN(45*24)) * time.Hour
	p.BootTime = time.Now().Add(-up).Truncate(time.Minute)
	mid := make([]byte, 16)
	binary.BigEndian.PutUint64(mid, r.Uint64())
	binary.BigEndian.PutUint64(mid[8:], r.Uint64())
	p.MachineID = hex.EncodeToString(mid)

	rootPw := weakPasswords[r.IntN(len(weakPasswords))]
	userPw := weakPasswords[r.IntN(len(weakPasswords))]
	shell := "/bin/bash"
	if p.Distro.Bash == "" {
		shell = "/bin/ash" // busybox
	}
	p.Logins = []Login{
		{User: "root", Password: rootPw, UID: 0, Home: "/root", Shell: shell},
		{User: p.User, Password: userPw, UID: 1000, Home: "/home/" + p.User, Shell: shell},
	}
	return p, nil
}

// Rand returns a deterministic random source for one purpose. Different
// purposes get independent streams, so adding a use of randomness in one
// place does not shift the values drawn elsewhere.
func (p *Persona) Rand(purpose string) *rand.Rand {
	h := sha256.Sum256(append(p.seed[:], purpose...))
	return rand.New(rand.NewPCG(binary.LittleEndian.Uint64(h[:8]), binary.LittleEndian.Uint64(h[8:16])))
}

// Accepts reports whether the decky lets user in with password, and the
// login it matched.
func (p *Persona) Accepts(user, password string) (Login, bool) {
	for _, l := range p.Logins {
		if l.User == user && l.Password == password {
			return l, true
		}
	}
	return Login{}, false
}

// Account returns the login of a known user name.
func (p *Persona) Account(user string) (Login, bool) {
	for _, l := range p.Logins {
		if l.User == user {
			return l, true
		}
	}
	return Login{}, false
}

// Uname is the line `uname -a` prints (busybox's on Alpine, coreutils'
// elsewhere).
func (p *Persona) Uname() string {
	if p.Distro.Family == "alpine" {
		return fmt.Sprintf("Linux %s %s %s x86_64 Linux", p.Hostname, p.KernelRelease, p.KernelVersion)
	}
	return fmt.Sprintf("Linux %s %s %s x86_64 GNU/Linux", p.Hostname, p.KernelRelease, p.KernelVersion)
}

// ShortHostname is the hostname up to its first dot, as `hostname -s` and a
// shell prompt's \h show it.
func (p *Persona) ShortHostname() string {
	short, _, _ := strings.Cut(p.Hostname, ".")
	return short
}

// InstallTime is when the machine's operating system was installed: the
// date of everything an install makes once (the ssl-cert package's
// snakeoil certificate that https, smtp, pop3 and imap all show, …). It
// is the same on every run.
func (p *Persona) InstallTime() time.Time {
	r := p.Rand("os-install")
	return time.Date(2023, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.IntN(600*24*3600)) * time.Second)
}

// Uptime is how long the machine pretends to have been up at now.
func (p *Persona) Uptime(now time.Time) time.Duration { return now.Sub(p.BootTime) }
