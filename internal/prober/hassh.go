package prober

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Bounds on what an SSH server may make the prober read.
const (
	maxSSHPreamble   = 8 << 10 // lines before the identification (RFC 4253 §4.2)
	maxSSHLine       = 1024    // one line; RFC 4253 says 255 for the identification
	maxSSHPacket     = 35000   // RFC 4253 §6.1: what every implementation must accept
	maxSSHSkippedMsg = 4       // IGNORE/DEBUG messages tolerated before KEXINIT
)

// ErrNotSSH is returned when a server does not speak SSH 2.
var ErrNotSSH = errors.New("prober: not an SSH-2 server")

// KEXINIT is the algorithm negotiation message of an SSH peer (RFC 4253
// §7.1), as sent by the server.
type KEXINIT struct {
	KEX                  []string
	HostKeys             []string
	CiphersClientServer  []string
	CiphersServerClient  []string
	MACsClientServer     []string
	MACsServerClient     []string
	CompressClientServer []string
	CompressServerClient []string
	LangsClientServer    []string
	LangsServerClient    []string
	FirstKEXFollows      bool
}

// HASSHServerAlgorithms is the hasshServer input: the server's
// "kex;encryption;mac;compression" lists, server to client.
func (k KEXINIT) HASSHServerAlgorithms() string {
	return strings.Join([]string{
		strings.Join(k.KEX, ","), strings.Join(k.CiphersServerClient, ","),
		strings.Join(k.MACsServerClient, ","), strings.Join(k.CompressServerClient, ","),
	}, ";")
}

// HASSHServer is the MD5 of HASSHServerAlgorithms in hex, as defined by
// salesforce/hassh.
func (k KEXINIT) HASSHServer() string {
	sum := md5.Sum([]byte(k.HASSHServerAlgorithms()))
	return hex.EncodeToString(sum[:])
}

// ParseKEXINIT parses the payload of an SSH_MSG_KEXINIT (its first byte is
// the message number 20). The input is untrusted; it never panics.
func ParseKEXINIT(payload []byte) (KEXINIT, error) {
	var k KEXINIT
	if len(payload) < 17 || payload[0] != 20 {
		return k, fmt.Errorf("%w: not a KEXINIT", ErrNotSSH)
	}
	rest := payload[17:] // message number and 16-byte cookie
	lists := []*[]string{
		&k.KEX, &k.HostKeys, &k.CiphersClientServer, &k.CiphersServerClient,
		&k.MACsClientServer, &k.MACsServerClient, &k.CompressClientServer,
		&k.CompressServerClient, &k.LangsClientServer, &k.LangsServerClient,
	}
	for i, l := range lists {
		if len(rest) < 4 {
			return KEXINIT{}, fmt.Errorf("%w: KEXINIT truncated at name-list %d", ErrNotSSH, i)
		}
		n := binary.BigEndian.Uint32(rest)
		if uint64(n) > uint64(len(rest)-4) {
			return KEXINIT{}, fmt.Errorf("%w: KEXINIT name-list %d overruns the packet", ErrNotSSH, i)
		}
		if s := string(rest[4 : 4+n]); s != "" {
			*l = strings.Split(s, ",")
		}
		rest = rest[4+n:]
	}
	if len(rest) < 5 {
		return KEXINIT{}, fmt.Errorf("%w: KEXINIT truncated after the name-lists", ErrNotSSH)
	}
	k.FirstKEXFollows = rest[0] != 0
	return k, nil
}

// SSHServerInfo is what the prober learns from an SSH server before any
// key exchange: its identification line and its KEXINIT.
type SSHServerInfo struct {
	Banner     string // the identification line, without CRLF
	KEXINIT    KEXINIT
	HASSH      string // hasshServer
	Algorithms string // the hasshServer input
}

// HASSHServer returns the hasshServer of the SSH server at addr and its
// identification line. It exchanges identification lines and reads the
// server's KEXINIT; it never sends a KEXINIT and never authenticates.
func (p *Prober) HASSHServer(ctx context.Context, addr string) (hash, banner string, err error) {
	info, err := p.SSHServer(ctx, addr)
	return info.HASSH, info.Banner, err
}

