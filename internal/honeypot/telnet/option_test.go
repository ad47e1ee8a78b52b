package telnet

import (
	"bytes"
	"maps"
	"slices"
	"testing"
)

func TestParser(t *testing.T) {
	tests := []struct {
		name     string
		in       []string // fed in this many pieces
		wantData string
		wantCmds []string
	}{
		{"plain", []string{"root\r\n"}, "root\r\n", nil},
		{"CR NUL is CR", []string{"ls\r\x00pwd\r\x00"}, "ls\rpwd\r", nil},
		{"CR NUL split", []string{"ls\r", "\x00x"}, "ls\rx", nil},
		{"NUL alone kept", []string{"a\x00b"}, "a\x00b", nil},
		{"IAC IAC is 0xff", []string{"p\xff\xffw"}, "p\xffw", nil},
		{"verbs", []string{"\xff\xfb\x18\xff\xfc\x20\xff\xfd\x01\xff\xfe\x22"}, "", []string{"WILL TTYPE", "WONT TSPEED", "DO ECHO", "DONT LINEMODE"}},
		{"verb split everywhere", []string{"\xff", "\xfb", "\x1f", "x"}, "x", []string{"WILL NAWS"}},
		{"NAWS", []string{"\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0"}, "", []string{"SB NAWS 00 50 00 18"}},
		{"SB with IAC IAC", []string{"\xff\xfa\x1f\x00\xff\xff\x00\x18\xff\xf0"}, "", []string{"SB NAWS 00 FF 00 18"}},
		{"TTYPE split", []string{"\xff\xfa\x18\x00XT", "ERM\xff", "\xf0ok"}, "ok", []string{"SB TTYPE 00 58 54 45 52 4D"}},
		{"bare commands", []string{"\xff\xf4\xff\xf6\xff\xf1a"}, "a", []string{"CMD 244", "CMD 246", "CMD 241"}},
		{"SB cut by a command", []string{"\xff\xfa\x18\x00x\xff\xfd\x01y"}, "y", []string{"SB TTYPE 00 78", "DO ECHO"}},
		{"stray SE", []string{"\xff\xf0z"}, "z", []string{"CMD 240"}},
		{"unknown option", []string{"\xff\xfd\xc8"}, "", []string{"DO 200"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var ps parser
			var data []byte
			var cmds []command
			for _, piece := range tc.in {
				data, cmds = ps.feed([]byte(piece), data, cmds)
			}
			if string(data) != tc.wantData {
				t.Errorf("data %q, want %q", data, tc.wantData)
			}
			if got := commandList(cmds); !slices.Equal(got, tc.wantCmds) && (len(got) != 0 || len(tc.wantCmds) != 0) {
				t.Errorf("commands %q, want %q", got, tc.wantCmds)
			}
		})
	}
}

func TestParserSubnegotiationCap(t *testing.T) {
	var ps parser
	in := append([]byte{cmdIAC, cmdSB, optTType}, bytes.Repeat([]byte("A"), 10*maxSubneg)...)
	in = append(in, cmdIAC, cmdSE, 'k')
	data, cmds := ps.feed(in, nil, nil)
	if len(cmds) != 1 || len(cmds[0].data) != maxSubneg || !cmds[0].truncated || string(data) != "k" {
		t.Fatalf("got %d commands (first %d bytes, truncated %v), data %q", len(cmds), len(cmds[0].data), cmds[0].truncated, data)
	}
}

