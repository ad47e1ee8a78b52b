package prober

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// ProbeType names a kind of probe; the values are the probe_type strings of
// the rotation state and of attacker.fingerprinted.
type ProbeType string

// The probe types this package runs.
const (
	JARMProbe  ProbeType = "jarm"
	HASSHProbe ProbeType = "hassh"
	TCPFPProbe ProbeType = "tcpfp"
)

// DefaultPorts are the ports probed per type when a target names none; they
// are the original prober's lists.
var DefaultPorts = map[ProbeType][]int{
	JARMProbe:  {443, 8443, 8080, 4443, 50050, 2222, 993, 995, 8888, 9001},
	HASSHProbe: {22, 2222, 22222, 2022},
	TCPFPProbe: {22, 80, 443, 8080, 8443, 445, 3389},
}

// DefaultTimeout bounds one connection of a probe (connect plus answer).
const DefaultTimeout = 5 * time.Second

// ErrUnreachable is returned when a probe could not connect at all.
var ErrUnreachable = errors.New("prober: target unreachable")

// Prober runs single probes. The zero value is ready to use: 5 s per
// connection, net.Dialer, no pause between JARM hellos. A Prober has no
// allow-list of its own; only call it on addresses you are allowed to
// probe (the Scheduler enforces that).
type Prober struct {
	// Timeout bounds each connection (dial, write, answer); 0 means
	// DefaultTimeout.
	Timeout time.Duration
	// Dial opens TCP connections; nil means a net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// HelloGap is a pause between the ten JARM connections (the original
	// prober slept 100 ms); 0 means none.
	HelloGap time.Duration
	// SSHClientVersion is the identification line sent to SSH servers
	// (without CRLF); empty means "SSH-2.0-OpenSSH_9.6".
	SSHClientVersion string
}

func (p *Prober) timeout() time.Duration {
	if p == nil || p.Timeout <= 0 {
		return DefaultTimeout
	}
	return p.Timeout
}

// dial connects to addr with the per-connection timeout and sets the
// connection's deadline to the same instant (or ctx's, if earlier).
func (p *Prober) dial(ctx context.Context, addr string) (net.Conn, error) {
	deadline := time.Now().Add(p.timeout())
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	dctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var c net.Conn
	var err error
	if p != nil && p.Dial != nil {
		c, err = p.Dial(dctx, "tcp", addr)
	} else {
		var d net.Dialer
		c, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	if err := c.SetDeadline(deadline); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// isTimeout reports whether err is a timeout (of a dial or a read).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func hostOf(addr string) (string, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("prober: address %q: %w", addr, err)
	}
	return host, nil
}
