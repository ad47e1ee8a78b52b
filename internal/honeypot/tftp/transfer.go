package tftp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot"
)

// maxSends is how often tftpd-hpa sends one packet before giving up (the
// first send and five retransmissions, the timeout doubling each time).
const maxSends = 6

// unverifiedSends is how often a packet goes to a source that has not yet
// acknowledged anything: a spoofed request gets at most this many replies.
const unverifiedSends = 2

// xfer is one transfer on its own socket.
type xfer struct {
	srv      *server
	ctx      context.Context
	conn     *net.UDPConn
	peer     netip.AddrPort
	verified bool // the peer answered from its address: not spoofed
	timeout  time.Duration
	blksize  int
	buf      []byte
	in       []byte // receive buffer, made on first use
}

// transfer answers one request from a new ephemeral socket, as tftpd-hpa's
// forked child does.
func (srv *server) transfer(ctx context.Context, req request, src netip.AddrPort, session string) {
	laddr := netip.AddrPortFrom(srv.local.Addr(), 0)
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(laddr))
	if err != nil {
		srv.log().Warn("tftp: no transfer socket", "decky", srv.env.Decky.Name, "err", err)
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	x := &xfer{srv: srv, ctx: ctx, conn: conn, peer: src, timeout: rexmt, blksize: 512}

	op := map[uint16]string{opRRQ: "RRQ", opWRQ: "WRQ"}[req.op]
	e := honeypot.PacketEvent(srv.env, "tftp", session, src, srv.local, event.TypeRequest)
	e.Fields = map[string]any{"op": op, "filename": req.filename, "mode": req.mode}
	if len(req.options) > 0 {
		var sb strings.Builder
		for i, o := range req.options {
			if i > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(o.name + "=" + o.value)
		}
		e.Fields["options"] = sb.String()
	}
	refuse := func(code uint16, msg string) {
		e.Fields["error_code"], e.Fields["error"] = int(code), msg
		srv.emit(e)
		x.send(errorPacket(code, msg))
	}
	if req.err != "" {
		refuse(errBadOp, req.err)
		return
	}
	view := srv.viewOf(src.Addr())
	name := path.Join(srv.cfg.root, path.Clean("/"+req.filename))
	e.Fields["path"] = name

	// Look the file up as tftpd-hpa does before reading any option.
	var content []byte
	switch req.op {
	case opRRQ:
		fi, err := view.Stat("root", name)
		switch {
		case err != nil:
			refuse(errnoCode(err))
			return
		case fi.Dir:
			refuse(errUndef, "Is a directory")
			return
		case fi.Mode&0o004 == 0:
			refuse(errUndef, "Permission denied")
			return
		}
		content, _ = view.ReadFile("root", name)
	case opWRQ:
		fi, err := view.Stat("root", name)
		switch {
		case err == nil && fi.Dir:
			refuse(errUndef, "Is a directory")
			return
		case err == nil && fi.Mode&0o002 == 0:
			refuse(errUndef, "Permission denied")
			return
		case err != nil && (!errors.Is(err, fs.ErrNotExist) || !srv.cfg.create):
			refuse(errnoCode(err))
			return
		case err != nil:
			if parent, perr := view.Stat("root", path.Dir(name)); perr != nil || !parent.Dir {
				refuse(errNotFound, "File not found")
				return
			}
		}
	}
	if req.unterminated {
		refuse(errBadOp, "Request not null-terminated")
		return
	}
	if req.op == opRRQ && req.mode == "netascii" {
		content = toNetascii(content)
	}
	oack, ok := x.negotiate(req, int64(len(content)))
	if !ok {
		refuse(errOptNeg, "Unsupported option(s) requested")
		return
	}
	if req.op == opRRQ {
		e.Fields["size"] = len(content)
		srv.emit(e)
		x.sendFile(content, oack)
		return
	}
	srv.emit(e)
	x.receiveFile(req, name, session, oack)
}

// errnoCode maps a lookup error to tftpd-hpa's answer.
func errnoCode(err error) (uint16, string) {
	var errno syscall.Errno
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return errNotFound, "File not found"
	case errors.As(err, &errno):
		msg := errno.Error()
		return errUndef, strings.ToUpper(msg[:1]) + msg[1:]
	}
	return errAccess, "Access violation"
}

// negotiate applies the options tftpd-hpa knows and returns the OACK
// options; false when a known option has a value it refuses.
func (x *xfer) negotiate(req request, size int64) ([]option, bool) {
	var out []option
	seen := map[string]bool{}
	for _, o := range req.options {
		name := strings.ToLower(o.name)
		if seen[name] || o.value == "" {
			continue
		}
		v, err := strconv.ParseUint(o.value, 10, 64)
		if err != nil {
			continue // tftpd-hpa ignores a value that is not a number
		}
		switch name {
		case "blksize":
			if v < 8 {
				return nil, false
			}
			x.blksize = int(min(v, uint64(maxBlksize)))
			v = uint64(x.blksize)
		case "tsize":
			if req.op == opRRQ {
				if req.mode == "netascii" {
					return nil, false
				}
				v = uint64(size)
			}
		case "timeout":
			if v < 1 || v > 255 {
				return nil, false
			}
			x.timeout = time.Duration(v) * time.Second
		default:
			continue
		}
		seen[name] = true
		out = append(out, option{o.name, strconv.FormatUint(v, 10)})
	}
	return out, true
}

