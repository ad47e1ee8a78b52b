package pop3

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
)

// FuzzParseCommand feeds arbitrary input through the line reader, the
// command splitter and the message-number parser.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"USER root\r\n", "PASS hunter2 with spaces\r\n", "AUTH PLAIN AHJvb3QAdG9vcg==\r\n", "CAPA\n",
		"LIST 1\r\n", "TOP 1 10\r\n", "RETR 99999999999999999999\r\n", "DELE x\r\n", "\r\n", "\x16\x03\x01\x02\x00",
		"GET / HTTP/1.0\r\n\r\n", strings.Repeat("A", 5000) + "\r\n", "uidl 1 2 3\rfoo\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(data)), 1024)
		for range 16 {
			line, err := readLine(br)
			if err != nil {
				return
			}
			if len(line) > maxLine+1 {
				t.Fatalf("line of %d bytes passed the %d limit", len(line), maxLine)
			}
			cmd := ParseCommand(line)
			if strings.ContainsRune(cmd.Name, ' ') {
				t.Fatalf("command word %q holds a space", cmd.Name)
			}
			n, rest, errText := msgNum(cmd.Args)
			if errText == "" && (n < 0 || len(rest) >= len(cmd.Args)) {
				t.Fatalf("msgNum(%q) = %d, %q", cmd.Args, n, rest)
			}
		}
	})
}

// FuzzSession runs arbitrary client input through a whole session.
func FuzzSession(f *testing.F) {
	for _, s := range []string{
		"CAPA\r\nUSER root\r\nPASS root\r\nSTAT\r\nLIST\r\nRETR 1\r\nTOP 1 2\r\nQUIT\r\n",
		"AUTH PLAIN\r\nAHJvb3QAcm9vdA==\r\nUIDL\r\nDELE 1\r\nRSET\r\n",
		"A\r\nB\r\nC\r\nD\r\n",
	} {
		f.Add(s)
	}
	p := testPersona()
	addr, _ := start(f, p, nil)
	f.Fuzz(func(t *testing.T, input string) {
		c, err := dialRaw(addr)
		if err != nil {
			t.Skip(err)
		}
		defer c.Close()
		go func() {
			c.Write([]byte(input))
			c.(*net.TCPConn).CloseWrite()
		}()
		io.Copy(io.Discard, c)
	})
}
