package tlsfp

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// File names of a saved persona certificate: Debian's ssl-cert package
// names its self-signed pair this way.
const (
	CertFile = "ssl-cert-snakeoil.pem"
	KeyFile  = "ssl-cert-snakeoil.key"
)

// snakeoilValidity is how long make-ssl-cert's certificate is valid.
const snakeoilValidity = 3650 * 24 * time.Hour

// PersonaCertificate returns the certificate a decky named hostname shows:
// the pair saved in dir by an earlier run when its common name is hostname,
// else a new one, saved there. dir "" keeps the new pair in memory only.
//
// A new pair looks like the one Debian's ssl-cert package makes on install
// (make-ssl-cert generate-default-snakeoil): RSA 2048, self-signed, subject
// and SAN the host name, CA:FALSE, a random 159-bit serial, valid ten years
// from notBefore (when the persona's server was installed).
func PersonaCertificate(dir, hostname string, notBefore time.Time) (tls.Certificate, error) {
	if dir != "" {
		cert, err := loadSaved(dir, hostname)
		if err == nil {
			return cert, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errOtherName) {
			return tls.Certificate{}, err
		}
	}
	certPEM, keyPEM, err := SelfSigned(hostname, notBefore)
	if err != nil {
		return tls.Certificate{}, err
	}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return tls.Certificate{}, fmt.Errorf("persona certificate: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
			return tls.Certificate{}, fmt.Errorf("persona certificate: %w", err)
		}
		if err := os.WriteFile(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
			return tls.Certificate{}, fmt.Errorf("persona certificate: %w", err)
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

var errOtherName = errors.New("saved certificate names another host")

func loadSaved(dir, hostname string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, CertFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFile))
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("persona certificate in %s: %w (remove %s and %s to make a new one)", dir, err, CertFile, KeyFile)
	}
	if cert.Leaf == nil || cert.Leaf.Subject.CommonName != hostname {
		return tls.Certificate{}, errOtherName
	}
	return cert, nil
}

// SelfSigned makes a snakeoil-style certificate and key for hostname, PEM
// encoded (the key as PKCS #8, as OpenSSL 3 writes it).
func SelfSigned(hostname string, notBefore time.Time) (certPEM, keyPEM []byte, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, fmt.Errorf("persona certificate: %w", err)
	}
	serialBytes := make([]byte, 20)
	if _, err := rand.Read(serialBytes); err != nil {
		return nil, nil, err
	}
	serialBytes[0] &= 0x7f // 159 bits, positive, as OpenSSL draws it
	serial := new(big.Int).SetBytes(serialBytes)
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	var info struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spki, &info); err != nil {
		return nil, nil, err
	}
	skid := sha1.Sum(info.PublicKey.Bytes) // RFC 5280 §4.2.1.2 method 1, as OpenSSL
	notBefore = notBefore.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: hostname},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(snakeoilValidity),
		BasicConstraintsValid: true,
		DNSNames:              []string{hostname},
		SubjectKeyId:          skid[:],
		AuthorityKeyId:        skid[:],
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("persona certificate: %w", err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), nil
}
