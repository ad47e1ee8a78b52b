package http

import (
	"fmt"
	"time"
)

// nginx imitates a distribution nginx with its stock configuration:
// server_tokens on, client_max_body_size 1m, keepalive_timeout 65,
// ignore_invalid_headers on.
type nginx struct {
	banner string
}

var nginxReasons = map[int]string{
	100: "Continue", 200: "OK", 301: "Moved Permanently", 302: "Moved Temporarily", 304: "Not Modified",
	400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Not Allowed",
	408: "Request Time-out", 411: "Length Required", 413: "Request Entity Too Large",
	414: "Request-URI Too Large", 417: "Expectation Failed", 500: "Internal Server Error",
	501: "Not Implemented", 503: "Service Temporarily Unavailable", 505: "HTTP Version Not Supported",
}

func (n nginx) reason(status int) string {
	if r, ok := nginxReasons[status]; ok {
		return r
	}
	return "Unknown"
}

// errorPage renders ngx_http_special_response's page: CRLF line ends and
// the version tail.
func (n nginx) errorPage(status int, info pageInfo) *response {
	title := fmt.Sprintf("%d %s", status, n.reason(status))
	h1, detail := title, ""
	switch {
	case status == 400 && info.FieldTooLarge:
		title = "400 Request Header Or Cookie Too Large"
		detail = "<center>Request Header Or Cookie Too Large</center>\r\n"
	case status == 400 && info.PlainHTTP: // NGX_HTTP_TO_HTTPS (497)
		title = "400 The plain HTTP request was sent to HTTPS port"
		detail = "<center>The plain HTTP request was sent to HTTPS port</center>\r\n"
	case status == 401:
		title, h1 = "401 Authorization Required", "401 Authorization Required"
	case status == 302:
		title, h1 = "302 Found", "302 Found"
	}
	body := "<html>\r\n<head><title>" + title + "</title></head>\r\n<body>\r\n<center><h1>" + h1 +
		"</h1></center>\r\n" + detail + "<hr><center>" + n.banner + "</center>\r\n</body>\r\n</html>\r\n"
	resp := &response{status: status, contentType: "text/html", body: []byte(body)}
	switch status { // errors found while reading the request end the connection
	case 400, 408, 413, 414, 501, 505:
		resp.close = true
	}
	return resp
}

// redirect is nginx's own redirect (the trailing-slash one): its special
// page and a Location header.
func (n nginx) redirect(status int, location string, info pageInfo) *response {
	resp := n.errorPage(status, info)
	resp.extra = []header{{"Location", location}}
	return resp
}

// writeHead emits nginx's header filter order: Server, Date, Content-Type,
// Content-Length, Last-Modified, Location, Connection, then the fields the
// upstream or module added.
func (n nginx) writeHead(b []byte, resp *response, cs connState, now time.Time) []byte {
	b = appendStatus(b, n, resp.status)
	b = appendField(b, "Server", n.banner)
	b = appendField(b, "Date", httpDate(now))
	if resp.contentType != "" {
		b = appendField(b, "Content-Type", resp.contentType)
	}
	b = appendField(b, "Content-Length", resp.contentLength())
	for _, name := range []string{"Last-Modified", "Location"} {
		if v, ok := resp.field(name); ok {
			b = appendField(b, name, v)
		}
	}
	if cs.closing {
		b = appendField(b, "Connection", "close")
	} else {
		b = appendField(b, "Connection", "keep-alive")
	}
	for _, h := range resp.extra {
		if h.Name != "Last-Modified" && h.Name != "Location" {
			b = appendField(b, h.Name, h.Value)
		}
	}
	return append(b, "\r\n"...)
}

// refuse applies nginx's request-line and header checks: upper-case
// methods only, HTTP/1.x only, Host required for HTTP/1.1, no TRACE.
func (n nginx) refuse(req *request) *requestError {
	for i := 0; i < len(req.Method); i++ {
		if c := req.Method[i]; (c < 'A' || c > 'Z') && c != '_' && c != '-' {
			return badRequest("invalid method")
		}
	}
	switch {
	case req.Target == "*": // nginx takes no asterisk-form, even for OPTIONS
		return badRequest("invalid request target")
	case req.Major > 1:
		return &requestError{Status: 505, Reason: "unsupported HTTP version"}
	case !req.Simple && req.Minor >= 1 && req.Get("Host") == "":
		return badRequest("HTTP/1.1 request without Host")
	case req.Method == "TRACE":
		return &requestError{Status: 405, Reason: "TRACE method"}
	}
	return nil
}

// coreMethod: the static and FastCGI locations take GET, HEAD and POST;
// everything else gets 405, with no Allow header.
func (n nginx) coreMethod(req *request, info pageInfo) *response {
	switch req.Method {
	case "GET", "HEAD", "POST":
		return nil
	}
	return n.errorPage(405, info)
}

// staticPOST: the static module takes no POST.
func (n nginx) staticPOST(info pageInfo) *response { return n.errorPage(405, info) }

// readError: nginx's request-line parser gives up with 505 as soon as the
// major version exceeds 1 ("HTTP/1337"), before judging the rest.
func (nginx) readError(rerr *requestError) *requestError {
	if rerr.MajorAbove1 {
		return &requestError{Status: 505, Reason: "unsupported HTTP version"}
	}
	return rerr
}

func (nginx) plainHTTPEarly() bool            { return false }
func (nginx) bodyLimit() int64                { return 1 << 20 }
func (nginx) maxRequests() int                { return 1000 }
func (nginx) keepAliveTimeout() time.Duration { return 65 * time.Second }

// staticETag is nginx's "mtime-size" in hex.
func (nginx) staticETag(size int, mtime time.Time) string {
	return fmt.Sprintf("\"%x-%x\"", mtime.Unix(), size)
}
