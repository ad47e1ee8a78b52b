package ftp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/honeypot/shell"
)

// dataChannel is the data connection a session has prepared: a passive
// listener, or an address to connect back to.
type dataChannel struct {
	l      net.Listener
	active netip.AddrPort
}

func (d *dataChannel) close() {
	if d.l != nil {
		d.l.Close()
	}
	*d = dataChannel{}
}

func (d *dataChannel) ready() bool { return d.l != nil || d.active.IsValid() }

// pasv answers PASV and EPSV: a listener on the decky's address, in the
// configured range.
func (s *session) pasv(extended bool, arg string) {
	local := s.c.Dst.Addr().Unmap()
	if extended {
		switch strings.ToUpper(strings.TrimSpace(arg)) {
		case "":
		case "ALL":
			s.reply(s.fl.epsvAll)
			return
		case "1":
			if !local.Is4() {
				s.reply(s.fl.epsvProto)
				return
			}
		case "2":
			if local.Is4() {
				s.reply(s.fl.epsvProto)
				return
			}
		default:
			s.reply(s.fl.epsvProto)
			return
		}
	} else if !local.Is4() {
		s.reply(s.fl.epsvProto)
		return
	}
	s.data.close()
	l, err := s.listen(local)
	if err != nil {
		s.reply(s.fl.dataFailed)
		return
	}
	s.data.l = l
	port := uint16(l.Addr().(*net.TCPAddr).Port)
	if extended {
		s.reply(msg(s.fl.epsv, port))
		return
	}
	s.reply(msg(s.fl.pasv, pasvReply(netip.AddrPortFrom(local, port))))
}

// listen opens a passive listener on addr, within pasv_min_port–
// pasv_max_port when set.
func (s *session) listen(addr netip.Addr) (net.Listener, error) {
	cfg := s.srv.cfg
	if cfg.pasvMin == 0 {
		return net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
	}
	span := cfg.pasvMax - cfg.pasvMin + 1
	start := rand.IntN(span)
	var err error
	for i := range min(span, 64) {
		port := cfg.pasvMin + (start+i)%span
		var l *net.TCPListener
		if l, err = net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, uint16(port)))); err == nil {
			return l, nil
		}
	}
	return nil, err
}

// port answers PORT: only the client's own address, never a privileged
// port, so the decky cannot bounce a connection to a third host.
func (s *session) port(arg string) {
	ap, ok := parsePORT(arg)
	if !ok {
		s.reply(s.fl.portBad)
		return
	}
	if !s.allowActive(ap) {
		s.reply(s.fl.portIllegal)
		return
	}
	s.data.close()
	s.data.active = ap
	s.reply(s.fl.portOK)
}

func (s *session) eprt(arg string) {
	ap, perr := parseEPRT(arg, s.c.Dst.Addr().Unmap().Is6())
	switch perr {
	case eprtBad:
		s.reply(s.fl.eprtBad)
		return
	case eprtProtocol:
		s.reply(s.fl.eprtProto)
		return
	}
	if !s.allowActive(ap) {
		s.reply(s.fl.eprtIllegal)
		return
	}
	s.data.close()
	s.data.active = ap
	s.reply(s.fl.eprtOK)
}

// allowActive is vsftpd's port_promiscuous=NO rule; a refused target is
// noted on the command event (an FTP bounce attempt).
func (s *session) allowActive(ap netip.AddrPort) bool {
	if ap.Addr().Unmap() == s.srcAddr() && ap.Port() >= 1024 {
		return true
	}
	s.lastCmd.extra = map[string]any{"bounce_target": ap.String()}
	return false
}

var errBadIP = errors.New("ftp: data connection from another address")

// open makes the prepared data connection: accepts on the passive
// listener (from the client's address only) or connects back to the
// client. The channel is used up either way.
func (s *session) open() (net.Conn, error) {
	d := s.data
	s.data = dataChannel{}
	if d.l != nil {
		defer d.l.Close()
		stop := context.AfterFunc(s.ctx, func() { d.l.Close() })
		defer stop()
		d.l.(*net.TCPListener).SetDeadline(time.Now().Add(acceptTimeout))
		nc, err := d.l.Accept()
		if err != nil {
			return nil, err
		}
		if nc.RemoteAddr().(*net.TCPAddr).AddrPort().Addr().Unmap() != s.srcAddr() {
			nc.Close()
			return nil, errBadIP
		}
		return nc, nil
	}
	dialer := net.Dialer{Timeout: connectTimeout, LocalAddr: &net.TCPAddr{IP: s.c.Dst.Addr().AsSlice()}}
	return dialer.DialContext(s.ctx, "tcp", d.active.String())
}

