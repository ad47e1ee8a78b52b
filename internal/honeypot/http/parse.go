package http

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/decnet-go/decnet/internal/event"
)

// Bounds on what one request may make the parser hold.
const (
	maxRequestLine = 8 << 10  // request line, like Apache's LimitRequestLine
	maxFieldLine   = 8 << 10  // one header line
	maxHeaderBytes = 64 << 10 // all header lines together
	maxHeaders     = 100      // like Apache's LimitRequestFields
	maxBlankLines  = 10       // empty lines tolerated before the request line
	maxChunkLine   = 4 << 10  // chunk-size line
	maxBodyKept    = 1 << 20  // body bytes kept for the event and credentials
	maxBodyRead    = 8 << 20  // bytes of body read (and discarded past maxBodyKept) before refusing
)

// header is one request header field as it came on the wire.
type header struct{ Name, Value string }

// request is one parsed HTTP/1.x request.
type request struct {
	Method string
	Target string // request-target as sent (path and query)
	Proto  string // "HTTP/1.1"; "HTTP/0.9" for a simple request
	Major  int
	Minor  int
	// Simple marks an HTTP/0.9 request line ("GET /"): no headers, and the
	// answer is the bare body.
	Simple  bool
	Headers []header // wire order, names as sent
	// BareLF is set when a line ended in LF alone rather than CRLF.
	BareLF bool
	// NoColon is set when a header line had no ':'; it was kept as a field
	// with an empty value (nginx's reading), for the flavor to refuse.
	NoColon bool
	// Body holds up to maxBodyKept bytes; BodySize counts every byte read.
	Body     []byte
	BodySize int64
}

// requestError is a request the imitated server refuses: Status is the code
// it answers with, Reason what the event records.
type requestError struct {
	Status int
	Reason string
	// FieldTooLarge marks a header that exceeds the server's limit; nginx and
	// Apache word that error page differently from a plain 400.
	FieldTooLarge bool
	// InHeaders marks an error found while reading the header section,
	// before the server took the host name from Host.
	InHeaders bool
	// MajorAbove1 marks a malformed protocol whose major version digits
	// already exceed 1 ("HTTP/1337"): nginx stops there with 505.
	MajorAbove1 bool
	// PlainHTTP marks plain HTTP on the https port (nginx's 497).
	PlainHTTP bool
}

// majorAbove1 reports whether the digits after "HTTP/" make a major
// version above 1 before anything else is read, as nginx's parser sees it.
func majorAbove1(proto string) bool {
	rest, ok := strings.CutPrefix(proto, "HTTP/")
	if !ok || rest == "" || rest[0] < '1' || rest[0] > '9' {
		return false
	}
	major := 0
	for i := 0; i < len(rest) && isDigit(rest[i]); i++ {
		if major = major*10 + int(rest[i]-'0'); major > 1 {
			return true
		}
	}
	return false
}

func (e *requestError) Error() string { return strconv.Itoa(e.Status) + " " + e.Reason }

func badRequest(reason string) *requestError { return &requestError{Status: 400, Reason: reason} }

// headerError is a 400 for a fault the server finds while it reads the
// header section.
func headerError(reason string) *requestError {
	return &requestError{Status: 400, Reason: reason, InHeaders: true}
}

// errLineTooLong is returned by readLine when a line exceeds its bound.
var errLineTooLong = errors.New("line too long")

// Get returns the first value of the named header (case-insensitive).
func (r *request) Get(name string) string {
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			return h.Value
		}
	}
	return ""
}

// values returns every value of the named header, in order.
func (r *request) values(name string) []string {
	var out []string
	for _, h := range r.Headers {
		if strings.EqualFold(h.Name, name) {
			out = append(out, h.Value)
		}
	}
	return out
}

// hasToken reports whether a comma-separated header carries token.
func (r *request) hasToken(name, token string) bool {
	for _, v := range r.values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Path is the target without its query string.
func (r *request) Path() string {
	p, _, _ := strings.Cut(r.Target, "?")
	if i := strings.Index(p, "://"); i > 0 { // absolute-form: keep the path
		rest := p[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			return rest[j:]
		}
		return "/"
	}
	return p
}

// readLine reads one line of at most limit bytes without its line ending.
// It returns io.EOF when nothing was read and io.ErrUnexpectedEOF when the
// stream ended inside a line.
func readLine(br *bufio.Reader, limit int) (line []byte, bareLF bool, err error) {
	var buf []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(buf)+len(frag) > limit+2 { // +2 for CRLF
			return nil, false, errLineTooLong
		}
		switch {
		case err == nil:
			if buf == nil {
				line = frag
			} else {
				line = append(buf, frag...)
			}
			line = line[:len(line)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				return line[:n-1], false, nil
			}
			return line, true, nil
		case errors.Is(err, bufio.ErrBufferFull):
			buf = append(buf, frag...)
		default:
			if len(buf)+len(frag) > 0 && errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, false, err
		}
	}
}

