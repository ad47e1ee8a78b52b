package mailbox

import (
	"crypto/tls"
	"fmt"

	"github.com/decnet-go/decnet/internal/honeypot/tlsfp"
	"github.com/decnet-go/decnet/internal/persona"
)

// TLSConfig returns the TLS configuration of the decky's mail server: the
// persona's snakeoil certificate (see tlsfp.PersonaCertificate), kept in
// stateDir so the decky keeps it across restarts; with stateDir empty it
// lives in memory only.
func TLSConfig(stateDir string, p *persona.Persona) (*tls.Config, error) {
	cert, err := tlsfp.PersonaCertificate(stateDir, p.Hostname, p.InstallTime())
	if err != nil {
		return nil, fmt.Errorf("mail server certificate: %w", err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12, // Dovecot 2.3's ssl_min_protocol
	}, nil
}

// Greeting is the login_greeting of the persona's Dovecot package: Debian
// and Ubuntu patch in the vendor ("Dovecot (Debian) ready."), other
// distributions keep upstream's "Dovecot ready.".
func Greeting(p *persona.Persona) string {
	switch p.Distro.ID {
	case "debian", "kali":
		return "Dovecot (Debian) ready."
	case "ubuntu":
		return "Dovecot (Ubuntu) ready."
	}
	return "Dovecot ready."
}