// dataConn bounds a data connection: every read and write must progress
// within dataTimeout, and the session's end closes it.
type dataConn struct {
	net.Conn
	stop func() bool
}

func (s *session) wrapData(nc net.Conn) *dataConn {
	return &dataConn{Conn: nc, stop: context.AfterFunc(s.ctx, func() { nc.Close() })}
}

func (d *dataConn) Read(p []byte) (int, error) {
	d.Conn.SetReadDeadline(time.Now().Add(dataTimeout))
	return d.Conn.Read(p)
}

func (d *dataConn) Write(p []byte) (int, error) {
	d.Conn.SetWriteDeadline(time.Now().Add(dataTimeout))
	return d.Conn.Write(p)
}

func (d *dataConn) Close() error {
	d.stop()
	return d.Conn.Close()
}

// startData opens the data connection and sends the 150 line, or answers
// why it could not.
func (s *session) startData(start string) (*dataConn, bool) {
	nc, err := s.open()
	if err != nil {
		if errors.Is(err, errBadIP) {
			s.reply(s.fl.badIP)
		} else {
			s.reply(s.fl.dataFailed)
		}
		return nil, false
	}
	s.reply(start)
	return s.wrapData(nc), true
}

// finish reports the end of a transfer: done, or the timeout that ends the
// session.
func (s *session) finish(err error, done string) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		s.reply(s.fl.dataTimeout)
		s.quit = true
		return
	}
	if err != nil {
		s.reply("426 Failure writing network stream.")
		return
	}
	s.reply(done)
}

func (s *session) list(nlst bool, arg string) {
	if !s.data.ready() {
		s.reply(s.fl.noData)
		return
	}
	opts := ""
	if strings.HasPrefix(arg, "-") {
		opts, arg, _ = strings.Cut(arg, " ")
	}
	all := strings.ContainsAny(opts, "aA")
	_, real := s.resolve(arg)
	if _, err := s.fs.Stat(s.login, real); err != nil && s.fl.name == "proftpd" && !strings.ContainsAny(path.Base(real), "*?[") {
		s.reply("450 " + arg + ": " + why(err))
		return
	}
	out := s.listing(arg, nlst, all)
	dc, ok := s.startData(s.fl.listStart)
	if !ok {
		return
	}
	_, err := io.WriteString(dc, out)
	dc.Close()
	s.finish(err, s.fl.listDone)
}

// listing renders LIST (ls -l lines) or NLST (names) of a directory, a
// file or a glob in the last path element, as the flavor prints them.
func (s *session) listing(arg string, nlst, all bool) string {
	_, real := s.resolve(arg)
	pattern := ""
	if base := path.Base(real); strings.ContainsAny(base, "*?[") {
		real, pattern = path.Dir(real), base
	}
	fi, err := s.fs.Stat(s.login, real)
	if err != nil {
		return ""
	}
	var entries []shell.FileInfo
	if !fi.Dir {
		fi.Name = path.Base(arg)
		entries = []shell.FileInfo{fi}
	} else {
		list, err := s.fs.List(s.login, real)
		if err != nil {
			return ""
		}
		if all && !nlst && pattern == "" {
			dot := fi
			dot.Name = "."
			parent, perr := s.fs.Stat(s.login, path.Dir(real))
			if perr != nil || (s.root != "" && real == s.root) {
				parent = fi
			}
			parent.Name = ".."
			entries = append(entries, dot, parent)
		}
		for _, e := range list {
			if strings.HasPrefix(e.Name, ".") && !all {
				continue
			}
			if pattern != "" {
				if ok, _ := path.Match(pattern, e.Name); !ok {
					continue
				}
			}
			entries = append(entries, e)
		}
	}
	var b bytes.Buffer
	now := time.Now()
	for _, e := range entries {
		if nlst {
			b.WriteString(e.Name + "\r\n")
			continue
		}
		b.WriteString(s.lsLine(e, now))
	}
	return b.String()
}

