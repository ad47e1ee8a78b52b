package ssh

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"github.com/decnet-go/decnet/internal/honeypot/shell"
)

// The legacy scp protocol (OpenSSH's "scp -O", and every scp before 9.0):
// the client execs "scp -t TARGET" to upload or "scp -f PATH…" to
// download, and both ends exchange records — C (file), D (directory),
// E (end of directory), T (times) — each answered by a one-byte ack: 0 for
// ok, 1 and a "scp: …" line for an error, 2 for a fatal one.

// Limits of the scp emulation.
const (
	maxSCPLine  = 2048 // OpenSSH's buffer for one record
	maxSCPDepth = 16   // nested D records
	maxSCPFiles = 1000 // files in one upload
)

// scpRecord is one parsed record line, without its newline.
type scpRecord struct {
	kind         byte // 'C', 'D', 'E' or 'T'
	mode         uint32
	size         int64
	name         string
	mtime, atime int64
}

var errSCPProtocol = errors.New("protocol error")

// parseSCPRecord parses a C, D, E or T record as OpenSSH's sink does, with
// its checks: a four-digit octal mode, a decimal size, and a plain file
// name (no "/", not "." or "..").
func parseSCPRecord(line string) (scpRecord, error) {
	if line == "" {
		return scpRecord{}, fmt.Errorf("%w: empty record", errSCPProtocol)
	}
	r := scpRecord{kind: line[0]}
	rest := line[1:]
	switch r.kind {
	case 'E':
		if rest != "" {
			return r, fmt.Errorf("%w: unexpected <newline>", errSCPProtocol)
		}
		return r, nil
	case 'T':
		f := strings.Fields(rest)
		if len(f) != 4 {
			return r, fmt.Errorf("%w: mtime.sec not delimited", errSCPProtocol)
		}
		var err error
		if r.mtime, err = strconv.ParseInt(f[0], 10, 64); err != nil || r.mtime < 0 {
			return r, fmt.Errorf("%w: mtime.sec not delimited", errSCPProtocol)
		}
		if r.atime, err = strconv.ParseInt(f[2], 10, 64); err != nil || r.atime < 0 {
			return r, fmt.Errorf("%w: atime.sec not delimited", errSCPProtocol)
		}
		for _, usec := range []string{f[1], f[3]} {
			if u, err := strconv.Atoi(usec); err != nil || u < 0 || u > 999999 {
				return r, fmt.Errorf("%w: atime.usec not delimited", errSCPProtocol)
			}
		}
		return r, nil
	case 'C', 'D':
	default:
		return r, fmt.Errorf("%w: expected control record", errSCPProtocol)
	}
	if len(rest) < 5 || rest[4] != ' ' {
		return r, fmt.Errorf("%w: bad mode", errSCPProtocol)
	}
	for _, c := range rest[:4] {
		if c < '0' || c > '7' {
			return r, fmt.Errorf("%w: bad mode", errSCPProtocol)
		}
		r.mode = r.mode<<3 | uint32(c-'0')
	}
	sizeStr, name, ok := strings.Cut(rest[5:], " ")
	if !ok || sizeStr == "" {
		return r, fmt.Errorf("%w: size not delimited", errSCPProtocol)
	}
	for _, c := range sizeStr {
		if c < '0' || c > '9' {
			return r, fmt.Errorf("%w: size not delimited", errSCPProtocol)
		}
	}
	size, err := strconv.ParseInt(sizeStr, 10, 64)
	if err != nil {
		return r, fmt.Errorf("%w: size out of range", errSCPProtocol)
	}
	r.size = size
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return r, fmt.Errorf("error: unexpected filename: %s", name)
	}
	r.name = name
	return r, nil
}

// scpCommand is a parsed "scp -t/-f …" command line.
type scpCommand struct {
	sink, source bool
	recursive    bool
	targetDir    bool // -d: the target must be a directory
	preserve     bool
	paths        []string
}

