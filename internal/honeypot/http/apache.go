package http

import (
	"fmt"
	"html"
	"strconv"
	"strings"
	"time"
)

// apache imitates Apache httpd 2.4 as Debian, Ubuntu and Rocky ship it:
// HttpProtocolOptions Strict, ServerSignature On, KeepAliveTimeout 5,
// MaxKeepAliveRequests 100, TraceEnable Off.
type apache struct {
	banner string
	// allow is the Allow header of a static or PHP resource (see apacheAllow).
	allow string
	// recent is set for 2.4.71 and later (see isRecentApache): HTML 4.01
	// error pages, 400 for an unknown transfer-coding.
	recent bool
	// defaultHost is the server name when the request gave none (Apache
	// falls back to the address the host name resolves to).
	defaultHost string
}

var apacheReasons = map[int]string{
	100: "Continue", 200: "OK", 301: "Moved Permanently", 302: "Found", 304: "Not Modified",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
	405: "Method Not Allowed", 408: "Request Timeout", 411: "Length Required",
	413: "Request Entity Too Large", 414: "Request-URI Too Long", 417: "Expectation Failed",
	500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
	505: "HTTP Version Not Supported",
}

func (a apache) reason(status int) string {
	if r, ok := apacheReasons[status]; ok {
		return r
	}
	return "Unknown"
}

// apacheAllow is the Allow header of a static or PHP resource, rotated by
// rot. httpd lists the methods in the iteration order of a hash table
// whose seed is random per server start: always this cycle, from a
// different starting point after each restart.
func apacheAllow(rot int) string {
	cycle := []string{"GET", "POST", "OPTIONS", "HEAD"}
	rot %= len(cycle)
	return strings.Join(append(cycle[rot:], cycle[:rot]...), ",")
}

// apacheVersion reads "Apache/2.4.71 …" as 2, 4, 71 (0, 0, 0 if absent).
func apacheVersion(banner string) (major, minor, patch int) {
	rest, ok := strings.CutPrefix(banner, "Apache/")
	if !ok {
		return 0, 0, 0
	}
	v, _, _ := strings.Cut(rest, " ")
	parts := strings.SplitN(v, ".", 3)
	nums := [3]int{}
	for i, p := range parts {
		nums[i], _ = strconv.Atoi(p)
	}
	return nums[0], nums[1], nums[2]
}

// isRecentApache reports whether a release behaves as 2.4.71, Debian 12's
// package that compare_test.go checks against: error pages with the HTML
// 4.01 doctype (HTML 2.0 before) and 400, not 501, for a transfer-coding
// other than chunked. Releases up to 2.4.62 behave the old way; those in
// between are assumed to as well.
func isRecentApache(banner string) bool {
	major, minor, patch := apacheVersion(banner)
	return major > 2 || major == 2 && (minor > 4 || minor == 4 && patch >= 71)
}

const (
	doctypeHTML20  = "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n"
	doctypeHTML401 = "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\" \"http://www.w3.org/TR/html4/strict.dtd\">\n"
)

// apacheMethods are the methods httpd registers itself; others are
// M_INVALID and get 501.
var apacheMethods = map[string]bool{
	"GET": true, "HEAD": true, "POST": true, "PUT": true, "DELETE": true, "CONNECT": true,
	"OPTIONS": true, "TRACE": true, "PATCH": true, "PROPFIND": true, "PROPPATCH": true,
	"MKCOL": true, "COPY": true, "MOVE": true, "LOCK": true, "UNLOCK": true,
	"VERSION-CONTROL": true, "CHECKOUT": true, "UNCHECKOUT": true, "CHECKIN": true,
	"UPDATE": true, "LABEL": true, "REPORT": true, "MKWORKSPACE": true, "MKACTIVITY": true,
	"BASELINE-CONTROL": true, "MERGE": true,
}

// errorPage renders ap_send_error_response's canned page.
func (a apache) errorPage(status int, info pageInfo) *response {
	reason := a.reason(status)
	doctype := doctypeHTML20
	if a.recent {
		doctype = doctypeHTML401
	}
	body := fmt.Sprintf("%s<html><head>\n<title>%d %s</title>\n</head><body>\n<h1>%s</h1>\n%s<hr>\n<address>%s Server at %s Port %d</address>\n</body></html>\n",
		doctype, status, reason, reason, apacheCanned(status, info), a.banner, html.EscapeString(info.Host), info.Port)
	resp := &response{status: status, contentType: "text/html; charset=iso-8859-1", body: []byte(body),
		noLength: info.Method == "HEAD"}
	if status == 405 || status == 501 {
		resp.extra = []header{{"Allow", a.allow}}
	}
	switch status { // ap_status_drops_connection
	case 400, 408, 411, 413, 414, 500, 501, 503:
		resp.close = true
	}
	return resp
}

// redirect is httpd's own redirect (mod_dir's DirectorySlash): the
// canned page naming the new location.
func (a apache) redirect(status int, location string, info pageInfo) *response {
	info.Location = location
	resp := a.errorPage(status, info)
	resp.extra = []header{{"Location", location}}
	resp.close = false
	return resp
}