// lsLine is one LIST line: vsftpd's (numeric ids, zero-padded day) or
// ProFTPD's (names, space-padded day).
func (s *session) lsLine(e shell.FileInfo, now time.Time) string {
	t := e.ModTime.UTC()
	recent := !t.After(now) && now.Sub(t) < 182*24*time.Hour
	if s.fl.numericIDs {
		date := t.Format("Jan 02  2006")
		if recent {
			date = t.Format("Jan 02 15:04")
		}
		id := s.uid(e.Owner)
		return fmt.Sprintf("%s %4d %-8s %-8s %8d %s %s\r\n", e.ModeString(), e.Links, id, id, e.Size, date, e.Name)
	}
	date := t.Format("Jan _2  2006")
	if recent {
		date = t.Format("Jan _2 15:04")
	}
	return fmt.Sprintf("%s %3d %-8s %-8s %8d %s %s\r\n", e.ModeString(), e.Links, e.Owner, e.Owner, e.Size, date, e.Name)
}

// uid is the numeric id of a persona account, as vsftpd lists owners.
func (s *session) uid(owner string) string {
	if l, ok := s.srv.env.Persona.Account(owner); ok {
		return strconv.Itoa(l.UID)
	}
	return "0"
}

func (s *session) retr(arg string) {
	if !s.data.ready() {
		s.reply(s.fl.noData)
		return
	}
	_, real := s.resolve(arg)
	content, err := s.fs.ReadFile(s.login, real)
	if err != nil {
		s.reply(s.fl.fail("550 Failed to open file.", arg, why(err)))
		return
	}
	size := len(content)
	rest := s.rest
	s.rest = 0
	if rest > 0 {
		content = content[min(int(rest), len(content)):]
	}
	mode := "BINARY"
	if !s.binary && s.fl.name == "proftpd" {
		mode = "ASCII"
		content = bytes.ReplaceAll(content, []byte("\n"), []byte("\r\n"))
	}
	dc, ok := s.startData(msg(s.fl.retrStart, mode, arg, size))
	if !ok {
		return
	}
	n, err := dc.Write(content)
	dc.Close()
	s.lastCmd.extra = map[string]any{"bytes": n, "size": size}
	s.finish(err, s.fl.xferDone)
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	b   []byte
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - len(h.b); room > 0 {
		h.b = append(h.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// maxSessionFile is what an upload keeps in the session's view of the
// filesystem (the shell's write budget); the artifact keeps more.
const maxSessionFile = 1 << 20

func (s *session) stor(arg string, appendData bool) {
	view, real := s.resolve(arg)
	if s.anon {
		s.reply(s.fl.fail("550 Permission denied.", arg, "Permission denied"))
		return
	}
	if !s.data.ready() {
		s.reply(s.fl.noData)
		return
	}
	mode := 0o666 &^ s.fl.umask
	if err := s.fs.WriteFile(s.login, real, nil, mode, appendData || s.rest > 0); err != nil {
		s.reply(msg(s.fl.storFailed, arg))
		return
	}
	s.rest = 0
	xfer := "BINARY"
	if !s.binary {
		xfer = "ASCII"
	}
	dc, ok := s.startData(msg(s.fl.storStart, xfer, arg))
	if !ok {
		return
	}
	max := s.srv.cfg.maxUpload
	arts := s.srv.env.Artifacts()
	arts.MaxSize = max
	head := &headBuffer{max: maxSessionFile}
	// A transfer cut short still leaves what arrived: the network error
	// ends the artifact like EOF, and is answered after it is kept.
	src := &stickyReader{r: io.LimitReader(dc, max+1)}
	art, err := arts.Store(view, io.TeeReader(src, head))
	dc.Close()
	if err != nil {
		s.log().Error("ftp upload not kept", "decky", s.srv.env.Decky.Name, "src", s.c.Src.String(), "err", err)
		s.reply("451 Failure writing to local file.")
		return
	}
	if art.Received > 0 || src.err == nil {
		s.fs.WriteFile(s.login, real, head.b, mode, true)
		e := s.c.Event(event.TypeFileCaptured)
		e.Fields = art.Fields(real)
		e.Fields["username"] = s.login
		e.Fields["command"] = map[bool]string{false: "STOR", true: "APPE"}[appendData]
		s.c.Emit(e)
		s.lastCmd.extra = map[string]any{"bytes": art.Received, "sha256": art.SHA256}
	}
	if art.Truncated {
		s.reply(s.fl.storTooBig)
		return
	}
	s.finish(src.err, s.fl.xferDone)
}

// stickyReader turns the first error of r into EOF and keeps it.
type stickyReader struct {
	r   io.Reader
	err error
}

func (r *stickyReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, io.EOF
	}
	n, err := r.r.Read(p)
	if err != nil && err != io.EOF {
		r.err = err
		err = io.EOF
	}
	return n, err
}

func (s *session) log() *slog.Logger {
	if s.srv.env.Log != nil {
		return s.srv.env.Log
	}
	return slog.Default()
}
