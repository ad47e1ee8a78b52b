// Package builtin lists the protocol emulators compiled into decnet. It is
// the one place a new service is added to the registry.
package builtin

import (
	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/ftp"
	"github.com/decnet-go/decnet/internal/honeypot/http"
	"github.com/decnet-go/decnet/internal/honeypot/imap"
	"github.com/decnet-go/decnet/internal/honeypot/pop3"
	"github.com/decnet-go/decnet/internal/honeypot/smtp"
	"github.com/decnet-go/decnet/internal/honeypot/ssh"
	"github.com/decnet-go/decnet/internal/honeypot/telnet"
	"github.com/decnet-go/decnet/internal/honeypot/tftp"
)

// Registry returns the registry of every built-in service.
func Registry() *honeypot.Registry {
	return honeypot.NewRegistry(
		ssh.New,
		http.New,
		pop3.New,
		imap.New,
		ftp.New,
		tftp.New,
		http.NewHTTPS,
		telnet.New,
		smtp.New,
		smtp.NewRelay,
	)
}
