package http

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"time"
)

// challenge is HTTP authentication in front of a site or path: Basic, as
// mod_auth_basic (or nginx's auth_basic) asks, or Digest, as
// mod_auth_digest asks. No credential is ever accepted.
type challenge struct {
	scheme string // "basic" or "digest"
	realm  string
}

// deny is the 401 the server answers with: its own error page and the
// challenge.
func (c *challenge) deny(f flavor, info pageInfo) *response {
	resp := f.errorPage(401, info)
	resp.extra = append(resp.extra, header{"WWW-Authenticate", c.header()})
	return resp
}

// header is the WWW-Authenticate value.
func (c *challenge) header() string {
	if c.scheme == "digest" {
		return `Digest realm="` + c.realm + `", nonce="` + digestNonce(time.Now()) + `", algorithm=MD5, qop="auth"`
	}
	return `Basic realm="` + c.realm + `"`
}

// digestNonce is a nonce shaped like mod_auth_digest's: the base64 of the
// request time (8 bytes, microseconds) followed by a hex SHA-1.
func digestNonce(now time.Time) string {
	var t [8]byte
	binary.LittleEndian.PutUint64(t[:], uint64(now.UnixMicro()))
	salt := make([]byte, 20)
	rand.Read(salt)
	sum := sha1.Sum(append(salt, t[:]...))
	return base64.StdEncoding.EncodeToString(t[:]) + hex.EncodeToString(sum[:])
}
