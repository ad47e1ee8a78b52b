package http

import (
	"bufio"

	"github.com/decnet-go/decnet/internal/event"
	"strconv"
	"time"
)

// response is what the decky sends back for one request.
type response struct {
	status      int
	contentType string
	// extra are the application's header fields (Set-Cookie, Allow,
	// Location, Last-Modified, …) in the order the imitated stack emits them;
	// the flavor places them among its own.
	extra []header
	body  []byte
	// close ends the connection after this response whatever the client asked.
	close bool
	// noLength leaves out Content-Length: httpd's answer to HEAD with an
	// error page it never generates.
	noLength bool
	// cred is a credential the application found in the request where the
	// generic rules would not (an XML-RPC call); credVia names how.
	cred    *event.Credential
	credVia string
}

// write sends resp for req on w: headers only for HEAD, the bare body for
// an HTTP/0.9 request.
func write(w *bufio.Writer, f flavor, req *request, resp *response, cs connState) error {
	if req != nil && req.Simple {
		w.Write(resp.body)
		return w.Flush()
	}
	head := f.writeHead(make([]byte, 0, 512), resp, cs, time.Now())
	w.Write(head)
	if req == nil || req.Method != "HEAD" {
		w.Write(resp.body)
	}
	return w.Flush()
}

// contentLength is the Content-Length value of resp.
func (r *response) contentLength() string { return strconv.Itoa(len(r.body)) }

// field returns the value of an extra header and whether it is set.
func (r *response) field(name string) (string, bool) {
	for _, h := range r.extra {
		if h.Name == name {
			return h.Value, true
		}
	}
	return "", false
}