// readHead reads a request line and its header fields. A malformed request
// gives a *requestError; the request parsed so far is returned with any
// error, nil only when the stream ended before a request began.
func readHead(br *bufio.Reader) (*request, error) {
	var line []byte
	var bare bool
	var err error
	for blanks := 0; ; blanks++ {
		line, bare, err = readLine(br, maxRequestLine)
		if errors.Is(err, errLineTooLong) {
			return &request{}, &requestError{Status: 414, Reason: "request line too long"}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && blanks == 0 {
				return nil, err
			}
			return &request{}, err
		}
		if len(line) > 0 {
			break
		}
		if blanks >= maxBlankLines {
			return &request{}, badRequest("too many blank lines before the request")
		}
	}
	req := &request{BareLF: bare}
	if err := req.parseRequestLine(line); err != nil {
		return req, err
	}
	if req.Simple {
		return req, nil
	}
	err = req.readFields(br)
	var rerr *requestError
	if errors.As(err, &rerr) {
		rerr.InHeaders = true
	}
	return req, err
}

// parseRequestLine splits "METHOD target HTTP/x.y" the strict way both
// Apache (HttpProtocolOptions Strict) and nginx read it: single spaces, no
// control characters, a token method and an HTTP/d.d version.
func (r *request) parseRequestLine(line []byte) error {
	for _, c := range line {
		if c < 0x20 || c == 0x7f {
			r.Method, _, _ = strings.Cut(event.Printable(line), " ")
			return badRequest("control character in request line")
		}
	}
	parts := strings.Split(string(line), " ")
	r.Method = parts[0]
	if len(parts) > 1 {
		r.Target = parts[1]
	}
	if len(parts) > 2 {
		r.Proto = parts[2]
	}
	switch {
	case !isToken(r.Method):
		return badRequest("invalid method token")
	case len(parts) < 2 || r.Target == "":
		return badRequest("missing request target")
	case len(parts) == 2:
		r.Proto, r.Major, r.Minor, r.Simple = "HTTP/0.9", 0, 9, true
		if r.Method != "GET" {
			return badRequest("HTTP/0.9 request with method " + r.Method)
		}
	case len(parts) > 3:
		return badRequest("extra text after the protocol")
	default:
		p := r.Proto
		if len(p) != 8 || !strings.HasPrefix(p, "HTTP/") || !isDigit(p[5]) || p[6] != '.' || !isDigit(p[7]) || p[5] == '0' {
			return &requestError{Status: 400, Reason: "unrecognized protocol", MajorAbove1: majorAbove1(p)}
		}
		r.Major, r.Minor = int(p[5]-'0'), int(p[7]-'0')
	}
	switch t := r.Target; {
	case strings.HasPrefix(t, "/"):
	case t == "*" && r.Method == "OPTIONS":
	case hasPrefixFold(t, "http://") || hasPrefixFold(t, "https://"):
	default:
		return badRequest("invalid request target")
	}
	return nil
}

