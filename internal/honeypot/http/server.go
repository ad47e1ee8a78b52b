package http

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
	"github.com/decnet-go/decnet/internal/honeypot/tlsfp"
)

// server answers the connections of one http or https service instance.
// It speaks HTTP/1.x itself, byte for byte, so none of net/http's own
// answers (its canned 400, its 404 text, its header order) ever reach an
// attacker.
type server struct {
	flavor flavor
	site   *site
	// defaultHost names the server on error pages when the request did not.
	defaultHost string
	// port is the scheme's default port, named on Apache's error pages.
	port int
	// tls is set for https: every connection starts with a TLS handshake.
	tls *tls.Config
}

// handshakeTimeout bounds a TLS handshake, as a server's request read
// timeout does (nginx's client_header_timeout, Apache's RequestReadTimeout).
const handshakeTimeout = 20 * time.Second

// conn is one client connection: the framework's Conn for events and
// limits, the stream requests arrive on (the Conn itself, or TLS over it)
// and what the TLS handshake told about the client.
type conn struct {
	*honeypot.Conn
	br *bufio.Reader
	bw *bufio.Writer
	// tlsFields are the ClientHello's fingerprint fields, added to every
	// request event; nil over plain HTTP.
	tlsFields map[string]any
	// plainOnTLS marks plain HTTP sent to the https port: every request
	// gets the server's "plain HTTP request was sent to HTTPS port" 400.
	plainOnTLS bool
}

// handle serves one connection: requests in sequence while both sides keep
// it alive, one request event each.
func (s *server) handle(ctx context.Context, c *honeypot.Conn) {
	c.EmitConnect()
	defer c.EmitDisconnect()
	if s.tls == nil {
		s.serve(&conn{Conn: c}, c)
		return
	}
	s.serveTLS(ctx, c)
}