func TestParseEnviron(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		old  bool
		want map[string]string
	}{
		{"USER", []byte("\x00USER\x01root"), false, map[string]string{"USER": "root"}},
		{"two and uservar", []byte("\x00USER\x01bob\x03DISPLAY\x01:0"), false, map[string]string{"USER": "bob", "DISPLAY": ":0"}},
		{"escaped", []byte("\x00A\x02\x01B\x01v"), false, map[string]string{"A?B": "v"}},
		{"no value", []byte("\x00TERM"), false, map[string]string{"TERM": ""}},
		{"old BSD codes swapped", []byte("\x01USER\x00root"), true, map[string]string{"USER": "root"}},
		{"junk before", []byte("xx\x00K\x01V"), false, map[string]string{"K": "V"}},
		{"empty", nil, false, map[string]string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			parseEnviron(tc.in, tc.old, got)
			if !maps.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestEscape(t *testing.T) {
	if got := escape(nil, []byte("a\xffb\xff")); string(got) != "a\xff\xffb\xff\xff" {
		t.Errorf("escape = %q", got)
	}
	if got := subneg(optNAWS, 0, 0xff, 0, 24); string(got) != "\xff\xfa\x1f\x00\xff\xff\x00\x18\xff\xf0" {
		t.Errorf("subneg = %q", got)
	}
}

// FuzzParser feeds arbitrary bytes, split at an arbitrary point, to the
// option parser and checks what must hold whatever a client sends: no
// panic, a bounded subnegotiation, the same result however the input is
// split, and that escaping data then parsing it gives the data back.
func FuzzParser(f *testing.F) {
	seeds := []string{
		// The Linux telnet client's answers to inetutils-telnetd (captured).
		"\xff\xfd%\xff\xfd&\xff\xfa&\x01\xff\xf0\xff\xfb\x18\xff\xfb \xff\xfc#\xff\xfb'\xff\xfc$",
		"\xff\xfa \x0038400,38400\xff\xf0\xff\xfa'\x00\xff\xf0\xff\xfa\x18\x00XTERM\xff\xf0",
		"\xff\xfd\x03\xff\xfc\x01\xff\xfb\"\xff\xfa\"\x03\x01\x00\x00\x03b\x03\x04\x02\x0f\x05\x00\x00\ab\x1c\b\x02\x04\tB\x1a\n\x02\x7f\v\x02\x15\f\x02\x17\r\x02\x12\x0e\x02\x16\x0f\x02\x11\x10\x02\x13\x11\x00\x00\x12\x00\x00\xff\xf0\xff\xfb\x1f\xff\xfa\x1f\x00\x00\x00\x00\xff\xf0\xff\xfd\x05\xff\xfb!",
		// Its answer to BusyBox telnetd, and a password typed with CR NUL.
		"\xff\xfc\x01\xff\xfb\x1f\xff\xfa\x1f\x00\x00\x00\x00\xff\xf0\xff\xfd\x01\xff\xfd\x03",
		"root\r\x00",
		// Mirai's NAWS answer.
		"\xff\xfb\x1f\xff\xfa\x1f\x00P\x00\x18\xff\xf0",
		"\xff\xfa\x18\x00x\xff\xfd\x01y",
		"\xff\xff\xff",
		"\xff\xfa\xff\xff\xff\xf0",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint(i))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint) {
		var whole parser
		d1, c1 := whole.feed(in, nil, nil)
		var parts parser
		at := int(split % uint(len(in)+1))
		d2, c2 := parts.feed(in[:at], nil, nil)
		d2, c2 = parts.feed(in[at:], d2, c2)
		if !bytes.Equal(d1, d2) || !slices.Equal(commandList(c1), commandList(c2)) {
			t.Fatalf("split at %d changes the result: %q %q vs %q %q", at, d1, commandList(c1), d2, commandList(c2))
		}
		for _, c := range c1 {
			if len(c.data) > maxSubneg {
				t.Fatalf("subnegotiation of %d bytes kept", len(c.data))
			}
		}
		if len(d1) > len(in) {
			t.Fatalf("more data (%d) than input (%d)", len(d1), len(in))
		}
		// Data the server sends escaped reads back unchanged (CR NUL aside).
		if !bytes.Contains(in, []byte("\r\x00")) {
			var ps parser
			back, cmds := ps.feed(escape(nil, in), nil, nil)
			if !bytes.Equal(back, in) || len(cmds) != 0 {
				t.Fatalf("escape/parse round trip: %q -> %q (%d commands)", in, back, len(cmds))
			}
		}
		// A connection's handling of the commands must not panic either.
		tc := &tconn{fl: flavorDebian, changed: make(chan struct{}, 1)}
		tc.info.got = map[byte]bool{}
		for _, c := range c1 {
			if c.verb == cmdSB {
				tc.subnegotiation(c)
			}
		}
	})
}
