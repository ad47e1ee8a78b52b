package http

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// parse reads one request (head and body) from raw.
func parse(raw string) (*request, error) {
	br := bufio.NewReader(strings.NewReader(raw))
	req, err := readHead(br)
	if err == nil && req != nil && !req.Simple {
		err = req.readBody(br)
	}
	return req, err
}

func TestParseRequest(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		status  int // requestError status; 0 = parses, -1 = stream error
		method  string
		target  string
		proto   string
		headers []string // names in wire order
		body    string
	}{
		{name: "curl", raw: "GET /a?b=c HTTP/1.1\r\nHost: h\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
			method: "GET", target: "/a?b=c", proto: "HTTP/1.1", headers: []string{"Host", "User-Agent", "Accept"}},
		{name: "header case and order kept", raw: "GET / HTTP/1.1\r\nhost: h\r\nX-B: 1\r\nx-a: 2\r\n\r\n",
			method: "GET", target: "/", proto: "HTTP/1.1", headers: []string{"host", "X-B", "x-a"}},
		{name: "leading blank lines", raw: "\r\n\r\nGET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.0"},
		{name: "content-length body", raw: "POST /l HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
			method: "POST", target: "/l", proto: "HTTP/1.1", headers: []string{"Host", "Content-Length"}, body: "hello"},
		{name: "chunked body with extension and trailer", raw: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
			method: "POST", target: "/", proto: "HTTP/1.1", headers: []string{"Host", "Transfer-Encoding"}, body: "abcde"},
		{name: "obs-fold joins", raw: "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  b\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", headers: []string{"Host", "X"}},
		{name: "absolute form", raw: "GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\n\r\n", method: "GET", target: "http://example.com/p?q", proto: "HTTP/1.1", headers: []string{"Host"}},
		{name: "http/0.9", raw: "GET /\r\n", method: "GET", target: "/", proto: "HTTP/0.9"},
		{name: "http/2.0 line parses", raw: "GET / HTTP/2.0\r\nHost: h\r\n\r\n", method: "GET", target: "/", proto: "HTTP/2.0", headers: []string{"Host"}},
		{name: "bad version 1337", raw: "GET / HTTP/1337\r\n\r\n", status: 400, method: "GET"},
		{name: "lower-case protocol", raw: "GET / http/1.1\r\n\r\n", status: 400},
		{name: "HTTP/0.9 explicit", raw: "GET / HTTP/0.9\r\n\r\n", status: 400},
		{name: "double space", raw: "GET  / HTTP/1.1\r\n\r\n", status: 400},
		{name: "trailing text", raw: "GET / HTTP/1.1 extra\r\n\r\n", status: 400},
		{name: "control char in target", raw: "GET /\x01 HTTP/1.1\r\n\r\n", status: 400},
		{name: "relative target", raw: "GET index.html HTTP/1.1\r\n\r\n", status: 400},
		{name: "CONNECT authority", raw: "CONNECT example.com:443 HTTP/1.1\r\n\r\n", status: 400},
		{name: "POST on 0.9", raw: "POST /\r\n", status: 400},
		{name: "tls hello", raw: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n", status: 400},
		// kept with an empty value (nginx); the apache flavor refuses it
		{name: "header without colon", raw: "GET / HTTP/1.1\r\nHost: h\r\nBroken\r\n\r\n", method: "GET", target: "/", proto: "HTTP/1.1", headers: []string{"Host", "Broken"}},
		{name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : h\r\n\r\n", status: 400},
		{name: "fold before any header", raw: "GET / HTTP/1.1\r\n x\r\n\r\n", status: 400},
		{name: "request line too long", raw: "GET /" + strings.Repeat("a", maxRequestLine) + " HTTP/1.1\r\n\r\n", status: 414},
		{name: "header too long", raw: "GET / HTTP/1.1\r\nX: " + strings.Repeat("a", maxFieldLine) + "\r\n\r\n", status: 400},
		{name: "too many headers", raw: "GET / HTTP/1.1\r\n" + strings.Repeat("X: y\r\n", maxHeaders+1) + "\r\n", status: 400},
		{name: "conflicting content-length", raw: "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", status: 400},
		{name: "signed content-length", raw: "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhello", status: 400},
		{name: "gzip transfer-coding", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", status: 501},
		{name: "bad chunk size", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", status: 400},
		{name: "chunk without CRLF", raw: "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", status: 400},
		{name: "huge content-length", raw: "POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n", status: 413},
		{name: "eof in headers", raw: "GET / HTTP/1.1\r\nHost: h\r\n", status: -1},
		{name: "short body", raw: "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc", status: -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parse(tc.raw)
			var rerr *requestError
			switch {
			case tc.status == 0 && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.status > 0 && (!errors.As(err, &rerr) || rerr.Status != tc.status):
				t.Fatalf("err = %v, want status %d", err, tc.status)
			case tc.status < 0 && (err == nil || errors.As(err, &rerr)):
				t.Fatalf("err = %v, want a stream error", err)
			}
			if req == nil {
				t.Fatal("no request returned")
			}
			if tc.method != "" && req.Method != tc.method {
				t.Errorf("method %q, want %q", req.Method, tc.method)
			}
			if tc.status != 0 {
				return
			}
			if req.Target != tc.target || req.Proto != tc.proto {
				t.Errorf("target/proto %q %q, want %q %q", req.Target, req.Proto, tc.target, tc.proto)
			}
			var names []string
			for _, h := range req.Headers {
				names = append(names, h.Name)
			}
			if strings.Join(names, ",") != strings.Join(tc.headers, ",") {
				t.Errorf("headers %v, want %v", names, tc.headers)
			}
			if string(req.Body) != tc.body || req.BodySize != int64(len(tc.body)) {
				t.Errorf("body %q (%d), want %q", req.Body, req.BodySize, tc.body)
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	req, err := parse("GET http://h/x/y?q=1 HTTP/1.1\r\nHost: h\r\nX: a\r\n  b \r\nConnection: Keep-Alive, Upgrade\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := req.Path(); got != "/x/y" {
		t.Errorf("Path = %q", got)
	}
	if got := req.Get("x"); got != "a b" {
		t.Errorf("folded value = %q", got)
	}
	if !req.hasToken("connection", "keep-alive") || req.wantsClose() {
		t.Error("keep-alive token not seen")
	}
	req, _ = parse("GET / HTTP/1.0\r\n\r\n")
	if !req.wantsClose() {
		t.Error("HTTP/1.0 without keep-alive should close")
	}
	req, _ = parse("GET / HTTP/1.1\nHost: h\n\n")
	if !req.BareLF {
		t.Error("bare LF not noticed")
	}
}

// TestParseBodyKeptBound checks that a body beyond maxBodyKept is counted
// but not held.
func TestParseBodyKeptBound(t *testing.T) {
	n := maxBodyKept + 1000
	req, err := parse("POST / HTTP/1.1\r\nContent-Length: " + strconv.Itoa(n) + "\r\n\r\n" + strings.Repeat("x", n))
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Body) != maxBodyKept || req.BodySize != int64(n) {
		t.Errorf("kept %d of %d, want %d of %d", len(req.Body), req.BodySize, maxBodyKept, n)
	}
}

// captures returns the recorded requests under testdata/captures.
func captures(tb testing.TB) map[string][]byte {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", "captures", "*"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no captures: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out[filepath.Base(f)] = b
	}
	return out
}

// FuzzParseRequest feeds arbitrary bytes to the parser: it must not panic,
// must respect its bounds, and must read whole requests back to back.
func FuzzParseRequest(f *testing.F) {
	for _, b := range captures(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		br := bufio.NewReaderSize(strings.NewReader(string(raw)), 4096)
		for range 8 { // a few pipelined requests
			req, err := readHead(br)
			if req == nil {
				return
			}
			if err == nil && !req.Simple {
				err = req.readBody(br)
			}
			if len(req.Headers) > maxHeaders || len(req.Body) > maxBodyKept || int64(len(req.Body)) > req.BodySize {
				t.Fatalf("bounds broken: %d headers, %d body bytes of %d", len(req.Headers), len(req.Body), req.BodySize)
			}
			for _, h := range req.Headers {
				if !isToken(h.Name) {
					t.Fatalf("non-token header name %q", h.Name)
				}
			}
			var rerr *requestError
			if errors.As(err, &rerr) && (rerr.Status < 400 || rerr.Status > 599) {
				t.Fatalf("error status %d", rerr.Status)
			}
			if err != nil || errors.Is(err, io.EOF) {
				return
			}
			headersJSON(req.Headers) // the event rendering must cope too
			formValues(req)
		}
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
