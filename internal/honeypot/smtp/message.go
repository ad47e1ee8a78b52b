package smtp

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
)

// Bounds of the message summary: an attacker controls the nesting and the
// number of parts, so the walk stops early rather than late.
const (
	maxDepth       = 8   // multipart levels
	maxParts       = 256 // parts visited in one message
	maxAttachments = 64  // attachments listed
	maxHeaderLen   = 998 // longest header value kept (RFC 5322 line limit)
)

// attachment is what the summary says of one attached file.
type attachment struct {
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
}

// summary is the forensic digest of a message: a few headers and the
// attachments, decoded. It never holds recipient addresses.
type summary struct {
	Subject     string
	From        string // From: header, decoded
	Date        string
	MessageID   string
	ContentType string
	ReturnPath  string
	XMailer     string
	DKIMSigned  bool
	Attachments []attachment
	// Truncated is set when the walk hit a bound or a malformed part, so
	// some attachments may be missing.
	Truncated bool
}

var wordDecoder = &mime.WordDecoder{
	// Charsets beyond UTF-8, ASCII and Latin-1 are left encoded.
	CharsetReader: func(charset string, input io.Reader) (io.Reader, error) {
		return nil, fmt.Errorf("charset %q not decoded", charset)
	},
}

// decodeHeader decodes RFC 2047 words and bounds the length; undecodable
// text is kept as it came.
func decodeHeader(v string) string {
	if d, err := wordDecoder.DecodeHeader(v); err == nil {
		v = d
	}
	return clip(strings.TrimSpace(v), maxHeaderLen)
}

// summarize parses a message with net/mail and mime/multipart. It never
// fails: a malformed message gives what could be read.
func summarize(raw []byte) summary {
	var sum summary
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		sum.Truncated = true
		return sum
	}
	h := m.Header
	sum.Subject = decodeHeader(h.Get("Subject"))
	sum.From = decodeHeader(h.Get("From"))
	sum.Date = clip(h.Get("Date"), maxHeaderLen)
	sum.MessageID = clip(h.Get("Message-Id"), maxHeaderLen)
	sum.ContentType = clip(h.Get("Content-Type"), maxHeaderLen)
	sum.ReturnPath = clip(h.Get("Return-Path"), maxHeaderLen)
	sum.XMailer = decodeHeader(h.Get("X-Mailer"))
	sum.DKIMSigned = h.Get("Dkim-Signature") != ""
	w := walker{sum: &sum}
	w.part(textproto.MIMEHeader(h), m.Body, 0)
	return sum
}

// walker visits the parts of one message.
type walker struct {
	sum   *summary
	parts int
}

// part looks at one entity: it descends into a multipart, records an
// attachment, and skips a body text.
func (w *walker) part(h textproto.MIMEHeader, body io.Reader, depth int) {
	w.parts++
	if w.parts > maxParts || depth > maxDepth {
		w.sum.Truncated = true
		return
	}
	ctype, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil && ctype == "" {
		ctype = "text/plain"
	}
	if strings.HasPrefix(ctype, "multipart/") {
		if params["boundary"] == "" {
			w.sum.Truncated = true
			return
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				w.sum.Truncated = true
				return
			}
			w.part(p.Header, p, depth+1)
			if w.sum.Truncated && w.parts > maxParts {
				return
			}
		}
	}
	name := filename(h, params)
	disp, _, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	if name == "" && disp != "attachment" {
		return // a body part, not a file
	}
	if len(w.sum.Attachments) >= maxAttachments {
		w.sum.Truncated = true
		return
	}
	hash := sha256.New()
	n, err := io.Copy(hash, decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
	if err != nil {
		w.sum.Truncated = true
	}
	w.sum.Attachments = append(w.sum.Attachments, attachment{
		Filename:    name,
		ContentType: ctype,
		Size:        n,
		SHA256:      hex.EncodeToString(hash.Sum(nil)),
	})
}

