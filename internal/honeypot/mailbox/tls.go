package mailbox

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/decnet-go/decnet/internal/persona"
)

// Files of the mail server's certificate in a service's state directory,
// named as Debian's ssl-cert package names the pair Dovecot uses by default.
const (
	certFile = "ssl-cert-snakeoil.pem"
	keyFile  = "ssl-cert-snakeoil.key"
)

// TLSConfig returns the TLS configuration of the decky's mail server: the
// self-signed "snakeoil" certificate Debian's make-ssl-cert makes at install
// time (RSA 2048, CN = the host name, valid ten years from the install).
// The pair is stored in stateDir, so the decky keeps its certificate across
// restarts; with stateDir empty it lives in memory only.
func TLSConfig(stateDir string, p *persona.Persona) (*tls.Config, error) {
	cert, err := loadOrMakeCert(stateDir, p)
	if err != nil {
		return nil, err
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12, // Dovecot 2.3's ssl_min_protocol
	}, nil
}

func loadOrMakeCert(dir string, p *persona.Persona) (tls.Certificate, error) {
	if dir != "" {
		cert, err := tls.LoadX509KeyPair(filepath.Join(dir, certFile), filepath.Join(dir, keyFile))
		switch {
		case err == nil:
			return cert, nil
		case !errors.Is(err, fs.ErrNotExist):
			return tls.Certificate{}, fmt.Errorf("mail server certificate in %s: %w (remove both files to make a new one)", dir, err)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("mail server certificate: %w", err)
	}
	serial := new(big.Int).SetUint64(p.Rand("mail-cert-serial").Uint64() >> 1)
	// Installed a while before the last boot.
	installed := p.BootTime.Add(-time.Duration(30+p.Rand("mail-cert-date").IntN(600)) * 24 * time.Hour).UTC().Truncate(time.Second)
	name := pkix.Name{CommonName: p.Hostname}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               name,
		Issuer:                name,
		NotBefore:             installed,
		NotAfter:              installed.AddDate(10, 0, 0),
		BasicConstraintsValid: true,
		DNSNames:              []string{p.Hostname},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("mail server certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("mail server certificate: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return tls.Certificate{}, fmt.Errorf("mail server certificate: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, keyFile), keyPEM, 0o600); err != nil {
			return tls.Certificate{}, fmt.Errorf("mail server certificate: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, certFile), certPEM, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("mail server certificate: %w", err)
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
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
