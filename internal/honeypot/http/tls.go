package http

import (
	"crypto/tls"
	"encoding/pem"
	"fmt"
	"os"
	"strings"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/tlsfp"
)

// tlsConfig is the https service's TLS setup: the operator's certificate
// (tls_cert and tls_key) or the decky's own, made on first start and kept
// in its state directory. Protocols and groups are those of the OpenSSL 3
// a Debian or Ubuntu server links: TLS 1.2 and 1.3, X25519 first.
func tlsConfig(env honeypot.Env) (*tls.Config, error) {
	cfg := env.Config
	var cert tls.Certificate
	switch certV, keyV := cfg["tls_cert"], cfg["tls_key"]; {
	case certV == "" && keyV == "":
		host := env.Persona.Hostname
		if cn := cfg["tls_cn"]; cn != "" {
			host = cn
		}
		var err error
		if cert, err = tlsfp.PersonaCertificate(env.StateDir, host, env.Persona.InstallTime()); err != nil {
			return nil, err
		}
	case certV == "":
		return nil, fmt.Errorf(`key "tls_cert": missing; "tls_key" needs the certificate it belongs to`)
	case keyV == "":
		return nil, fmt.Errorf(`key "tls_key": missing; "tls_cert" needs its private key`)
	default:
		certPEM, err := pemValue("tls_cert", certV, "CERTIFICATE")
		if err != nil {
			return nil, err
		}
		keyPEM, err := pemValue("tls_key", keyV, "PRIVATE KEY")
		if err != nil {
			return nil, err
		}
		if cert, err = tls.X509KeyPair(certPEM, keyPEM); err != nil {
			return nil, fmt.Errorf(`keys "tls_cert" and "tls_key": %w`, err)
		}
	}
	return &tls.Config{
		Certificates:     []tls.Certificate{cert},
		NextProtos:       []string{"http/1.1"},
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: []tls.CurveID{tls.X25519, tls.CurveP256, tls.CurveP384, tls.CurveP521},
		CipherSuites: []uint16{ // OpenSSL's HIGH set for an RSA key, ECDHE first
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
			tls.TLS_RSA_WITH_AES_256_GCM_SHA384, tls.TLS_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_RSA_WITH_AES_256_CBC_SHA, tls.TLS_RSA_WITH_AES_128_CBC_SHA,
		},
	}, nil
}

// pemValue reads a configuration value that is PEM text or the path of a
// PEM file, and checks it holds a block whose type ends in want.
func pemValue(key, v, want string) ([]byte, error) {
	b := []byte(v)
	if !strings.Contains(v, "-----BEGIN") {
		var err error
		if b, err = os.ReadFile(v); err != nil {
			return nil, fmt.Errorf("key %q: neither PEM text nor a readable file: %w", key, err)
		}
	}
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, fmt.Errorf("key %q: no PEM %s block found", key, want)
		}
		if strings.HasSuffix(block.Type, want) {
			return b, nil
		}
	}
}
