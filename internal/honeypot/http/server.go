package http

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/honeypot"
)

// server answers the connections of one http service instance. It speaks
// HTTP/1.x itself, byte for byte, so none of net/http's own answers (its
// canned 400, its 404 text, its header order) ever reach an attacker.
type server struct {
	flavor flavor
	site   *site
	// defaultHost names the server on error pages when the request did not.
	defaultHost string
}

// handle serves one connection: requests in sequence while both sides keep
// it alive, one request event each.
func (s *server) handle(_ context.Context, c *honeypot.Conn) {
	c.EmitConnect()
	defer c.EmitDisconnect()
	br := bufio.NewReaderSize(c, 16<<10)
	bw := bufio.NewWriterSize(c, 16<<10)
	limit := s.flavor.maxRequests()
	for n := 1; n <= limit; n++ {
		if n > 1 && !s.awaitRequest(c, br) {
			return
		}
		if !s.exchange(c, br, bw, limit-n) {
			return
		}
	}
}

// awaitRequest waits, up to the server's keep-alive timeout, for the next
// request to begin; the server closes an idle connection silently.
func (s *server) awaitRequest(c net.Conn, br *bufio.Reader) bool {
	if br.Buffered() > 0 {
		return true
	}
	t := time.AfterFunc(s.flavor.keepAliveTimeout(), func() { c.Close() })
	defer t.Stop()
	_, err := br.Peek(1)
	return err == nil
}

// exchange reads one request and answers it. It reports whether the
// connection stays open for another; left is how many more it may carry.
func (s *server) exchange(c *honeypot.Conn, br *bufio.Reader, bw *bufio.Writer, left int) bool {
	req, err := readHead(br)
	if req == nil {
		return false // closed or failed before a request began
	}
	if err == nil {
		if rerr := s.flavor.refuse(req); rerr != nil {
			err = rerr
		}
	}
	if err == nil {
		err = s.readBody(req, br, bw)
	}
	if err != nil {
		return s.fail(c, bw, req, err)
	}
	info := s.pageInfo(req, nil)
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
	werr := write(bw, s.flavor, req, resp, cs)
	c.Emit(requestEvent(c, req, form, resp.status, ""))
	return werr == nil && !cs.closing
}

// fail answers a refused request with the server's error page and ends the
// connection; a request cut short gets no answer, only its event.
func (s *server) fail(c *honeypot.Conn, bw *bufio.Writer, req *request, err error) bool {
	var rerr *requestError
	if !errors.As(err, &rerr) {
		c.Emit(requestEvent(c, req, nil, 0, "incomplete request: "+err.Error()))
		return false
	}
	rerr = s.flavor.readError(rerr)
	resp := s.flavor.errorPage(rerr.Status, s.pageInfo(req, rerr))
	head := *req
	head.Simple = false // errors always go out with a status line
	write(bw, s.flavor, &head, resp, connState{closing: true})
	c.Emit(requestEvent(c, req, nil, resp.status, rerr.Reason))
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
func (s *server) pageInfo(req *request, rerr *requestError) pageInfo {
	// Without a port in Host, httpd names the scheme's default port, not
	// the one it listens on.
	info := pageInfo{Method: req.Method, Host: s.defaultHost, Port: 80, Expect: req.Get("Expect")}
	if rerr != nil {
		info.FieldTooLarge = rerr.FieldTooLarge
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