// apacheCanned is get_canned_error_string for the statuses a decky sends.
func apacheCanned(status int, info pageInfo) string {
	m := html.EscapeString(info.Method)
	switch status {
	case 301, 302:
		return "<p>The document has moved <a href=\"" + html.EscapeString(info.Location) + "\">here</a>.</p>\n"
	case 401:
		return "<p>This server could not verify that you\nare authorized to access the document\nrequested.  Either you supplied the wrong\n" +
			"credentials (e.g., bad password), or your\nbrowser doesn't understand how to supply\nthe credentials required.</p>\n"
	case 400:
		// add_optional_notes: the error-notes, if any, then "</p>".
		notes := ""
		switch {
		case info.FieldTooLarge:
			notes = "Size of a request header field exceeds server limit."
		case info.PlainHTTP: // mod_ssl's note
			notes = "Reason: You're speaking plain HTTP to an SSL-enabled server port.<br />\n Instead use the HTTPS scheme to access this URL, please.<br />\n"
		}
		return "<p>Your browser sent a request that this server could not understand.<br />\n" + notes + "</p>\n"
	case 403:
		return "<p>You don't have permission to access this resource.</p>\n"
	case 404:
		return "<p>The requested URL was not found on this server.</p>\n"
	case 405:
		return "<p>The requested method " + m + " is not allowed for this URL.</p>\n"
	case 413:
		return "The requested resource does not allow request data with " + m +
			" requests, or the amount of data provided in\nthe request exceeds the capacity limit.\n"
	case 414:
		return "<p>The requested URL's length exceeds the capacity\nlimit for this server.<br />\n</p>\n"
	case 417:
		return "<p>The expectation given in the Expect request-header\nfield could not be met by this server.\n" +
			"The client sent<pre>\n    Expect: " + html.EscapeString(info.Expect) + "\n</pre>\n</p>" +
			"<p>Only the 100-continue expectation is supported.</p>\n"
	case 501:
		return "<p>" + m + " not supported for current URL.<br />\n</p>\n"
	}
	return "<p>The server encountered an internal error or\nmisconfiguration and was unable to complete\nyour request.</p>\n" +
		"<p>Please contact the server administrator at \n webmaster@localhost to inform them of the time this error occurred,\n" +
		" and the actions you performed just before this error.</p>\n<p>More information about this error may be available\nin the server error log.</p>\n"
}

// writeHead emits Date and Server first, then the handler's fields,
// Content-Length, the keep-alive pair and Content-Type last, as httpd does.
func (a apache) writeHead(b []byte, resp *response, cs connState, now time.Time) []byte {
	b = appendStatus(b, a, resp.status)
	b = appendField(b, "Date", httpDate(now))
	b = appendField(b, "Server", a.banner)
	for _, h := range resp.extra {
		b = appendField(b, h.Name, h.Value)
	}
	if !resp.noLength {
		b = appendField(b, "Content-Length", resp.contentLength())
	}
	switch {
	case cs.closing:
		b = appendField(b, "Connection", "close")
	case cs.kaToken:
		b = appendField(b, "Keep-Alive", "timeout=5, max="+strconv.Itoa(cs.left))
		b = appendField(b, "Connection", "Keep-Alive")
	}
	if resp.contentType != "" {
		b = appendField(b, "Content-Type", resp.contentType)
	}
	return append(b, "\r\n"...)
}

// refuse applies Strict protocol parsing and the HTTP/1.1 Host rule.
func (a apache) refuse(req *request) *requestError {
	switch {
	case req.BareLF:
		return &requestError{Status: 400, Reason: "line ended without CR (HttpProtocolOptions Strict)", InHeaders: true}
	case a.recent && unknownCoding(req):
		return &requestError{Status: 400, Reason: "unsupported transfer-coding", InHeaders: true}
	case req.NoColon:
		return &requestError{Status: 400, Reason: "header line without ':'", InHeaders: true}
	case !req.Simple && req.Major == 1 && req.Minor >= 1 && req.Get("Host") == "":
		return badRequest("HTTP/1.1 request without Host")
	case req.Get("Expect") != "" && !strings.EqualFold(req.Get("Expect"), "100-continue"):
		return &requestError{Status: 417, Reason: "unsupported Expect"}
	}
	return nil
}

// unknownCoding reports whether Transfer-Encoding names anything but chunked.
func unknownCoding(req *request) bool {
	for _, v := range req.values("Transfer-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if !strings.EqualFold(strings.TrimSpace(c), "chunked") {
				return true
			}
		}
	}
	return false
}

// coreMethod is default_handler: OPTIONS lists the methods, a method httpd
// does not know gets 501, any other known method 405.
func (a apache) coreMethod(req *request, info pageInfo) *response {
	switch m := req.Method; {
	case m == "GET" || m == "HEAD" || m == "POST":
		return nil
	case m == "OPTIONS" && req.Target == "*":
		// The core answers OPTIONS * itself: no Allow, no Content-Type.
		return &response{status: 200}
	case m == "OPTIONS":
		return &response{status: 200, contentType: "text/html", extra: []header{{"Allow", a.allow}}}
	case m == "TRACE":
		// TraceEnable Off: 405 with an empty Allow.
		resp := a.errorPage(405, info)
		resp.extra = []header{{"Allow", ""}}
		return resp
	case !apacheMethods[m]:
		return a.errorPage(501, info)
	default:
		return a.errorPage(405, info)
	}
}

// staticPOST: default_handler serves a file to a POST as to a GET.
func (apache) staticPOST(pageInfo) *response { return nil }

func (apache) readError(rerr *requestError) *requestError { return rerr }

func (apache) plainHTTPEarly() bool            { return true }
func (apache) bodyLimit() int64                { return maxBodyRead }
func (apache) maxRequests() int                { return 100 }
func (apache) keepAliveTimeout() time.Duration { return 5 * time.Second }

// staticETag is httpd's default FileETag MTime Size: size and mtime in µs, hex.
func (apache) staticETag(size int, mtime time.Time) string {
	return fmt.Sprintf("\"%x-%x\"", size, mtime.UnixMicro())
}
