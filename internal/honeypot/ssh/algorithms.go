package ssh

import (
	"regexp"
	"strconv"

	"golang.org/x/crypto/ssh"
)

// algorithms are the lists the server offers in its KEXINIT, chosen to look
// like the OpenSSH build the banner claims.
//
// What x/crypto/ssh cannot match, so a careful HASSHServer comparison still
// differs from the real daemon:
//   - KEX: sntrup761x25519-sha512(@openssh.com) (first in OpenSSH 9.0–9.8,
//     listed in 8.5–8.9) and diffie-hellman-group18-sha512 are not
//     implemented; they are left out and the rest keeps OpenSSH's order.
//   - MACs: umac-64(-etm), umac-128(-etm) and hmac-sha1-etm are not
//     implemented; left out.
//   - Compression: only "none" (OpenSSH offers "none,zlib@openssh.com").
//   - After KEX, x/crypto's EXT_INFO lists its own server-sig-algs and
//     ping@openssh.com (OpenSSH ≥ 9.2 only); the auth methods are listed as
//     "password,publickey,keyboard-interactive" (OpenSSH: publickey first);
//     the auth-failure disconnect text is x/crypto's lower-case "too many
//     authentication failures". All of it is encrypted, so only a client
//     that completes KEX can see it.
//
// The host key algorithms do follow OpenSSH ("rsa-sha2-512,rsa-sha2-256",
// see hostKeys.addTo), and so does the cleartext framing (see openSSHWire).
// compare_test.go checks all of it against the installed sshd.
type algorithms struct {
	kex     []string
	ciphers []string
	macs    []string
	// sshRSA offers the SHA-1 "ssh-rsa" host key signature, as OpenSSH did
	// before 8.8.
	sshRSA bool
}

var openSSHVersion = regexp.MustCompile(`^SSH-2\.0-OpenSSH_(\d+)\.(\d+)`)

// algorithmsFor picks the lists for an identification line; family is the
// persona's distro family ("rhel" builds follow the system crypto policy).
func algorithmsFor(version, family string) algorithms {
	major, minor := 9, 2
	if m := openSSHVersion.FindStringSubmatch(version); m != nil {
		major, _ = strconv.Atoi(m[1])
		minor, _ = strconv.Atoi(m[2])
	}
	atLeast := func(ma, mi int) bool { return major > ma || major == ma && minor >= mi }

	if family == "rhel" {
		// RHEL/Rocky 9 crypto-policies DEFAULT.
		return algorithms{
			kex: []string{
				ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org",
				ssh.KeyExchangeECDHP256, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521,
				ssh.KeyExchangeDHGEXSHA256, ssh.KeyExchangeDH14SHA256, ssh.KeyExchangeDH16SHA512,
			},
			ciphers: []string{
				ssh.CipherAES256GCM, ssh.CipherChaCha20Poly1305, ssh.CipherAES256CTR,
				ssh.CipherAES128GCM, ssh.CipherAES128CTR,
			},
			macs: []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM, ssh.HMACSHA256, ssh.HMACSHA1, ssh.HMACSHA512},
		}
	}

	// Upstream OpenSSH defaults (myproposal.h), minus what x/crypto lacks.
	var kex []string
	if atLeast(9, 9) {
		kex = append(kex, ssh.KeyExchangeMLKEM768X25519)
	}
	kex = append(kex,
		ssh.KeyExchangeCurve25519, "curve25519-sha256@libssh.org",
		ssh.KeyExchangeECDHP256, ssh.KeyExchangeECDHP384, ssh.KeyExchangeECDHP521,
		ssh.KeyExchangeDHGEXSHA256, ssh.KeyExchangeDH16SHA512, ssh.KeyExchangeDH14SHA256,
	)
	return algorithms{
		kex: kex,
		ciphers: []string{
			ssh.CipherChaCha20Poly1305, ssh.CipherAES128CTR, ssh.CipherAES192CTR, ssh.CipherAES256CTR,
			ssh.CipherAES128GCM, ssh.CipherAES256GCM,
		},
		macs:   []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM, ssh.HMACSHA256, ssh.HMACSHA512, ssh.HMACSHA1},
		sshRSA: !atLeast(8, 8),
	}
}