// filename is the attachment's name from Content-Disposition, else the
// name parameter of Content-Type (RFC 2231 and RFC 2047 forms decoded).
func filename(h textproto.MIMEHeader, ctParams map[string]string) string {
	_, dp, _ := mime.ParseMediaType(h.Get("Content-Disposition"))
	name := dp["filename"]
	if name == "" {
		name = ctParams["name"]
	}
	return clip(decodeHeader(name), 255)
}

// decodeTransfer undoes a Content-Transfer-Encoding.
func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, &base64Cleaner{r: bufio.NewReader(r)})
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	}
	return r
}

// base64Cleaner passes only base64 alphabet bytes, as mail readers do, so
// stray blanks and a missing final padding do not lose the attachment.
type base64Cleaner struct {
	r    *bufio.Reader
	n    int // alphabet bytes passed
	done bool
}

func (c *base64Cleaner) Read(p []byte) (int, error) {
	if c.done {
		return 0, io.EOF
	}
	i := 0
	for i < len(p) {
		b, err := c.r.ReadByte()
		if err != nil {
			// Pad a short final quantum so it still decodes.
			for c.n%4 != 0 && i < len(p) {
				p[i] = '='
				i++
				c.n++
			}
			if c.n%4 == 0 {
				c.done = true
				if i == 0 {
					return 0, io.EOF
				}
			}
			return i, nil
		}
		if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '=' {
			p[i] = b
			i++
			c.n++
		}
	}
	return i, nil
}

// storeMessage keeps an accepted message as an .eml artifact and emits
// message_accepted and message_stored. Recipient addresses appear only in
// the rcpt_to events: here they are counted, and only their domains named.
func (s *session) storeMessage(id string, msg []byte) {
	domains := map[string]bool{}
	var rcptDomains []string
	for _, r := range s.rcpts {
		_, d := splitAddr(r)
		d = strings.ToLower(d)
		if d == "" {
			d = strings.ToLower(s.srv.hostname)
		}
		if !domains[d] && len(rcptDomains) < 64 {
			domains[d] = true
			rcptDomains = append(rcptDomains, clip(d, 255))
		}
	}
	_, fromDomain := splitAddr(s.from)
	s.emit("message_accepted", map[string]any{
		"msg_id": id, "mail_from": clip(s.from, 512), "rcpt_count": len(s.rcpts),
		"body_bytes": len(msg), "truncated": false,
	})
	art, err := s.srv.artifacts.Store(id+".eml", bytes.NewReader(msg))
	if err != nil {
		s.emit("message_store_failed", map[string]any{"msg_id": id, "error": clip(err.Error(), 256)})
		return
	}
	sum := summarize(msg)
	shas := make([]string, len(sum.Attachments))
	for i, a := range sum.Attachments {
		shas[i] = a.SHA256
	}
	attJSON, _ := json.Marshal(sum.Attachments)
	if sum.Attachments == nil {
		attJSON = []byte("[]")
	}
	f := art.Fields("smtp://" + id)
	for k, v := range map[string]any{
		"msg_id": id, "mail_from": clip(s.from, 512), "mail_from_domain": strings.ToLower(clip(fromDomain, 255)),
		"rcpt_count": len(s.rcpts), "rcpt_domains": strings.Join(rcptDomains, ","),
		"subject": sum.Subject, "from_hdr": sum.From, "date_hdr": sum.Date,
		"message_id_hdr": sum.MessageID, "content_type": sum.ContentType,
		"return_path": sum.ReturnPath, "x_mailer": sum.XMailer, "dkim_signed": sum.DKIMSigned,
		"attachment_count": len(sum.Attachments), "attachments_json": string(attJSON),
		"attachment_sha256s": strings.Join(shas, ","), "summary_truncated": sum.Truncated,
		"helo": clip(s.helo, 255), "tls": s.tls, "authenticated": s.authed,
	} {
		f[k] = v
	}
	s.emit("message_stored", f)
}