// serveTLS reads the ClientHello for its fingerprints, completes the
// handshake with crypto/tls and serves HTTP inside. Plain HTTP gets the
// server's answer to plain HTTP on an HTTPS port.
func (s *server) serveTLS(ctx context.Context, c *honeypot.Conn) {
	stop := time.AfterFunc(handshakeTimeout, func() { c.Close() })
	defer stop.Stop()
	stream, hello, err := tlsfp.Sniff(c)
	if errors.Is(err, tlsfp.ErrNotTLS) {
		stop.Stop()
		s.serve(&conn{Conn: c, plainOnTLS: true}, stream)
		return
	}
	var fields map[string]any
	if hello != nil {
		fields = hello.Fields()
	}
	if hello == nil && !errors.Is(err, tlsfp.ErrNotClientHello) {
		return // the client went away before its hello was whole
	}
	tc := tls.Server(stream, s.tls)
	hctx, cancel := context.WithTimeout(ctx, handshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	stop.Stop()
	e := c.Event(typeTLSClientHello)
	e.Fields = map[string]any{}
	maps.Copy(e.Fields, fields)
	if hello == nil {
		e.Fields["error"] = "malformed ClientHello"
	}
	if err != nil {
		e.Fields["handshake_error"] = err.Error()
		c.Emit(e)
		return
	}
	st := tc.ConnectionState()
	e.Fields["negotiated_version"] = tls.VersionName(st.Version)
	e.Fields["cipher_suite"] = tls.CipherSuiteName(st.CipherSuite)
	c.Emit(e)
	s.serve(&conn{Conn: c, tlsFields: fields}, tc)
}

// typeTLSClientHello is the event of a TLS handshake, named as DECNET's
// sniffer names it (spec/engine.md §2.2).
const typeTLSClientHello = "tls_client_hello"

// serve runs the request loop on stream.
func (s *server) serve(cn *conn, stream io.ReadWriter) {
	cn.br = bufio.NewReaderSize(stream, 16<<10)
	cn.bw = bufio.NewWriterSize(stream, 16<<10)
	limit := s.flavor.maxRequests()
	for n := 1; n <= limit; n++ {
		if n > 1 && !s.awaitRequest(cn) {
			return
		}
		if !s.exchange(cn, limit-n) {
			return
		}
	}
}

// awaitRequest waits, up to the server's keep-alive timeout, for the next
// request to begin; the server closes an idle connection silently.
func (s *server) awaitRequest(cn *conn) bool {
	if cn.br.Buffered() > 0 {
		return true
	}
	t := time.AfterFunc(s.flavor.keepAliveTimeout(), func() { cn.Close() })
	defer t.Stop()
	_, err := cn.br.Peek(1)
	return err == nil
}

// exchange reads one request and answers it. It reports whether the
// connection stays open for another; left is how many more it may carry.
func (s *server) exchange(cn *conn, left int) bool {
	req, err := readHead(cn.br)
	if req == nil {
		return false // closed or failed before a request began
	}
	if cn.plainOnTLS && s.flavor.plainHTTPEarly() {
		// mod_ssl answers its fake "GET / HTTP/1.0" whatever was sent.
		info := pageInfo{Method: "GET", Host: s.defaultHost, Port: s.port, PlainHTTP: true}
		resp := s.flavor.errorPage(400, info)
		write(cn.bw, s.flavor, &request{Method: "GET"}, resp, connState{closing: true})
		cn.Emit(requestEvent(cn, req, nil, resp.status, "plain HTTP request sent to the HTTPS port"))
		return false
	}
	if err == nil {
		if rerr := s.flavor.refuse(req); rerr != nil {
			err = rerr
		}
	}
	if err == nil && cn.plainOnTLS {
		// Both servers read the whole head first, then refuse it.
		err = &requestError{Status: 400, Reason: "plain HTTP request sent to the HTTPS port", PlainHTTP: true}
	}
	if err == nil {
		err = s.readBody(req, cn.br, cn.bw)
	}
	if err != nil {
		return s.fail(cn, req, err)
	}
	info := s.pageInfo(req, nil, cn)
	form := formValues(req)
	resp := s.flavor.coreMethod(req, info)
	if resp == nil {
		resp = s.site.serve(req, form, s.flavor, info)
	}
	cs := connState{
		closing: resp.close || req.wantsClose() || left <= 0,
		kaToken: req.hasToken("Connection", "keep-alive"),
		left:    left,
	}
	werr := write(cn.bw, s.flavor, req, resp, cs)
	cn.Emit(requestEvent(cn, req, form, resp.status, ""))
	for _, a := range loginAttempts(req, form, resp) {
		cn.Emit(loginEvent(cn, req, s.site.app, a))
	}
	return werr == nil && !cs.closing
}

// fail answers a refused request with the server's error page and ends the
// connection; a request cut short gets no answer, only its event.
func (s *server) fail(cn *conn, req *request, err error) bool {
	var rerr *requestError
	if !errors.As(err, &rerr) {
		cn.Emit(requestEvent(cn, req, nil, 0, "incomplete request: "+err.Error()))
		return false
	}
	rerr = s.flavor.readError(rerr)
	resp := s.flavor.errorPage(rerr.Status, s.pageInfo(req, rerr, cn))
	head := *req
	head.Simple = false // errors always go out with a status line
	write(cn.bw, s.flavor, &head, resp, connState{closing: true})
	cn.Emit(requestEvent(cn, req, nil, resp.status, rerr.Reason))
	return false
}

// readBody reads the request body, first sending 100 Continue to a client
// that waits for it.
func (s *server) readBody(req *request, br *bufio.Reader, bw *bufio.Writer) error {
	chunked, n, err := req.bodyLength()
	if err != nil {
		return err
	}
	if n > s.flavor.bodyLimit() {
		return &requestError{Status: 413, Reason: "body larger than the server accepts"}
	}
	if (chunked || n > 0) && br.Buffered() == 0 && strings.EqualFold(req.Get("Expect"), "100-continue") {
		bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	return req.readBody(br)
}

// pageInfo is what error pages say about this request: the host and port
// it asked for (Apache's signature line), else the server's own name.
// rerr is the error being answered, nil for none.
func (s *server) pageInfo(req *request, rerr *requestError, cn *conn) pageInfo {
	// Without a port in Host, httpd names the scheme's default port, not
	// the one it listens on.
	info := pageInfo{Method: req.Method, Host: s.defaultHost, Port: s.port, Expect: req.Get("Expect"), Scheme: "http"}
	if s.tls != nil && !cn.plainOnTLS {
		info.Scheme = "https"
	}
	info.Authority = req.Get("Host")
	if info.Authority == "" {
		info.Authority = s.defaultHost
	}
	if rerr != nil {
		info.FieldTooLarge = rerr.FieldTooLarge
		info.PlainHTTP = rerr.PlainHTTP
		if rerr.InHeaders || rerr.FieldTooLarge {
			return info // the server had not taken the host from Host yet
		}
	}
	if host := req.Get("Host"); host != "" {
		name, port := splitHostPort(host)
		info.Host = name
		if p, err := strconv.Atoi(port); err == nil && p > 0 && p < 65536 {
			info.Port = p
		}
	}
	return info
}

// splitHostPort splits a Host header value, brackets of IPv6 literals kept.
func splitHostPort(host string) (name, port string) {
	if strings.HasPrefix(host, "[") {
		if end := strings.IndexByte(host, ']'); end > 0 {
			name, rest := host[:end+1], host[end+1:]
			return name, strings.TrimPrefix(rest, ":")
		}
		return host, ""
	}
	name, port, _ = strings.Cut(host, ":")
	return name, port
}
