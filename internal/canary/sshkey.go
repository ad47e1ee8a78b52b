package canary

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/binary"
	"strings"

	"github.com/decnet-go/decnet/internal/persona"
)

func b64std(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// makeSSHKey writes an unencrypted OpenSSH ed25519 private key whose
// comment is <user>@<slug>.<zone>: ssh-keygen -y, ssh-add -l and a look
// with an openssh-key-v1 parser all show that host, and whoever tries the
// key against it resolves the name. The key is encoded by hand because
// x/crypto/ssh.MarshalPrivateKey draws its check bytes from crypto/rand,
// which would make the bait differ on every re-plant.
func makeSSHKey(p Params) (Artifact, error) {
	b, err := newBait(p, "ssh_key", KindDNS)
	if err != nil {
		return Artifact{}, err
	}
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(b.r.IntN(256))
	}
	priv := ed25519.NewKeyFromSeed(seed)
	pub := priv.Public().(ed25519.PublicKey)
	comment := b.user + "@" + b.dnsHost
	check := b.r.Uint32()

	pubBlob := sshString(sshString(nil, []byte("ssh-ed25519")), pub)

	var pb []byte
	pb = binary.BigEndian.AppendUint32(pb, check)
	pb = binary.BigEndian.AppendUint32(pb, check)
	pb = sshString(pb, []byte("ssh-ed25519"))
	pb = sshString(pb, pub)
	pb = sshString(pb, priv)
	pb = sshString(pb, []byte(comment))
	for i := byte(1); len(pb)%8 != 0; i++ {
		pb = append(pb, i)
	}

	blob := []byte("openssh-key-v1\x00")
	blob = sshString(blob, []byte("none"))
	blob = sshString(blob, []byte("none"))
	blob = sshString(blob, nil)
	blob = binary.BigEndian.AppendUint32(blob, 1)
	blob = sshString(blob, pubBlob)
	blob = sshString(blob, pb)

	// ssh-keygen wraps the base64 at 70 columns (pem.Encode would use 64,
	// a visible difference).
	enc := b64std(blob)
	var sb strings.Builder
	sb.WriteString("-----BEGIN OPENSSH PRIVATE KEY-----\n")
	for len(enc) > 70 {
		sb.WriteString(enc[:70] + "\n")
		enc = enc[70:]
	}
	sb.WriteString(enc + "\n-----END OPENSSH PRIVATE KEY-----\n")
	a := b.artifact(sshKeyPath, []byte(sb.String()), 0o600,
		"ed25519 key with comment "+comment+"; fires when "+b.dnsHost+" is resolved")
	return a, nil
}

func sshKeyPath(p *persona.Persona) string { return homeOf(p) + "/.ssh/id_ed25519" }

// sshString appends an RFC 4251 string (uint32 length, bytes).
func sshString(b, s []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}