// send writes one packet to the peer.
func (x *xfer) send(p []byte) error {
	_, err := x.conn.WriteToUDPAddrPort(p, x.peer)
	return err
}

// exchange sends p and waits for a packet from the peer that accept
// takes, retransmitting with a doubling timeout. An ERROR from the peer
// ends the transfer.
func (x *xfer) exchange(p []byte, accept func([]byte) bool) ([]byte, bool) {
	if x.in == nil {
		x.in = make([]byte, x.blksize+4) // a longer datagram is cut and refused
	}
	in := x.in
	wait := x.timeout
	for sends := 0; sends < maxSends && (x.verified || sends < unverifiedSends); sends++ {
		if x.send(p) != nil {
			return nil, false
		}
		deadline := time.Now().Add(wait)
		for {
			x.conn.SetReadDeadline(deadline)
			n, from, err := x.conn.ReadFromUDPAddrPort(in)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() && x.ctx.Err() == nil {
					break // retransmit
				}
				return nil, false
			}
			if from != x.peer {
				// tftpd-hpa's socket is connected to the peer, so the
				// kernel drops these; never answering them also keeps the
				// decky from reflecting anything to a third party.
				continue
			}
			pkt := in[:n]
			if n >= 2 && binary.BigEndian.Uint16(pkt) == opERROR {
				return nil, false
			}
			if accept(pkt) {
				x.verified = true
				return pkt, true
			}
		}
		wait *= 2
	}
	return nil, false
}

func isAck(block uint16) func([]byte) bool {
	return func(p []byte) bool {
		return len(p) >= 4 && binary.BigEndian.Uint16(p) == opACK && binary.BigEndian.Uint16(p[2:]) == block
	}
}

// sendFile runs an RRQ: an OACK when options were taken, then one DATA
// block at a time, each acknowledged before the next.
func (x *xfer) sendFile(content []byte, oack []option) {
	if len(oack) > 0 {
		if _, ok := x.exchange(oackPacket(oack), isAck(0)); !ok {
			return
		}
	}
	x.buf = make([]byte, 0, x.blksize+4)
	for block, off := uint16(1), 0; ; block++ {
		end := min(off+x.blksize, len(content))
		if _, ok := x.exchange(dataPacket(x.buf, block, content[off:end]), isAck(block)); !ok {
			return
		}
		if end-off < x.blksize {
			return
		}
		off = end
	}
}

// receiveFile runs a WRQ: ACK 0 (or the OACK), then DATA blocks until a
// short one, streamed into an artifact.
func (x *xfer) receiveFile(req request, name, session string, oack []option) {
	srv := x.srv
	pr, pw := io.Pipe()
	type stored struct {
		art honeypot.Artifact
		err error
	}
	done := make(chan stored, 1)
	head := &bytes.Buffer{}
	go func() {
		arts := srv.env.Artifacts()
		arts.MaxSize = srv.cfg.maxUpload
		art, err := arts.Store(name, io.TeeReader(pr, &headWriter{b: head, max: 1 << 20}))
		pr.CloseWithError(err)
		done <- stored{art, err}
	}()
	reply := ackPacket(0)
	if len(oack) > 0 {
		reply = oackPacket(oack)
	}
	var received int64
	complete := false
	for block := uint16(1); ; block++ {
		want := block
		pkt, ok := x.exchange(reply, func(p []byte) bool {
			return len(p) >= 4 && binary.BigEndian.Uint16(p) == opDATA && binary.BigEndian.Uint16(p[2:]) == want
		})
		if !ok {
			break
		}
		data := pkt[4:]
		if received+int64(len(data)) > srv.cfg.maxUpload {
			x.send(errorPacket(errDiskFull, "Disk full or allocation exceeded"))
			break
		}
		received += int64(len(data))
		if _, err := pw.Write(data); err != nil {
			x.send(errorPacket(errDiskFull, "Disk full or allocation exceeded"))
			break
		}
		reply = ackPacket(block)
		if len(data) < x.blksize {
			x.send(reply) // the final ACK; a lost one is the client's to retry
			complete = true
			break
		}
	}
	pw.Close()
	res := <-done
	if res.err != nil {
		srv.log().Error("tftp upload not kept", "decky", srv.env.Decky.Name, "src", x.peer.String(), "err", res.err)
		return
	}
	if received == 0 && !complete {
		return // nothing arrived: no artifact worth reporting
	}
	view := srv.viewOf(x.peer.Addr())
	view.WriteFile("root", name, head.Bytes(), 0o644, false)
	e := honeypot.PacketEvent(srv.env, "tftp", session, x.peer, srv.local, event.TypeFileCaptured)
	e.Fields = res.art.Fields(name)
	e.Fields["complete"] = complete
	e.Fields["mode"] = req.mode
	srv.emit(e)
}

// headWriter keeps the first max bytes written to it.
type headWriter struct {
	b   *bytes.Buffer
	max int
}

func (h *headWriter) Write(p []byte) (int, error) {
	if room := h.max - h.b.Len(); room > 0 {
		h.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