// parseSCPCommand recognises the command an scp client execs on the
// server; ok is false for anything else.
func parseSCPCommand(cmd string) (scpCommand, bool) {
	f := strings.Fields(cmd)
	if len(f) < 2 || path.Base(f[0]) != "scp" {
		return scpCommand{}, false
	}
	var c scpCommand
	i := 1
	for ; i < len(f) && strings.HasPrefix(f[i], "-") && len(f[i]) > 1; i++ {
		if f[i] == "--" {
			i++
			break
		}
		for _, o := range f[i][1:] {
			switch o {
			case 't':
				c.sink = true
			case 'f':
				c.source = true
			case 'r':
				c.recursive = true
			case 'd':
				c.targetDir = true
			case 'p':
				c.preserve = true
			}
		}
	}
	c.paths = f[i:]
	if c.sink == c.source || len(c.paths) == 0 {
		return scpCommand{}, false
	}
	return c, true
}

// scpSession runs one scp command over a channel.
type scpSession struct {
	r       *bufio.Reader
	w       io.Writer
	fs      *shell.Transfer
	store   func(orig string, r io.Reader, size int64, mode uint32) error // keeps an upload
	sent    func(orig string, size int64)                                 // reports a download
	files   int
	errored bool
}

// ack sends the one-byte "ok".
func (s *scpSession) ack() error { _, err := s.w.Write([]byte{0}); return err }

// fail sends an error record, as OpenSSH's run_err does.
func (s *scpSession) fail(format string, args ...any) error {
	s.errored = true
	_, err := fmt.Fprintf(s.w, "\x01scp: "+format+"\n", args...)
	return err
}

// readLine reads one record line; a line too long is a protocol error.
func (s *scpSession) readLine() (string, error) {
	var b []byte
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return "", err
		}
		if c == '\n' {
			return string(b), nil
		}
		if len(b) >= maxSCPLine {
			return "", fmt.Errorf("%w: unexpected <newline>", errSCPProtocol)
		}
		b = append(b, c)
	}
}

// sink receives files into target, as "scp -t target" does. It returns
// the exit status.
func (s *scpSession) sink(c scpCommand) int {
	target := c.paths[len(c.paths)-1]
	if err := s.ack(); err != nil {
		return 1
	}
	fi, err := s.fs.Stat(target)
	targIsDir := err == nil && fi.Dir
	if c.targetDir && !targIsDir {
		s.fail("%s: Not a directory", target)
		return 1
	}
	if err := s.sinkDir(target, targIsDir, c.recursive, 0); err != nil {
		var perr error
		if errors.Is(err, errSCPProtocol) || strings.HasPrefix(err.Error(), "error: ") {
			perr = s.fail("%s", err.Error())
		}
		if perr != nil || err != io.EOF {
			return 1
		}
	}
	if s.errored {
		return 1
	}
	return 0
}

