package prober

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"
)

// TCPInfo is what an ordinary connect reveals of a peer's TCP stack, read
// from the kernel (TCP_INFO) right after the handshake. It needs no
// privilege, and so sees less than a raw SYN probe: the options the peer
// enabled but not their order, the effective MSS rather than the
// advertised one, and no TTL.
type TCPInfo struct {
	MSS         int  // effective send MSS (the peer's MSS less our option overhead)
	WScale      int  // the peer's window scale shift; -1 when it sent none
	SACK        bool // the peer agreed to SACK
	Timestamps  bool // the peer agreed to TCP timestamps
	ECN         bool // ECN was negotiated
	Window      int  // the window of the SYN-ACK; 0 when unknown
	WindowKnown bool // false when data arrived before it could be read
	RTT         time.Duration
	TTL         int    // always 0: not observable without raw sockets
	Raw         string // the stable string hashed into Hash
	Hash        string // first 32 hex digits of SHA-256(Raw)
}

// ErrTCPInfoUnsupported is returned where the kernel offers no TCP_INFO.
var ErrTCPInfoUnsupported = errors.New("prober: TCP fingerprint needs Linux TCP_INFO")

// tcpfpAttempts is how many connects TCPDetail tries to catch a window
// not yet overwritten by the peer's first data (banner-first protocols).
const tcpfpAttempts = 3

// TCPFingerprint returns the hash of the TCP fingerprint of addr.
func (p *Prober) TCPFingerprint(ctx context.Context, addr string) (string, error) {
	info, err := p.TCPDetail(ctx, addr)
	return info.Hash, err
}

// TCPDetail connects to addr, reads the connection's TCP_INFO at once and
// closes it with a reset, like the half-open raw probe it stands in for.
func (p *Prober) TCPDetail(ctx context.Context, addr string) (TCPInfo, error) {
	var info TCPInfo
	for attempt := 0; attempt < tcpfpAttempts; attempt++ {
		c, err := p.dial(ctx, addr)
		if err != nil {
			return TCPInfo{}, fmt.Errorf("%w: %s: %v", ErrUnreachable, addr, err)
		}
		tc, ok := c.(*net.TCPConn)
		if !ok {
			c.Close()
			return TCPInfo{}, fmt.Errorf("prober: tcpfp %s: not a TCP connection", addr)
		}
		info, err = readTCPInfo(tc)
		tc.SetLinger(0)
		tc.Close()
		if err != nil {
			return TCPInfo{}, fmt.Errorf("prober: tcpfp %s: %w", addr, err)
		}
		if info.WindowKnown {
			break
		}
	}
	info.TTL = 0
	info.Raw = tcpRaw(info)
	sum := sha256.Sum256([]byte(info.Raw))
	info.Hash = hex.EncodeToString(sum[:])[:32]
	return info, nil
}

// tcpRaw is the stable string of a TCPInfo: version, MSS, window scale,
// SACK, timestamps, ECN and the SYN-ACK window ("?" when unknown).
func tcpRaw(i TCPInfo) string {
	b2i := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	ws, win := "-", "?"
	if i.WScale >= 0 {
		ws = strconv.Itoa(i.WScale)
	}
	if i.WindowKnown {
		win = strconv.Itoa(i.Window)
	}
	return "tcpfp1:mss=" + strconv.Itoa(i.MSS) + ":ws=" + ws + ":sack=" + b2i(i.SACK) +
		":ts=" + b2i(i.Timestamps) + ":ecn=" + b2i(i.ECN) + ":win=" + win
}
