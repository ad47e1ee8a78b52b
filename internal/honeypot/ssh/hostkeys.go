package ssh

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
)

// hostKeys are the decky's host keys in the order OpenSSH offers them.
type hostKeys struct {
	rsa, ecdsa, ed25519 ssh.Signer
}

// hostKeySpec names a key file as OpenSSH does and says how to make the key.
type hostKeySpec struct {
	file string
	gen  func() (crypto.PrivateKey, error)
}

// rsaBits is the size ssh-keygen -A uses for RSA host keys.
const rsaBits = 3072

var hostKeySpecs = []hostKeySpec{
	{"ssh_host_rsa_key", func() (crypto.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, rsaBits) }},
	{"ssh_host_ecdsa_key", func() (crypto.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) }},
	{"ssh_host_ed25519_key", func() (crypto.PrivateKey, error) {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}},
}

// loadHostKeys loads the host keys from dir, generating and storing the
// missing ones, so the decky keeps its fingerprints across restarts. With
// dir empty the keys live in memory only.
func loadHostKeys(dir string) (hostKeys, error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return hostKeys{}, fmt.Errorf("ssh host keys: create state dir: %w", err)
		}
	}
	signers := make([]ssh.Signer, len(hostKeySpecs))
	for i, spec := range hostKeySpecs {
		s, err := loadHostKey(dir, spec)
		if err != nil {
			return hostKeys{}, err
		}
		signers[i] = s
	}
	return hostKeys{rsa: signers[0], ecdsa: signers[1], ed25519: signers[2]}, nil
}

func loadHostKey(dir string, spec hostKeySpec) (ssh.Signer, error) {
	path := filepath.Join(dir, spec.file)
	if dir != "" {
		b, err := os.ReadFile(path)
		switch {
		case err == nil:
			s, err := ssh.ParsePrivateKey(b)
			if err != nil {
				return nil, fmt.Errorf("ssh host key %s: %w (remove the file to generate a new key)", path, err)
			}
			return s, nil
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("ssh host key: %w", err)
		}
	}
	key, err := spec.gen()
	if err != nil {
		return nil, fmt.Errorf("ssh host key %s: generate: %w", spec.file, err)
	}
	if dir != "" {
		if err := writeHostKey(path, key); err != nil {
			return nil, err
		}
	}
	return ssh.NewSignerFromKey(key)
}

// writeHostKey stores key in OpenSSH format, mode 0600, atomically.
func writeHostKey(path string, key crypto.PrivateKey) error {
	block, err := ssh.MarshalPrivateKey(key, "root@localhost")
	if err != nil {
		return fmt.Errorf("ssh host key %s: encode: %w", path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("ssh host key: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	err = tmp.Chmod(0o600)      // CreateTemp makes 0600 already; say it anyway
	if err == nil {
		err = pem.Encode(tmp, block)
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("ssh host key %s: write: %w", path, err)
	}
	return nil
}

// addTo installs the keys on cfg in OpenSSH's order. Unless a ssh-rsa
// (SHA-1) era build is claimed, the RSA key signs with SHA-2 only.
//
// sshd lists the RSA signature algorithms as "rsa-sha2-512,rsa-sha2-256"
// (then "ssh-rsa" before 8.8); x/crypto always puts rsa-sha2-256 first for
// one RSA key. So the key is installed twice: first under the type name
// "rsa-sha2-512" (see namedSigner), then as itself restricted to the
// remaining algorithms.
func (k hostKeys) addTo(cfg *ssh.ServerConfig, a algorithms) error {
	as, ok := k.rsa.(ssh.AlgorithmSigner)
	if !ok {
		return errors.New("ssh host key: rsa signer cannot choose its algorithm")
	}
	rest := []string{ssh.KeyAlgoRSASHA256}
	if a.sshRSA {
		rest = append(rest, ssh.KeyAlgoRSA)
	}
	ms, err := ssh.NewSignerWithAlgorithms(as, rest)
	if err != nil {
		return fmt.Errorf("ssh host key: %w", err)
	}
	cfg.AddHostKey(namedSigner{signer: as, algo: ssh.KeyAlgoRSASHA512})
	cfg.AddHostKey(ms)
	cfg.AddHostKey(k.ecdsa)
	cfg.AddHostKey(k.ed25519)
	return nil
}

// namedSigner presents a key under the name of one of its signature
// algorithms. x/crypto lists a plain Signer's PublicKey().Type() as one
// host key algorithm, and picks it when the client chooses that name;
// the key blob sent (Marshal) and the signature are the real key's.
type namedSigner struct {
	signer ssh.AlgorithmSigner
	algo   string
}

func (s namedSigner) PublicKey() ssh.PublicKey { return namedKey{s.signer.PublicKey(), s.algo} }

func (s namedSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	return s.signer.SignWithAlgorithm(rand, data, s.algo)
}

// namedKey is a public key whose Type is a signature algorithm name.
type namedKey struct {
	ssh.PublicKey
	algo string
}

func (k namedKey) Type() string { return k.algo }