// sinkDir reads records until E (or the end of input at the top level).
func (s *scpSession) sinkDir(target string, targIsDir, recursive bool, depth int) error {
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && depth == 0 { // the source is done
				return nil
			}
			return err
		}
		switch {
		case strings.HasPrefix(line, "\x01"), strings.HasPrefix(line, "\x02"):
			// The source reports its own error; a fatal one ends the transfer.
			if line[0] == 2 {
				return io.EOF
			}
			continue
		}
		rec, err := parseSCPRecord(line)
		if err != nil {
			return err
		}
		switch rec.kind {
		case 'E':
			if depth == 0 {
				return fmt.Errorf("%w: unexpected <newline>", errSCPProtocol)
			}
			return s.ack()
		case 'T':
			if err := s.ack(); err != nil {
				return err
			}
			continue
		}
		dest := target
		if targIsDir {
			dest = path.Join(target, rec.name)
		}
		if rec.kind == 'D' {
			if !recursive {
				return fmt.Errorf("%w: received directory without -r", errSCPProtocol)
			}
			if depth >= maxSCPDepth {
				return fmt.Errorf("%w: directories nested too deep", errSCPProtocol)
			}
			if fi, err := s.fs.Stat(dest); err == nil {
				if !fi.Dir {
					s.fail("%s: Not a directory", dest)
					continue
				}
			} else if err := s.fs.Mkdir(dest, rec.mode|0o700); err != nil {
				s.fail("%s: %s", dest, shell.Strerror(err))
				continue
			}
			if err := s.ack(); err != nil {
				return err
			}
			if err := s.sinkDir(dest, true, recursive, depth+1); err != nil {
				return err
			}
			continue
		}
		// A file.
		if s.files++; s.files > maxSCPFiles {
			return fmt.Errorf("%w: too many files", errSCPProtocol)
		}
		if err := s.fs.CanCreate(dest); err != nil {
			s.fail("%s: %s", dest, shell.Strerror(err))
			continue // the source sends no data after an error
		}
		if err := s.ack(); err != nil {
			return err
		}
		lr := &io.LimitedReader{R: s.r, N: rec.size}
		serr := s.store(dest, lr, rec.size, rec.mode)
		if lr.N > 0 { // the connection ended mid-file
			return io.ErrUnexpectedEOF
		}
		// The source ends the data with its own status byte.
		st, err := s.r.ReadByte()
		if err != nil {
			return err
		}
		if st != 0 {
			if _, err := s.readLine(); err != nil {
				return err
			}
			continue
		}
		if serr != nil {
			s.fail("%s: %s", dest, shell.Strerror(serr))
			continue
		}
		if err := s.ack(); err != nil {
			return err
		}
	}
}

// response reads the sink's ack; false for an error or a closed channel.
func (s *scpSession) response() bool {
	c, err := s.r.ReadByte()
	if err != nil {
		return false
	}
	if c == 0 {
		return true
	}
	s.readLine()  // the sink's error text
	return c == 1 // a warning lets the transfer go on
}

// source sends files, as "scp -f path…" does. It returns the exit status.
func (s *scpSession) source(c scpCommand) int {
	if !s.response() {
		return 1
	}
	for _, p := range c.paths {
		if !s.sendPath(p, c, 0) {
			return 1
		}
	}
	if s.errored {
		return 1
	}
	return 0
}

func (s *scpSession) sendPath(p string, c scpCommand, depth int) bool {
	fi, err := s.fs.Stat(p)
	if err != nil {
		s.fail("%s: %s", p, shell.Strerror(err))
		return true
	}
	if c.preserve {
		t := fi.ModTime.Unix()
		fmt.Fprintf(s.w, "T%d 0 %d 0\n", t, t)
		if !s.response() {
			return false
		}
	}
	if fi.Dir {
		if !c.recursive || depth >= maxSCPDepth {
			s.fail("%s: not a regular file", p)
			return true
		}
		ents, err := s.fs.ReadDir(p)
		if err != nil {
			s.fail("%s: %s", p, shell.Strerror(err))
			return true
		}
		fmt.Fprintf(s.w, "D%04o 0 %s\n", fi.Mode&0o7777, fi.Name)
		if !s.response() {
			return false
		}
		for _, e := range ents {
			if !s.sendPath(path.Join(s.fs.Abs(p), e.Name), c, depth+1) {
				return false
			}
		}
		io.WriteString(s.w, "E\n")
		return s.response()
	}
	data, err := s.fs.ReadFile(p)
	if err != nil {
		s.fail("%s: %s", p, shell.Strerror(err))
		return true
	}
	fmt.Fprintf(s.w, "C%04o %d %s\n", fi.Mode&0o7777, len(data), fi.Name)
	if !s.response() {
		return false
	}
	if _, err := s.w.Write(data); err != nil {
		return false
	}
	if s.ack() != nil {
		return false
	}
	s.sent(s.fs.Abs(p), int64(len(data)))
	return s.response()
}
