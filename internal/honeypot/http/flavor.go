package http

import (
	"strconv"
	"strings"
	"time"
)

// flavor is the web server a decky imitates. Everything that tells Apache
// from nginx on the wire lives behind it: reason phrases, canned error
// pages, header order, which requests are refused and how, keep-alive.
type flavor interface {
	// reason is the reason phrase of a status line.
	reason(status int) string
	// errorPage is the server's own page for an error status.
	errorPage(status int, info pageInfo) *response
	// redirect is the server's own redirect to location (a directory
	// without its trailing slash).
	redirect(status int, location string, info pageInfo) *response
	// writeHead appends the status line and header fields of resp.
	writeHead(b []byte, resp *response, cs connState, now time.Time) []byte
	// refuse checks a well-formed request against the server's own rules
	// (Host, version, method syntax); nil lets it through.
	refuse(req *request) *requestError
	// coreMethod answers a method other than GET, HEAD and POST the way the
	// server core does, before any page sees it; nil for those three.
	coreMethod(req *request, info pageInfo) *response
	// staticPOST answers a POST to a static file; nil serves the file.
	staticPOST(info pageInfo) *response
	// readError turns an error found while reading a request into the one
	// the server answers with.
	readError(rerr *requestError) *requestError
	// plainHTTPEarly reports whether plain HTTP on the TLS port is refused
	// before the request is parsed (mod_ssl swaps in a fake request line)
	// rather than after its head was read and checked (nginx).
	plainHTTPEarly() bool
	// bodyLimit is the largest body accepted; above it the server answers 413.
	bodyLimit() int64
	maxRequests() int                // requests served on one connection
	keepAliveTimeout() time.Duration // idle wait for the next request
	staticETag(size int, mtime time.Time) string
}

// pageInfo is what an error page may mention about the request.
type pageInfo struct {
	Method string
	Host   string // server name the page names
	Port   int
	Expect string
	// FieldTooLarge selects the "header too large" wording of a 400.
	FieldTooLarge bool
	// PlainHTTP selects the "plain HTTP to an HTTPS port" wording of a 400.
	PlainHTTP bool
	// Scheme ("http" or "https") and Authority (the Host header, else the
	// server's name) build the absolute URLs an application redirects to.
	Scheme, Authority string
	// Location is where a redirect page points.
	Location string
}

// connState is what the Connection/Keep-Alive headers depend on.
type connState struct {
	closing bool // the connection ends after this response
	kaToken bool // the client sent Connection: keep-alive
	left    int  // requests the connection may still carry
}

// newFlavor picks the flavor from a Server header: nginx for "nginx…",
// Apache httpd otherwise. seed picks what a real server picks at random
// when it starts (Apache's Allow order), fixed per decky.
func newFlavor(banner, defaultHost string, seed int) flavor {
	if strings.HasPrefix(strings.ToLower(banner), "nginx") {
		return nginx{banner: banner}
	}
	return apache{banner: banner, defaultHost: defaultHost, allow: apacheAllow(seed), recent: isRecentApache(banner)}
}

// httpDate formats t as an HTTP date (IMF-fixdate).
func httpDate(t time.Time) string { return t.UTC().Format("Mon, 02 Jan 2006 15:04:05 GMT") }

// appendField appends one "Name: value" header line.
func appendField(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, ": "...)
	b = append(b, value...)
	return append(b, "\r\n"...)
}

// appendStatus appends the status line; both servers answer HTTP/1.1
// whatever version the client spoke.
func appendStatus(b []byte, f flavor, status int) []byte {
	b = append(b, "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, f.reason(status)...)
	return append(b, "\r\n"...)
}
