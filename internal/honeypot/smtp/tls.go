package smtp

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
)

// Names of the certificate files in the state directory: Debian's
// snakeoil pair, which its Postfix uses out of the box.
const (
	certFile = "ssl-cert-snakeoil.pem"
	keyFile  = "ssl-cert-snakeoil.key"
)

// loadCertificate loads the decky's STARTTLS certificate from dir, or makes
// one — self-signed, RSA 2048, CN and DNS name the host name, ten years, as
// Debian's make-ssl-cert does — and stores it there so the decky keeps its
// certificate across restarts. A stored certificate for another host name
// is replaced. With dir empty the certificate lives in memory only.
func loadCertificate(dir, hostname string) (tls.Certificate, error) {
	cp, kp := filepath.Join(dir, certFile), filepath.Join(dir, keyFile)
	if dir != "" {
		cert, err := tls.LoadX509KeyPair(cp, kp)
		switch {
		case err == nil && cert.Leaf != nil && cert.Leaf.Subject.CommonName == hostname:
			return cert, nil
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			return tls.Certificate{}, fmt.Errorf("smtp tls certificate %s: %w (remove it to generate a new one)", cp, err)
		}
	}
	certPEM, keyPEM, err := newCertificate(hostname, time.Now())
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("smtp tls certificate: %w", err)
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return tls.Certificate{}, fmt.Errorf("smtp tls certificate: %w", err)
		}
		if err := os.WriteFile(kp, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, fmt.Errorf("smtp tls certificate: %w", err)
		}
		if err := os.WriteFile(cp, certPEM, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("smtp tls certificate: %w", err)
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// newCertificate makes a self-signed certificate for hostname.
func newCertificate(hostname string, now time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname},
		NotBefore:             now.UTC().Truncate(time.Second),
		NotAfter:              now.UTC().Truncate(time.Second).AddDate(10, 0, 0),
		DNSNames:              []string{hostname},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// tlsConfig is the server side of STARTTLS: TLS 1.0 and later, as Debian's
// Postfix allows (smtpd_tls_protocols = !SSLv2, !SSLv3).
func tlsConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS10,
	}
}