// readFields reads header lines up to the blank line that ends them.
func (r *request) readFields(br *bufio.Reader) error {
	total := 0
	for {
		line, bare, err := readLine(br, maxFieldLine)
		if errors.Is(err, errLineTooLong) {
			return &requestError{Status: 400, Reason: "header field too large", FieldTooLarge: true}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		r.BareLF = r.BareLF || bare
		if len(line) == 0 {
			return nil
		}
		if total += len(line); total > maxHeaderBytes {
			return &requestError{Status: 400, Reason: "header section too large", FieldTooLarge: true}
		}
		if line[0] == ' ' || line[0] == '\t' { // obs-fold continues the previous field
			if len(r.Headers) == 0 {
				return badRequest("continuation line before the first header")
			}
			last := &r.Headers[len(r.Headers)-1]
			last.Value = strings.TrimRight(last.Value+" "+strings.Trim(string(line), " \t"), " \t")
			continue
		}
		if len(r.Headers) >= maxHeaders {
			return badRequest("too many header fields")
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		r.NoColon = r.NoColon || !ok
		if !isToken(string(name)) {
			return badRequest("invalid header name")
		}
		for _, c := range value {
			if (c < 0x20 && c != '\t') || c == 0x7f {
				return badRequest("control character in header value")
			}
		}
		r.Headers = append(r.Headers, header{Name: string(name), Value: string(bytes.Trim(value, " \t"))})
	}
}

// bodyLength returns how the body is framed: chunked, or a Content-Length
// (-1 when there is no body). Transfer codings other than chunked get the
// 501 both servers send.
func (r *request) bodyLength() (chunked bool, length int64, err error) {
	if te := r.values("Transfer-Encoding"); len(te) > 0 {
		codings := strings.Split(strings.Join(te, ","), ",")
		for _, c := range codings {
			if !strings.EqualFold(strings.TrimSpace(c), "chunked") {
				return false, 0, &requestError{Status: 501, Reason: "unsupported transfer-coding " + strconv.Quote(strings.TrimSpace(c)), InHeaders: true}
			}
		}
		if len(codings) != 1 {
			return false, 0, headerError("chunked applied more than once")
		}
		return true, -1, nil
	}
	cls := r.values("Content-Length")
	if len(cls) == 0 {
		return false, -1, nil
	}
	for _, v := range cls {
		if v != cls[0] {
			return false, 0, headerError("conflicting Content-Length")
		}
	}
	n, err := strconv.ParseInt(cls[0], 10, 64)
	if err != nil || n < 0 || !allDigits(cls[0]) {
		return false, 0, headerError("invalid Content-Length")
	}
	return false, n, nil
}

// readBody reads the request body as framed by its headers, keeping the
// first maxBodyKept bytes.
func (r *request) readBody(br *bufio.Reader) error {
	chunked, n, err := r.bodyLength()
	if err != nil {
		return err
	}
	if chunked {
		return r.readChunked(br)
	}
	if n < 0 {
		return nil
	}
	if n > maxBodyRead {
		return &requestError{Status: 413, Reason: "body too large"}
	}
	return r.readBodyBytes(br, n)
}

// readBodyBytes reads exactly n bytes of body.
func (r *request) readBodyBytes(br *bufio.Reader, n int64) error {
	if r.BodySize+n > maxBodyRead {
		return &requestError{Status: 413, Reason: "body too large"}
	}
	if keep := min(n, maxBodyKept-int64(len(r.Body))); keep > 0 {
		start := len(r.Body)
		r.Body = append(r.Body, make([]byte, keep)...)
		got, err := io.ReadFull(br, r.Body[start:])
		r.BodySize += int64(got)
		if err != nil {
			r.Body = r.Body[:start+got]
			return io.ErrUnexpectedEOF
		}
		n -= keep
	}
	got, err := io.CopyN(io.Discard, br, n)
	r.BodySize += got
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// readChunked reads a chunked body and its trailer section.
func (r *request) readChunked(br *bufio.Reader) error {
	for {
		line, _, err := readLine(br, maxChunkLine)
		if errors.Is(err, errLineTooLong) {
			return badRequest("chunk-size line too long")
		}
		if err != nil {
			return io.ErrUnexpectedEOF
		}
		sizeText, _, _ := bytes.Cut(line, []byte(";"))
		sizeText = bytes.TrimRight(sizeText, " \t")
		if len(sizeText) == 0 || len(sizeText) > 15 {
			return badRequest("invalid chunk size")
		}
		size, err := strconv.ParseInt(string(sizeText), 16, 64)
		if err != nil || size < 0 {
			return badRequest("invalid chunk size")
		}
		if size == 0 {
			trailer := request{}
			if err := trailer.readFields(br); err != nil {
				return err
			}
			return nil
		}
		if err := r.readBodyBytes(br, size); err != nil {
			return err
		}
		end, _, err := readLine(br, 0)
		if errors.Is(err, errLineTooLong) || (err == nil && len(end) != 0) {
			return badRequest("chunk data not followed by CRLF")
		}
		if err != nil {
			return io.ErrUnexpectedEOF
		}
	}
}

// wantsClose reports whether the client asked the connection to end after
// this request: Connection: close, or HTTP/1.0 without keep-alive.
func (r *request) wantsClose() bool {
	if r.Simple || r.hasToken("Connection", "close") {
		return true
	}
	return r.Major == 1 && r.Minor == 0 && !r.hasToken("Connection", "keep-alive")
}

// isToken reports whether s is an RFC 9110 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar(s[i]) {
			return false
		}
	}
	return true
}

func isTchar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', isDigit(c):
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return s != ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
