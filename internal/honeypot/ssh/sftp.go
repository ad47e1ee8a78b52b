package ssh

import (
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path"
	"strconv"
	"strings"
	"syscall"

	"github.com/decnet-go/decnet/internal/honeypot/shell"
)

// An SFTP version 3 server (draft-ietf-secsh-filexfer-02) that answers
// like OpenSSH's sftp-server — the same VERSION extensions, status codes
// and messages, limits, and "ls -l" long names — over the session's fake
// filesystem. It serves "sftp" and the scp of OpenSSH 9.0 and later, which
// speaks SFTP. Uploads are kept as artifacts; nothing is written to the
// host's filesystem outside the artifacts folder.

// SFTP packet types.
const (
	sshFxpInit          = 1
	sshFxpVersion       = 2
	sshFxpOpen          = 3
	sshFxpClose         = 4
	sshFxpRead          = 5
	sshFxpWrite         = 6
	sshFxpLstat         = 7
	sshFxpFstat         = 8
	sshFxpSetstat       = 9
	sshFxpFsetstat      = 10
	sshFxpOpendir       = 11
	sshFxpReaddir       = 12
	sshFxpRemove        = 13
	sshFxpMkdir         = 14
	sshFxpRmdir         = 15
	sshFxpRealpath      = 16
	sshFxpStat          = 17
	sshFxpRename        = 18
	sshFxpReadlink      = 19
	sshFxpSymlink       = 20
	sshFxpStatus        = 101
	sshFxpHandle        = 102
	sshFxpData          = 103
	sshFxpName          = 104
	sshFxpAttrs         = 105
	sshFxpExtended      = 200
	sshFxpExtendedReply = 201
)

// SFTP status codes.
const (
	sshFxOK               = 0
	sshFxEOF              = 1
	sshFxNoSuchFile       = 2
	sshFxPermissionDenied = 3
	sshFxFailure          = 4
	sshFxBadMessage       = 5
	sshFxOpUnsupported    = 8
)

// Attribute flags.
const (
	attrSize        = 0x1
	attrUIDGID      = 0x2
	attrPermissions = 0x4
	attrACModTime   = 0x8
	attrExtended    = 0x80000000
)

// Open flags.
const (
	fxfRead   = 0x1
	fxfWrite  = 0x2
	fxfAppend = 0x4
	fxfCreat  = 0x8
	fxfTrunc  = 0x10
	fxfExcl   = 0x20
)

// Limits, as OpenSSH's sftp-server has them (SFTP_MAX_MSG_LENGTH and the
// limits@openssh.com answer), plus caps of our own.
const (
	sftpMaxMsg     = 256 * 1024
	sftpMaxRead    = sftpMaxMsg - 1024
	sftpMaxHandles = 64
	sftpReaddirMax = 100 // entries per READDIR answer, as sftp-server sends
)

// sftpExtensions is OpenSSH sftp-server's VERSION answer (9.x).
var sftpExtensions = [][2]string{
	{"posix-rename@openssh.com", "1"},
	{"statvfs@openssh.com", "2"},
	{"fstatvfs@openssh.com", "2"},
	{"hardlink@openssh.com", "1"},
	{"fsync@openssh.com", "1"},
	{"lsetstat@openssh.com", "1"},
	{"limits@openssh.com", "1"},
	{"expand-path@openssh.com", "1"},
	{"copy-data", "1"},
	{"home-directory", "1"},
	{"users-groups-by-id@openssh.com", "1"},
}

var sftpMessages = map[uint32]string{
	sshFxOK: "Success", sshFxEOF: "End of file", sshFxNoSuchFile: "No such file",
	sshFxPermissionDenied: "Permission denied", sshFxFailure: "Failure", sshFxBadMessage: "Bad message",
	sshFxOpUnsupported: "Operation unsupported",
}

// sftpServer is one SFTP session.
type sftpServer struct {
	r         io.Reader
	w         io.Writer
	fs        *shell.Transfer
	tmpDir    string // where uploads are spooled until they are closed
	maxUpload int64
	// upload keeps a finished upload (f holds its bytes); sent reports a
	// file read to its end.
	upload func(orig string, f *os.File, size int64, mode uint32) error
	sent   func(orig string, size int64)

	handles map[string]*sftpHandle
	next    uint64
	out     []byte
}

