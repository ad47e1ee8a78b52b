package smtp

import (
	"strings"
	"testing"
)

// FuzzParseCommand feeds command lines to the parser chain a MAIL, RCPT or
// VRFY command goes through. Seeds are lines seen from real clients and
// scanners, and the malformed forms Postfix's answers were recorded for.
func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{
		"EHLO client.example", "HELO [192.0.2.1]", "MAIL FROM:<a@b.com>", "MAIL FROM: <sp@a.com> SIZE=100 BODY=8BITMIME",
		"mail from:<> RET=HDRS ENVID=QQ314159", `MAIL FROM:<"a b"@c.com>`, "MAIL FROM:<a b@c.com>", "MAIL FROM:<a@b",
		"RCPT TO:<@relay1,@relay2:user@host> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;user@host", "RCPT TO:<x@[127.0.0.1]>",
		"RCPT TO:bogus", `RCPT TO:<"quoted\"esc"@x>`, "VRFY root", "AUTH PLAIN AGFkbWluAHNlY3JldA==", "BDAT 100 LAST",
		"", "\t \t", "<<<>>>", `"unterminated`, "MAIL FROM:<\x00@\xff>",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		cmd := parseCommand(line)
		if cmd.verb != strings.ToUpper(cmd.verb) {
			t.Fatalf("verb %q not upper-cased", cmd.verb)
		}
		for _, a := range cmd.args {
			if a == "" {
				t.Fatalf("empty argument in %q", line)
			}
		}
		for _, kw := range []string{"FROM:", "TO:"} {
			path, params, ok := pathArgs(cmd.args, kw)
			if !ok {
				continue
			}
			for _, p := range params {
				if key, _ := param(p); key != strings.ToUpper(key) {
					t.Fatalf("param key %q not upper-cased", key)
				}
				if validXtext(p) && strings.ContainsAny(p, " \t\r\n=") {
					t.Fatalf("xtext %q with a blank or '='", p)
				}
			}
			addr, ok := extractAddr(path)
			if !ok {
				continue
			}
			if strings.ContainsAny(addr, "\r\n") {
				t.Fatalf("address %q with a line break", addr)
			}
			local, domain := splitAddr(addr)
			if domain != "" && local+"@"+domain != addr {
				t.Fatalf("splitAddr(%q) = %q, %q", addr, local, domain)
			}
		}
	})
}

// FuzzSummarize feeds messages to the MIME summary. It must never panic,
// list more attachments than its bound, or claim a decoded size larger
// than the message.
func FuzzSummarize(f *testing.F) {
	f.Add([]byte(nestedMessage([]byte("MZ\x90\x00binary"), []byte("a=b\nc\n"))))
	f.Add([]byte("Subject: hi\r\n\r\nbody\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf; name=x.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"))
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Disposition: attachment; filename*=UTF-8''%E2%82%AC.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=E2=82=AC=\r\n--b--\r\n--a--\r\n"))
	f.Add([]byte("Content-Type: text/plain; name=\"=?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\"\r\n\r\nx"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		s := summarize(raw)
		if len(s.Attachments) > maxAttachments {
			t.Fatalf("%d attachments", len(s.Attachments))
		}
		for _, a := range s.Attachments {
			if a.Size > int64(len(raw)) {
				t.Fatalf("attachment of %d bytes from a %d-byte message", a.Size, len(raw))
			}
			if len(a.SHA256) != 64 {
				t.Fatalf("sha256 %q", a.SHA256)
			}
		}
	})
}
