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

// apacheAllow is the Allow header of a static or PHP resource.
const apacheAllow = "GET,POST,OPTIONS,HEAD"

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
	body := fmt.Sprintf("<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html><head>\n<title>%d %s</title>\n</head><body>\n<h1>%s</h1>\n%s<hr>\n<address>%s Server at %s Port %d</address>\n</body></html>\n",
		status, reason, reason, apacheCanned(status, info), a.banner, html.EscapeString(info.Host), info.Port)
	resp := &response{status: status, contentType: "text/html; charset=iso-8859-1", body: []byte(body)}
	if status == 405 || status == 501 {
		resp.extra = []header{{"Allow", apacheAllow}}
	}
	switch status { // ap_status_drops_connection
	case 400, 408, 411, 413, 414, 500, 501, 503:
		resp.close = true
	}
	return resp
}

// apacheCanned is get_canned_error_string for the statuses a decky sends.
func apacheCanned(status int, info pageInfo) string {
	m := html.EscapeString(info.Method)
	switch status {
	case 400:
		notes := ""
		if info.FieldTooLarge {
			notes = "Size of a request header field exceeds server limit.<br />\n"
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
	b = appendField(b, "Content-Length", resp.contentLength())
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
		return badRequest("line ended without CR (HttpProtocolOptions Strict)")
	case !req.Simple && req.Major == 1 && req.Minor >= 1 && req.Get("Host") == "":
		return badRequest("HTTP/1.1 request without Host")
	case req.Get("Expect") != "" && !strings.EqualFold(req.Get("Expect"), "100-continue"):
		return &requestError{Status: 417, Reason: "unsupported Expect"}
	}
	return nil
}

// coreMethod is default_handler: OPTIONS lists the methods, a method httpd
// does not know gets 501, any other known method 405.
func (a apache) coreMethod(req *request, info pageInfo) *response {
	switch m := req.Method; {
	case m == "GET" || m == "HEAD" || m == "POST":
		return nil
	case m == "OPTIONS":
		return &response{status: 200, contentType: "text/html", extra: []header{{"Allow", apacheAllow}}}
	case !apacheMethods[m]:
		return a.errorPage(501, info)
	default:
		return a.errorPage(405, info)
	}
}

func (apache) bodyLimit() int64                { return maxBodyRead }
func (apache) maxRequests() int                { return 100 }
func (apache) keepAliveTimeout() time.Duration { return 5 * time.Second }

// staticETag is httpd's default FileETag MTime Size: size and mtime in µs, hex.
func (apache) staticETag(size int, mtime time.Time) string {
	return fmt.Sprintf("\"%x-%x\"", size, mtime.UnixMicro())
}