type sftpHandle struct {
	path    string
	dir     bool
	entries []shell.TransferInfo
	pos     int
	data    []byte // a file opened for reading
	read    int64
	tmp     *os.File // a file opened for writing
	size    int64
	mode    uint32
}

// errSFTPClosed ends a session on a malformed or oversized packet, as
// sftp-server does.
var errSFTPClosed = errors.New("sftp: bad packet")

// serve answers packets until the client closes the channel; open uploads
// are kept as they are.
func (s *sftpServer) serve() {
	s.handles = map[string]*sftpHandle{}
	defer func() {
		for h := range s.handles {
			s.closeHandle(h)
		}
	}()
	var hdr [4]byte
	buf := make([]byte, 0, 4096)
	for {
		if _, err := io.ReadFull(s.r, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 || n > sftpMaxMsg {
			return
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(s.r, buf); err != nil {
			return
		}
		if err := s.handle(buf); err != nil {
			return
		}
		if cap(buf) > 64<<10 { // a large write does not pin its buffer
			buf = make([]byte, 0, 4096)
		}
	}
}

// packet decoding

type sftpReader struct {
	b  []byte
	ok bool
}

func (d *sftpReader) u32() uint32 {
	if len(d.b) < 4 {
		d.ok = false
		return 0
	}
	v := binary.BigEndian.Uint32(d.b)
	d.b = d.b[4:]
	return v
}

func (d *sftpReader) u64() uint64 {
	if len(d.b) < 8 {
		d.ok = false
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *sftpReader) bytes() []byte {
	n := d.u32()
	if !d.ok || uint64(n) > uint64(len(d.b)) {
		d.ok = false
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *sftpReader) str() string { return string(d.bytes()) }

// sftpAttrs are the attributes a client sends.
type sftpAttrs struct {
	flags uint32
	perm  uint32
}

func (d *sftpReader) attrs() sftpAttrs {
	a := sftpAttrs{flags: d.u32()}
	if a.flags&attrSize != 0 {
		d.u64()
	}
	if a.flags&attrUIDGID != 0 {
		d.u32()
		d.u32()
	}
	if a.flags&attrPermissions != 0 {
		a.perm = d.u32()
	}
	if a.flags&attrACModTime != 0 {
		d.u32()
		d.u32()
	}
	if a.flags&attrExtended != 0 {
		n := d.u32()
		for i := uint32(0); i < n && d.ok; i++ {
			d.bytes()
			d.bytes()
		}
	}
	return a
}

// packet encoding

func (s *sftpServer) begin(typ byte, id uint32) {
	s.out = append(s.out[:0], 0, 0, 0, 0, typ)
	if typ != sshFxpVersion {
		s.out = binary.BigEndian.AppendUint32(s.out, id)
	}
}

func (s *sftpServer) u32(v uint32) { s.out = binary.BigEndian.AppendUint32(s.out, v) }
func (s *sftpServer) u64(v uint64) { s.out = binary.BigEndian.AppendUint64(s.out, v) }
func (s *sftpServer) str(v string) { s.u32(uint32(len(v))); s.out = append(s.out, v...) }

func (s *sftpServer) send() error {
	binary.BigEndian.PutUint32(s.out, uint32(len(s.out)-4))
	_, err := s.w.Write(s.out)
	if cap(s.out) > 64<<10 {
		s.out = nil
	}
	return err
}

func (s *sftpServer) status(id, code uint32) error {
	s.begin(sshFxpStatus, id)
	s.u32(code)
	s.str(sftpMessages[code])
	s.str("")
	return s.send()
}

// errStatus is the status sftp-server sends for an errno
// (errno_to_portable).
func (s *sftpServer) errStatus(id uint32, err error) error {
	code := uint32(sshFxFailure)
	switch {
	case err == nil:
		code = sshFxOK
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.EBADF), errors.Is(err, syscall.ELOOP):
		code = sshFxNoSuchFile
	case errors.Is(err, syscall.EPERM), errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EFAULT):
		code = sshFxPermissionDenied
	case errors.Is(err, syscall.ENAMETOOLONG), errors.Is(err, syscall.EINVAL):
		code = sshFxBadMessage
	case errors.Is(err, syscall.ENOSYS):
		code = sshFxOpUnsupported
	}
	return s.status(id, code)
}

func (s *sftpServer) attrs(fi shell.TransferInfo) {
	mode := fi.Mode & 0o7777
	if fi.Dir {
		mode |= syscall.S_IFDIR
	} else {
		mode |= syscall.S_IFREG
	}
	gid := fi.UID
	s.u32(attrSize | attrUIDGID | attrPermissions | attrACModTime)
	s.u64(uint64(fi.Size))
	s.u32(uint32(fi.UID))
	s.u32(uint32(gid))
	s.u32(mode)
	t := uint32(fi.ModTime.Unix())
	s.u32(t)
	s.u32(t)
}

func (s *sftpServer) name(id uint32, p string) error {
	s.begin(sshFxpName, id)
	s.u32(1)
	s.str(p)
	s.str(p)
	s.u32(0) // no attributes, as sftp-server's realpath
	return s.send()
}

// handle answers one packet.
func (s *sftpServer) handle(pkt []byte) error {
	typ := pkt[0]
	d := &sftpReader{b: pkt[1:], ok: true}
	if typ == sshFxpInit {
		d.u32() // the client's version; we speak 3 whatever it says
		s.begin(sshFxpVersion, 0)
		s.u32(3)
		for _, e := range sftpExtensions {
			s.str(e[0])
			s.str(e[1])
		}
		return s.send()
	}
	id := d.u32()
	if !d.ok {
		return errSFTPClosed
	}
	switch typ {
	case sshFxpRealpath:
		p := d.str()
		if !d.ok {
			return errSFTPClosed
		}
		full := s.fs.Abs(p)
		if _, err := s.fs.Stat(path.Dir(full)); err != nil {
			return s.errStatus(id, err)
		}
		return s.name(id, full)
	case sshFxpStat, sshFxpLstat:
		p := d.str()
		if !d.ok {
			return errSFTPClosed
		}
		fi, err := s.fs.Stat(p)
		if err != nil {
			return s.errStatus(id, err)
		}
		s.begin(sshFxpAttrs, id)
		s.attrs(fi)
		return s.send()
	case sshFxpFstat:
		h := s.handles[d.str()]
		if h == nil {
			return s.status(id, sshFxFailure)
		}
		fi, err := s.fs.Stat(h.path)
		if h.tmp != nil {
			fi, err = shell.TransferInfo{Name: path.Base(h.path), Mode: h.mode, Size: h.size, ModTime: s.fs.Now()}, nil
		}
		if err != nil {
			return s.errStatus(id, err)
		}
		s.begin(sshFxpAttrs, id)
		s.attrs(fi)
		return s.send()
	case sshFxpOpendir:
		p := d.str()
		if !d.ok {
			return errSFTPClosed
		}
		ents, err := s.fs.ReadDir(p)
		if err != nil {
			return s.errStatus(id, err)
		}
		full := s.fs.Abs(p)
		self, _ := s.fs.Stat(full)
		parent, _ := s.fs.Stat(path.Dir(full))
		self.Name, parent.Name = ".", ".."
		return s.newHandle(id, &sftpHandle{path: full, dir: true, entries: append([]shell.TransferInfo{self, parent}, ents...)})
	case sshFxpReaddir:
		h := s.handles[d.str()]
		if h == nil || !h.dir {
			return s.status(id, sshFxFailure)
		}
		if h.pos >= len(h.entries) {
			return s.status(id, sshFxEOF)
		}
		end := min(h.pos+sftpReaddirMax, len(h.entries))
		s.begin(sshFxpName, id)
		s.u32(uint32(end - h.pos))
		now := s.fs.Now()
		for _, e := range h.entries[h.pos:end] {
			s.str(e.Name)
			s.str(e.LongName(now))
			s.attrs(e)
		}
		h.pos = end
		return s.send()
	case sshFxpOpen:
		p, flags, a := d.str(), d.u32(), d.attrs()
		if !d.ok {
			return errSFTPClosed
		}
		return s.open(id, p, flags, a)
	case sshFxpRead:
		h, off, n := s.handles[d.str()], d.u64(), d.u32()
		if !d.ok {
			return errSFTPClosed
		}
		if h == nil || h.dir || h.tmp != nil {
			return s.status(id, sshFxFailure)
		}
		if off >= uint64(len(h.data)) {
			return s.status(id, sshFxEOF)
		}
		chunk := h.data[off:min(off+uint64(min(n, sftpMaxRead)), uint64(len(h.data)))]
		h.read += int64(len(chunk))
		s.begin(sshFxpData, id)
		s.u32(uint32(len(chunk)))
		s.out = append(s.out, chunk...)
		return s.send()
	case sshFxpWrite:
		h, off, data := s.handles[d.str()], d.u64(), d.bytes()
		if !d.ok {
			return errSFTPClosed
		}
		if h == nil || h.tmp == nil {
			return s.status(id, sshFxFailure)
		}
		if off+uint64(len(data)) > uint64(s.maxUpload) {
			return s.errStatus(id, syscall.ENOSPC) // the upload cap: "Failure", as a full disk
		}
		if _, err := h.tmp.WriteAt(data, int64(off)); err != nil {
			return s.status(id, sshFxFailure)
		}
		h.size = max(h.size, int64(off)+int64(len(data)))
		return s.status(id, sshFxOK)
	case sshFxpClose:
		hid := d.str()
		if s.handles[hid] == nil {
			return s.status(id, sshFxFailure)
		}
		return s.errStatus(id, s.closeHandle(hid))
	case sshFxpSetstat, sshFxpFsetstat:
		var p string
		if typ == sshFxpSetstat {
			p = d.str()
		} else if h := s.handles[d.str()]; h != nil {
			p = h.path
			if h.tmp != nil {
				a := d.attrs()
				if a.flags&attrPermissions != 0 {
					h.mode = a.perm & 0o7777
				}
				return s.status(id, sshFxOK)
			}
		}
		a := d.attrs()
		if !d.ok {
			return errSFTPClosed
		}
		if p == "" {
			return s.status(id, sshFxFailure)
		}
		if a.flags&attrPermissions != 0 {
			return s.errStatus(id, s.fs.Chmod(p, a.perm))
		}
		_, err := s.fs.Stat(p)
		return s.errStatus(id, err)
	case sshFxpRemove:
		return s.errStatus(id, s.fs.Remove(d.str(), false))
	case sshFxpMkdir:
		p, a := d.str(), d.attrs()
		mode := uint32(0o777)
		if a.flags&attrPermissions != 0 {
			mode = a.perm
		}
		return s.errStatus(id, s.fs.Mkdir(p, mode&0o755|0o700))
	case sshFxpRmdir:
		return s.errStatus(id, s.fs.Remove(d.str(), true))
	case sshFxpRename:
		return s.errStatus(id, s.fs.Rename(d.str(), d.str()))
	case sshFxpReadlink:
		if _, err := s.fs.Stat(d.str()); err != nil {
			return s.errStatus(id, err)
		}
		return s.errStatus(id, syscall.EINVAL) // nothing in the fake filesystem is a link
	case sshFxpSymlink:
		return s.errStatus(id, syscall.EPERM)
	case sshFxpExtended:
		return s.extended(id, d)
	}
	return s.status(id, sshFxOpUnsupported)
}

func (s *sftpServer) newHandle(id uint32, h *sftpHandle) error {
	if len(s.handles) >= sftpMaxHandles {
		if h.tmp != nil {
			h.tmp.Close()
			os.Remove(h.tmp.Name())
		}
		return s.status(id, sshFxFailure)
	}
	hid := strconv.FormatUint(s.next, 10)
	s.next++
	s.handles[hid] = h
	s.begin(sshFxpHandle, id)
	s.str(hid)
	return s.send()
}

func (s *sftpServer) open(id uint32, p string, flags uint32, a sftpAttrs) error {
	fi, statErr := s.fs.Stat(p)
	full := s.fs.Abs(p)
	if flags&fxfWrite == 0 {
		data, err := s.fs.ReadFile(p)
		if err != nil {
			return s.errStatus(id, err)
		}
		return s.newHandle(id, &sftpHandle{path: full, data: data})
	}
	switch {
	case statErr == nil && flags&fxfCreat != 0 && flags&fxfExcl != 0:
		return s.errStatus(id, syscall.EEXIST)
	case statErr != nil && flags&fxfCreat == 0:
		return s.errStatus(id, statErr)
	}
	if err := s.fs.CanCreate(p); err != nil {
		return s.errStatus(id, err)
	}
	if err := os.MkdirAll(s.tmpDir, 0o750); err != nil {
		return s.status(id, sshFxFailure)
	}
	tmp, err := os.CreateTemp(s.tmpDir, ".upload-*")
	if err != nil {
		return s.status(id, sshFxFailure)
	}
	h := &sftpHandle{path: full, tmp: tmp, mode: 0o644}
	if a.flags&attrPermissions != 0 {
		h.mode = a.perm & 0o7777
	}
	if statErr == nil && flags&fxfTrunc == 0 { // an update in place starts from the old content
		if old, err := s.fs.ReadFile(p); err == nil {
			tmp.Write(old)
			h.size = int64(len(old))
			h.mode = fi.Mode
		}
	}
	return s.newHandle(id, h)
}

// closeHandle releases a handle; a file written through it is kept.
func (s *sftpServer) closeHandle(hid string) error {
	h := s.handles[hid]
	delete(s.handles, hid)
	switch {
	case h.tmp != nil:
		defer os.Remove(h.tmp.Name())
		defer h.tmp.Close()
		if _, err := h.tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		return s.upload(h.path, h.tmp, h.size, h.mode)
	case !h.dir && h.read > 0:
		s.sent(h.path, h.read)
	}
	return nil
}

// extended answers the OpenSSH extensions a client uses.
func (s *sftpServer) extended(id uint32, d *sftpReader) error {
	switch d.str() {
	case "limits@openssh.com":
		s.begin(sshFxpExtendedReply, id)
		s.u64(sftpMaxMsg)
		s.u64(sftpMaxRead)
		s.u64(sftpMaxRead)
		s.u64(sftpMaxHandles)
		return s.send()
	case "expand-path@openssh.com":
		p := d.str()
		if p == "~" || strings.HasPrefix(p, "~/") {
			p = s.fs.Home() + p[1:]
		}
		full := s.fs.Abs(p)
		if _, err := s.fs.Stat(path.Dir(full)); err != nil {
			return s.errStatus(id, err)
		}
		return s.name(id, full)
	case "home-directory":
		return s.name(id, s.fs.Home())
	case "posix-rename@openssh.com":
		return s.errStatus(id, s.fs.Rename(d.str(), d.str()))
	case "users-groups-by-id@openssh.com":
		uids, gids := &sftpReader{b: d.bytes(), ok: true}, &sftpReader{b: d.bytes(), ok: true}
		if !d.ok {
			return s.status(id, sshFxBadMessage)
		}
		names := func(r *sftpReader) string {
			var b []byte
			for n := 0; len(r.b) >= 4 && n < 1024; n++ {
				name := s.fs.UserName(int(r.u32()))
				b = binary.BigEndian.AppendUint32(b, uint32(len(name)))
				b = append(b, name...)
			}
			return string(b)
		}
		users, groups := names(uids), names(gids)
		s.begin(sshFxpExtendedReply, id)
		s.str(users)
		s.str(groups)
		return s.send()
	case "fsync@openssh.com":
		return s.status(id, sshFxOK)
	case "lsetstat@openssh.com":
		p, a := d.str(), d.attrs()
		if a.flags&attrPermissions != 0 {
			return s.errStatus(id, s.fs.Chmod(p, a.perm))
		}
		_, err := s.fs.Stat(p)
		return s.errStatus(id, err)
	case "statvfs@openssh.com", "fstatvfs@openssh.com":
		// A 30 GiB root filesystem, 4 KiB blocks, a third used.
		const blocks = 30 << 30 >> 12
		s.begin(sshFxpExtendedReply, id)
		for _, v := range []uint64{4096, 4096, blocks, blocks * 2 / 3, blocks * 5 / 8, 1966080, 1802240, 1802240, 0xfd01, 0, 255} {
			s.u64(v)
		}
		return s.send()
	}
	return s.status(id, sshFxOpUnsupported)
}
