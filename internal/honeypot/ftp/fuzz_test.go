package ftp

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"USER root\r\n", "PASS  spaces \r\n", "retr /etc/passwd", "TYPE L 8", "", " ", "\x00\xff", "SITE CHMOD 777 x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		verb, arg := parseCommand(line)
		if asciiUpper(verb) != verb || strings.Contains(verb, " ") {
			t.Errorf("verb %q of %q", verb, line)
		}
		if len(verb)+len(arg) > len(line) {
			t.Errorf("parse of %q grew: %q %q", line, verb, arg)
		}
	})
}

func FuzzParsePORT(f *testing.F) {
	for _, s := range []string{"127,0,0,1,200,10", "1,2,3", "256,0,0,1,0,1", "10,0,0,1,0,0", " 1,2,3,4,5,6", "-1,2,3,4,5,6", "1,2,3,4,5,6,7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, arg string) {
		ap, ok := parsePORT(arg)
		if !ok {
			return
		}
		if !ap.Addr().Is4() || ap.Port() == 0 {
			t.Errorf("PORT %q gave %v", arg, ap)
		}
		if back, ok := parsePORT(pasvReply(ap)); !ok || back != ap {
			t.Errorf("round trip of %v: %v", ap, back)
		}
	})
}

func FuzzParseEPRT(f *testing.F) {
	for _, s := range []string{"|1|127.0.0.1|5555|", "|2|::1|5555|", "!1!10.0.0.1!21!", "|1|x|", "junk", "||||", "|2|fe80::1%eth0|80|"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, arg string, v6 bool) {
		ap, perr := parseEPRT(arg, v6)
		if perr != eprtOK {
			return
		}
		if !ap.IsValid() || ap.Port() == 0 || ap.Addr().Zone() != "" || (!v6 && !ap.Addr().Is4()) {
			t.Errorf("EPRT %q (v6 %v) gave %v", arg, v6, ap)
		}
	})
}

// FuzzSession feeds arbitrary control lines to a logged-in session: no
// input may panic or hang it.
func FuzzSession(f *testing.F) {
	for _, s := range []string{"PWD\nCWD ..\nLIST\n", "MKD a\nRNFR a\nRNTO b\nRMD b\n", "STOR x\nRETR /etc/passwd\n",
		"REST 99999999999999999999\nSIZE /etc/passwd\nMDTM /\n", "PORT 127,0,0,1,4,1\nEPRT |1|127.0.0.1|1025|\nSTAT /etc\n",
		"SITE UMASK\nSITE CHMOD 1\nHELP\nFEAT\n" + strings.Repeat("A", 5000) + "\nNOOP\n"} {
		f.Add(s)
	}
	srv := startServer(f, nil)
	u := testPersona.Logins[0]
	f.Fuzz(func(t *testing.T, script string) {
		c, err := net.Dial("tcp", srv.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		r := bufio.NewReader(c)
		go func() {
			io.WriteString(c, "USER "+u.User+"\r\nPASS "+u.Password+"\r\n"+script+"\r\nQUIT\r\n")
		}()
		if _, err := io.Copy(io.Discard, r); err != nil {
			t.Fatalf("session did not end: %v", err)
		}
	})
}
