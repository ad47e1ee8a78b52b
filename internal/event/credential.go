package event

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// NewCredential builds a credential from the exact secret bytes.
func NewCredential(principal, kind string, secret []byte, outcome string) *Credential {
	return &Credential{
		Principal:       principal,
		SecretKind:      kind,
		SecretPrintable: Printable(secret),
		SecretB64:       base64.StdEncoding.EncodeToString(secret),
		Outcome:         outcome,
	}
}

// Printable renders bytes as ASCII with anything outside 0x20–0x7e shown as '?'.
func Printable(b []byte) string {
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		sb.WriteByte(c)
	}
	return sb.String()
}

// Secret decodes the exact secret bytes. An empty secret is valid: trying a
// user name with an empty password is an attack worth recording.
func (c *Credential) Secret() ([]byte, error) {
	return base64.StdEncoding.DecodeString(c.SecretB64)
}

// SHA256 is the hex SHA-256 of the secret bytes: the key credentials are
// deduplicated and correlated on.
func (c *Credential) SHA256() (string, error) {
	b, err := c.Secret()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// Kind returns the secret kind, plaintext when unset (as DECNET's ingester does).
func (c *Credential) Kind() string {
	if c.SecretKind == "" {
		return SecretPlaintext
	}
	return c.SecretKind
}
