package smtp

import (
	"bytes"
	"encoding/base64"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// nestedMessage is a message with a multipart/alternative body inside a
// multipart/mixed, a base64 attachment with an RFC 2231 file name, a
// quoted-printable attachment with an RFC 2047 name, and a nested
// multipart/related holding an inline image.
func nestedMessage(bin, qp []byte) string {
	b64 := base64.StdEncoding.EncodeToString(bin)
	var wrapped strings.Builder
	for len(b64) > 76 {
		wrapped.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	wrapped.WriteString(b64 + "\r\n")
	var q bytes.Buffer
	w := quotedprintable.NewWriter(&q)
	w.Write(qp)
	w.Close()
	return "From: =?UTF-8?B?UGF5cm9sbCDinJM=?= <pay@evil.example>\r\n" +
		"To: someone@victim.example\r\n" +
		"Subject: =?UTF-8?Q?Facture_n=C2=B042?=\r\n" +
		"X-Mailer: PHPMailer 6.8.0\r\n" +
		"DKIM-Signature: v=1; a=rsa-sha256; d=evil.example\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n" +
		"preamble\r\n--outer\r\n" +
		"Content-Type: multipart/alternative; boundary=alt\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain\r\n\r\nhello\r\n" +
		"--alt\r\nContent-Type: text/html\r\n\r\n<p>hello</p>\r\n--alt--\r\n" +
		"--outer\r\n" +
		"Content-Type: application/x-msdownload\r\n" +
		"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.exe\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + wrapped.String() +
		"--outer\r\n" +
		"Content-Type: text/csv; name=\"=?UTF-8?Q?salaires_2024.csv?=\"\r\n" +
		"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + q.String() + "\r\n" +
		"--outer\r\n" +
		"Content-Type: multipart/related; boundary=rel\r\n\r\n" +
		"--rel\r\nContent-Type: image/gif\r\nContent-Disposition: inline; filename=dot.gif\r\n\r\nGIF89a\r\n--rel--\r\n" +
		"--outer--\r\n"
}

func TestSummarize(t *testing.T) {
	bin := bytes.Repeat([]byte{0x4d, 0x5a, 0x90, 0x00, 0xff}, 301)
	qp := []byte("nom;salaire\nRené;4200€\n" + strings.Repeat("a very long line without break ", 10) + "\n")
	qpCRLF := bytes.ReplaceAll(qp, []byte("\n"), []byte("\r\n"))
	tests := []struct {
		name      string
		msg       string
		subject   string
		from      string
		dkim      bool
		atts      []attachment
		truncated bool
	}{
		{
			name: "nested multiparts", msg: nestedMessage(bin, qp),
			subject: "Facture n°42", from: "Payroll ✓ <pay@evil.example>", dkim: true,
			atts: []attachment{
				{"résumé.exe", "application/x-msdownload", int64(len(bin)), sha(bin)},
				// Quoted-printable text travels with CRLF line breaks, and
				// decodes to them.
				{"salaires 2024.csv", "text/csv", int64(len(qpCRLF)), sha(qpCRLF)},
				{"dot.gif", "image/gif", 6, sha([]byte("GIF89a"))},
			},
		},
		{
			name: "plain text", msg: "Subject: hi\r\n\r\nbody\r\n", subject: "hi",
		},
		{
			name: "single-part attachment", msg: "Subject: x\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"a.zip\"\r\nContent-Transfer-Encoding: base64\r\n\r\nUEsDBA\r\n",
			subject: "x", atts: []attachment{{"a.zip", "application/zip", 4, sha([]byte("PK\x03\x04"))}},
		},
		{
			name: "multipart without boundary", msg: "Content-Type: multipart/mixed\r\n\r\nx\r\n", truncated: true,
		},
		{
			name: "unterminated multipart", msg: "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/pdf; name=x.pdf\r\n\r\n%PDF",
			atts: []attachment{{"x.pdf", "application/pdf", 4, sha([]byte("%PDF"))}}, truncated: true,
		},
		{
			name: "no header end", msg: "garbage without headers", truncated: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := summarize([]byte(tc.msg))
			if s.Subject != tc.subject || s.From != tc.from || s.DKIMSigned != tc.dkim || s.Truncated != tc.truncated {
				t.Errorf("subject %q from %q dkim %v truncated %v; want %q %q %v %v", s.Subject, s.From, s.DKIMSigned, s.Truncated, tc.subject, tc.from, tc.dkim, tc.truncated)
			}
			if len(s.Attachments) != len(tc.atts) {
				t.Fatalf("attachments %+v, want %+v", s.Attachments, tc.atts)
			}
			for i := range tc.atts {
				if s.Attachments[i] != tc.atts[i] {
					t.Errorf("attachment %d: %+v, want %+v", i, s.Attachments[i], tc.atts[i])
				}
			}
		})
	}
}

// TestSummarizeBounds feeds a deeply nested and a very wide message: the
// walk stops at its bounds instead of following the attacker.
func TestSummarizeBounds(t *testing.T) {
	var deep strings.Builder
	for i := range 50 {
		deep.WriteString("Content-Type: multipart/mixed; boundary=b" + string(rune('a'+i%26)) + strings.Repeat("x", i) + "\r\n\r\n--b" + string(rune('a'+i%26)) + strings.Repeat("x", i) + "\r\n")
	}
	if s := summarize([]byte("Subject: deep\r\n" + deep.String())); !s.Truncated {
		t.Error("deep nesting not flagged")
	}
	var wide strings.Builder
	wide.WriteString("Content-Type: multipart/mixed; boundary=w\r\n\r\n")
	for range 500 {
		wide.WriteString("--w\r\nContent-Type: application/octet-stream; name=f.bin\r\n\r\nx\r\n")
	}
	wide.WriteString("--w--\r\n")
	s := summarize([]byte(wide.String()))
	if !s.Truncated || len(s.Attachments) != maxAttachments {
		t.Errorf("wide message: truncated %v, %d attachments (want %d)", s.Truncated, len(s.Attachments), maxAttachments)
	}
}