// SSHServer connects to addr and returns the server's identification and
// KEXINIT (see HASSHServer).
func (p *Prober) SSHServer(ctx context.Context, addr string) (SSHServerInfo, error) {
	c, err := p.dial(ctx, addr)
	if err != nil {
		return SSHServerInfo{}, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	version := "SSH-2.0-OpenSSH_9.6"
	if p != nil && p.SSHClientVersion != "" {
		version = p.SSHClientVersion
	}
	if _, err := io.WriteString(c, version+"\r\n"); err != nil {
		return SSHServerInfo{}, fmt.Errorf("prober: ssh %s: %w", addr, err)
	}
	info, err := readSSHServer(bufio.NewReaderSize(io.LimitReader(c, maxSSHPreamble+maxSSHLine+(maxSSHSkippedMsg+1)*(maxSSHPacket+4)), 4096))
	if err != nil {
		if ctx.Err() != nil {
			return SSHServerInfo{}, ctx.Err()
		}
		return info, fmt.Errorf("prober: ssh %s: %w", addr, err)
	}
	return info, nil
}

// readSSHServer reads a server's identification line (after optional
// other lines) and its first binary packet, which must be a KEXINIT
// (IGNORE and DEBUG messages before it are skipped).
func readSSHServer(r *bufio.Reader) (SSHServerInfo, error) {
	var info SSHServerInfo
	read := 0
	for {
		line, err := readLine(r)
		if err != nil {
			return info, err
		}
		read += len(line) + 2
		if strings.HasPrefix(line, "SSH-") {
			info.Banner = line
			break
		}
		if read > maxSSHPreamble {
			return info, fmt.Errorf("%w: no identification line in the first %d bytes", ErrNotSSH, maxSSHPreamble)
		}
	}
	if !strings.HasPrefix(info.Banner, "SSH-2.0-") && !strings.HasPrefix(info.Banner, "SSH-1.99-") {
		return info, fmt.Errorf("%w: identification %q", ErrNotSSH, info.Banner)
	}
	for i := 0; i <= maxSSHSkippedMsg; i++ {
		payload, err := readPacket(r)
		if err != nil {
			return info, err
		}
		if len(payload) > 0 && (payload[0] == 2 || payload[0] == 4) { // IGNORE, DEBUG
			continue
		}
		k, err := ParseKEXINIT(payload)
		if err != nil {
			return info, err
		}
		info.KEXINIT, info.HASSH, info.Algorithms = k, k.HASSHServer(), k.HASSHServerAlgorithms()
		return info, nil
	}
	return info, fmt.Errorf("%w: no KEXINIT after %d other messages", ErrNotSSH, maxSSHSkippedMsg)
}

// readLine reads a line ending in LF (CR stripped), at most maxSSHLine.
func readLine(r *bufio.Reader) (string, error) {
	var b []byte
	for {
		chunk, err := r.ReadSlice('\n')
		b = append(b, chunk...)
		if len(b) > maxSSHLine {
			return "", fmt.Errorf("%w: line longer than %d bytes", ErrNotSSH, maxSSHLine)
		}
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				return "", fmt.Errorf("%w: connection closed before the identification", ErrNotSSH)
			}
			return "", err
		}
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// readPacket reads one unencrypted binary packet and returns its payload.
func readPacket(r *bufio.Reader) ([]byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: reading a packet: %v", ErrNotSSH, err)
	}
	length := binary.BigEndian.Uint32(hdr[:4])
	pad := uint32(hdr[4])
	if length < 2 || length > maxSSHPacket || pad >= length {
		return nil, fmt.Errorf("%w: packet length %d, padding %d", ErrNotSSH, length, pad)
	}
	body := make([]byte, length-1)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("%w: reading a packet: %v", ErrNotSSH, err)
	}
	return body[:length-1-pad], nil
}
