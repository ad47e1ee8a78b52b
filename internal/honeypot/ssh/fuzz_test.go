package ssh

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"io"
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/honeypot/shell"
)

// BenchmarkHandshake measures a full SSH handshake with a successful
// password login.
func BenchmarkHandshake(b *testing.B) {
	srv := startServer(b, sharedKeys, nil)
	cfg := clientConfig("root", rootPassword(srv.persona), nil)
	for b.Loop() {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			b.Fatal(err)
		}
		sc, chans, reqs, err := ssh.NewClientConn(c, srv.addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		ssh.NewClient(sc, chans, reqs).Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

func TestParseSCPRecord(t *testing.T) {
	tests := []struct {
		name, line string
		want       scpRecord
		err        string
	}{
		{"file", "C0644 1234 bot.sh", scpRecord{kind: 'C', mode: 0o644, size: 1234, name: "bot.sh"}, ""},
		{"dir", "D0755 0 kit", scpRecord{kind: 'D', mode: 0o755, name: "kit"}, ""},
		{"name with spaces", "C0600 0 a b", scpRecord{kind: 'C', mode: 0o600, name: "a b"}, ""},
		{"end", "E", scpRecord{kind: 'E'}, ""},
		{"times", "T1700000000 0 1700000001 0", scpRecord{kind: 'T', mtime: 1700000000, atime: 1700000001}, ""},
		{"traversal", "C0644 1 ../../etc/passwd", scpRecord{}, "error: unexpected filename: ../../etc/passwd"},
		{"dotdot", "D0755 0 ..", scpRecord{}, "error: unexpected filename: .."},
		{"bad mode", "C9999 1 x", scpRecord{}, "protocol error: bad mode"},
		{"negative size", "C0644 -1 x", scpRecord{}, "protocol error: size not delimited"},
		{"huge size", "C0644 99999999999999999999 x", scpRecord{}, "protocol error: size out of range"},
		{"unknown", "X", scpRecord{}, "protocol error: expected control record"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseSCPRecord(tc.line)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Errorf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestParseSCPCommand(t *testing.T) {
	for cmd, want := range map[string]bool{
		"scp -t /tmp/x": true, "scp -r -d -t -- /tmp": true, "/usr/bin/scp -f /etc/passwd": true, "scp -p -f a b": true,
		"scp /tmp/x": false, "scp -t": false, "scpx -t /": false, "scp -t -f /x": false,
	} {
		if _, ok := parseSCPCommand(cmd); ok != want {
			t.Errorf("%q: %v, want %v", cmd, ok, want)
		}
	}
}

// scpSink runs the sink side over an in-memory exchange and returns what
// it answered and its status.
func scpSink(t testing.TB, cmd, input string) (string, int, int) {
	c, ok := parseSCPCommand(cmd)
	if !ok {
		t.Fatalf("not an scp command: %q", cmd)
	}
	l, _ := testPersona.Account("root")
	tr := shell.New(shell.Config{Persona: testPersona, Login: l, Mode: shell.Exec}).Transfer()
	var out bytes.Buffer
	stored := 0
	s := &scpSession{r: bufio.NewReader(strings.NewReader(input)), w: &out, fs: tr,
		store: func(orig string, r io.Reader, size int64, mode uint32) error {
			data, _ := io.ReadAll(r)
			stored++
			return tr.WriteFile(orig, data, size, mode)
		},
		sent: func(string, int64) {}}
	status := s.sink(c)
	return out.String(), status, stored
}

func TestSCPSink(t *testing.T) {
	tests := []struct {
		name, cmd, in, out string
		status, stored     int
	}{
		{"one file", "scp -t /tmp/x", "C0755 3 a\nabc\x00", "\x00\x00\x00", 0, 1},
		{"times first", "scp -p -t /tmp", "T1 0 1 0\nC0644 1 a\nz\x00", "\x00\x00\x00\x00", 0, 1},
		{"dir without -r", "scp -t /tmp", "D0755 0 d\n", "\x00\x01scp: protocol error: received directory without -r\n", 1, 0},
		{"dir with -r", "scp -r -t /tmp", "D0755 0 d\nC0644 1 a\nz\x00E\n", "\x00\x00\x00\x00\x00", 0, 1},
		{"traversal", "scp -t /tmp", "C0644 1 ../x\n", "\x00\x01scp: error: unexpected filename: ../x\n", 1, 0},
		{"no such dir", "scp -t /nope/x", "C0644 1 a\n", "\x00\x01scp: /nope/x: No such file or directory\n", 1, 0},
		{"read-only", "scp -t /proc/cpuinfo", "C0644 1 a\n", "\x00\x01scp: /proc/cpuinfo: Permission denied\n", 1, 0},
		{"target must be dir", "scp -d -t /etc/passwd", "", "\x00\x01scp: /etc/passwd: Not a directory\n", 1, 0},
		{"source error", "scp -t /tmp", "\x01scp: a: Permission denied\n", "\x00", 0, 0},
		{"cut short", "scp -t /tmp/x", "C0644 10 a\nabc", "\x00\x00", 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, status, stored := scpSink(t, tc.cmd, tc.in)
			if out != tc.out || status != tc.status || stored != tc.stored {
				t.Errorf("got %q status %d stored %d, want %q %d %d", out, status, stored, tc.out, tc.status, tc.stored)
			}
		})
	}
}

// FuzzSCPRecord checks the record parser never panics and never accepts
// a name that leaves the target directory.
func FuzzSCPRecord(f *testing.F) {
	for _, s := range []string{"C0644 1234 bot.sh", "D0755 0 .ssh", "E", "T1700000000 0 1700000000 0",
		"C0755 99999999999 x", "C0644 1 ../x", "C0644 1 a/b", "\x01scp: x: No such file"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseSCPRecord(line)
		if err == nil && (r.kind == 'C' || r.kind == 'D') {
			if r.name == "" || r.name == "." || r.name == ".." || strings.ContainsAny(r.name, "/\x00") || r.size < 0 || r.mode > 0o7777 {
				t.Errorf("accepted %q as %+v", line, r)
			}
		}
	})
}

// FuzzSCPSink runs the whole sink over arbitrary input.
func FuzzSCPSink(f *testing.F) {
	f.Add("C0755 3 a\nabc\x00")
	f.Add("D0755 0 d\nC0644 1 a\nz\x00E\nE\n")
	f.Add("T1 0 1 0\nC0644 5 a\nab")
	f.Fuzz(func(t *testing.T, in string) {
		scpSink(t, "scp -r -t /tmp", in)
	})
}

// sftpPacket frames an SFTP packet.
func sftpPacket(typ byte, id uint32, fields ...any) []byte {
	b := []byte{typ}
	if typ != sshFxpInit {
		b = binary.BigEndian.AppendUint32(b, id)
	}
	for _, f := range fields {
		switch v := f.(type) {
		case uint32:
			b = binary.BigEndian.AppendUint32(b, v)
		case uint64:
			b = binary.BigEndian.AppendUint64(b, v)
		case string:
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		}
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(b))), b...)
}

// FuzzSFTP feeds packet streams to the SFTP server, which must never
// panic, hang or keep files outside its spool directory.
func FuzzSFTP(f *testing.F) {
	init := sftpPacket(sshFxpInit, 0, uint32(3))
	seed := func(pkts ...[]byte) []byte { return bytes.Join(append([][]byte{init}, pkts...), nil) }
	f.Add(seed(sftpPacket(sshFxpRealpath, 1, ".")))
	f.Add(seed(sftpPacket(sshFxpOpen, 1, "/tmp/x", uint32(fxfWrite|fxfCreat|fxfTrunc), uint32(attrPermissions), uint32(0o644)),
		sftpPacket(sshFxpWrite, 2, "0", uint64(0), "hello"), sftpPacket(sshFxpClose, 3, "0")))
	f.Add(seed(sftpPacket(sshFxpOpendir, 1, "/etc"), sftpPacket(sshFxpReaddir, 2, "0"), sftpPacket(sshFxpReaddir, 3, "0")))
	f.Add(seed(sftpPacket(sshFxpOpen, 1, "/etc/passwd", uint32(fxfRead), uint32(0)), sftpPacket(sshFxpRead, 2, "0", uint64(0), uint32(32768))))
	f.Add(seed(sftpPacket(sshFxpExtended, 1, "limits@openssh.com"), sftpPacket(sshFxpExtended, 2, "expand-path@openssh.com", "~/x"),
		sftpPacket(sshFxpExtended, 3, "users-groups-by-id@openssh.com", "\x00\x00\x00\x00", "\x00\x00\x00\x00")))
	f.Add(seed(sftpPacket(sshFxpWrite, 2, "0", uint64(1<<62), "x"), sftpPacket(sshFxpMkdir, 3, "/tmp/d", uint32(0))))
	f.Fuzz(func(t *testing.T, in []byte) {
		l, _ := testPersona.Account("root")
		tr := shell.New(shell.Config{Persona: testPersona, Login: l, Mode: shell.Exec}).Transfer()
		dir := t.TempDir()
		s := &sftpServer{r: bytes.NewReader(in), w: io.Discard, fs: tr, tmpDir: dir, maxUpload: 1 << 20,
			upload: func(orig string, f *os.File, size int64, mode uint32) error {
				_, err := io.Copy(io.Discard, io.LimitReader(f, size))
				return err
			},
			sent: func(string, int64) {}}
		s.serve()
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Errorf("spool files left: %v", ents)
		}
	})
}
