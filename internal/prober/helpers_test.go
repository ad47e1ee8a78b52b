package prober

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testCert is a self-signed ECDSA certificate for 127.0.0.1, made once.
var testCert = sync.OnceValue(func() tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "prober-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
})

// writeCertPEM writes testCert as cert.pem and key.pem under dir.
func writeCertPEM(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	c := testCert()
	kb, err := x509.MarshalECPrivateKey(c.PrivateKey.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// loopbackServer accepts on 127.0.0.1 and hands each connection to
// handle, until the test ends. It counts accepted connections.
type loopbackServer struct {
	addr     string
	accepted atomic.Int64
}

func startServer(t testing.TB, handle func(net.Conn)) *loopbackServer {
	t.Helper()
	return startServerOn(t, "127.0.0.1:0", handle)
}

func startServerOn(t testing.TB, addr string, handle func(net.Conn)) *loopbackServer {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &loopbackServer{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				handle(c)
			}()
		}
	}()
	return s
}

// startTLS runs a crypto/tls server with cfg (its certificate filled in).
func startTLS(t testing.TB, cfg *tls.Config) *loopbackServer {
	t.Helper()
	cfg = cfg.Clone()
	cfg.Certificates = []tls.Certificate{testCert()}
	return startServer(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		tc.Handshake()
	})
}
