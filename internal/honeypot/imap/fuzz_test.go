package imap

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// FuzzParseCommand feeds arbitrary bytes through the command reader
// (literals included) and the parser: tags, atoms, quoted strings,
// literals {n} and {n+}, lists, sections and sequence sets.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"a LOGIN root toor\r\n", `a LOGIN "ro\"ot" "p a s s"` + "\r\n", "a LOGIN {4}\r\nroot {4+}\r\ntoor\r\n",
		"a1 UID FETCH 1:*,3,5:7 (FLAGS BODY.PEEK[HEADER.FIELDS (From Subject)]<0.100>)\r\n",
		"b SEARCH CHARSET UTF-8 OR (FROM bob) NOT SEEN SINCE 1-Jan-2020\r\n", "c LIST \"\" \"*\"\r\n",
		"d STATUS INBOX (MESSAGES UNSEEN)\r\n", "e AUTHENTICATE PLAIN AHJvb3QAdG9vcg==\r\n", "\r\n", "* NOOP\r\n",
		"a LOGIN {99999999999999}\r\n", "x " + strings.Repeat("(", 40) + "\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"f STORE 1 +FLAGS.SILENT (\\Seen \\Deleted)\r\n", "g FETCH 1 BODY[\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(bytes.NewReader(data), 4096)
		bw := bufio.NewWriter(io.Discard)
		for range 8 {
			raw, err := readCommand(br, bw)
			if err != nil {
				return
			}
			if len(raw) > maxCommand+2 {
				t.Fatalf("command of %d bytes passed the %d limit", len(raw), maxCommand)
			}
			cmd, err := ParseCommand(raw)
			if err == nil && (cmd.Tag == "" || cmd.Name == "") {
				t.Fatalf("parsed %q without tag or name", raw)
			}
			if err == nil && len(cmd.Args) > 0 {
				if set, ok := ParseSeqSet(cmd.Args[0].Value); ok {
					set.Contains(1, 10)
				}
				parseFetchItems(cmd.Args[1:])
			}
		}
	})
}

// FuzzSession runs arbitrary client input through a whole session, logged
// in and with the mailbox selected.
func FuzzSession(f *testing.F) {
	p := testPersona()
	acct := p.Logins[1]
	prefix := "a LOGIN " + acct.User + " " + acct.Password + "\r\nb SELECT INBOX\r\n"
	for _, s := range []string{
		"c FETCH 1:* ALL\r\nd UID FETCH 1:* (BODY[] BODYSTRUCTURE)\r\n", "e SEARCH OR UNSEEN FROM x\r\nf STORE 1 FLAGS (\\Flagged)\r\n",
		"g IDLE\r\nDONE\r\nh LOGOUT\r\n", "i FETCH 1 (BODY[HEADER.FIELDS.NOT (Received)])\r\n",
	} {
		f.Add(s)
	}
	addr, _ := start(f, p, nil)
	f.Fuzz(func(t *testing.T, input string) {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			t.Skip(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		go func() {
			c.Write([]byte(prefix + input))
			c.(*net.TCPConn).CloseWrite()
		}()
		io.Copy(io.Discard, c)
	})
}

func TestParseCommand(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		tag, cmd string
		args     int
		err      error
	}{
		{"atoms", "a1 LOGIN root toor", "a1", "LOGIN", 2, nil},
		{"quoted", `a LOGIN "r\"t" "p w"`, "a", "LOGIN", 2, nil},
		{"literal", "a LOGIN {4}\r\nroot x", "a", "LOGIN", 2, nil},
		{"uid", "z uid fetch 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From To)])", "z", "UID FETCH", 2, nil},
		{"missing quote", `a LOGIN "x`, "a", "LOGIN", 0, ErrMissingQuote},
		{"no command", "a", "a", "", 0, ErrNoCommand},
		{"bad tag", "", "", "", 0, ErrNoTag},
		{"unbalanced", "a FETCH 1 (FLAGS", "a", "FETCH", 0, ErrBadArguments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd, err := ParseCommand([]byte(tc.in))
			if err != tc.err || cmd.Tag != tc.tag || cmd.Name != tc.cmd || (err == nil && len(cmd.Args) != tc.args) {
				t.Errorf("ParseCommand(%q) = %+v, %v", tc.in, cmd, err)
			}
		})
	}
	cmd, _ := ParseCommand([]byte(`a LOGIN "r\"t" {3}` + "\r\np w"))
	if cmd.Args[0].Value != `r"t` || cmd.Args[1].Value != "p w" {
		t.Errorf("string values %+v", cmd.Args)
	}
	for in, want := range map[string]bool{"1": true, "1:*": true, "2,4:6": true, "0": false, "": false, "1:": false, "a": false, "*:3": true} {
		if _, ok := ParseSeqSet(in); ok != want {
			t.Errorf("ParseSeqSet(%q) ok=%v", in, ok)
		}
	}
	set, _ := ParseSeqSet("2,4:*")
	for n, want := range map[uint32]bool{1: false, 2: true, 3: false, 4: true, 7: true} {
		if set.Contains(n, 7) != want {
			t.Errorf("2,4:* contains %d: %v", n, !want)
		}
	}
}
