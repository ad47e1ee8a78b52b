package http

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
)

// Bounds on an XML-RPC body.
const (
	maxXMLRPCTokens = 4096
	maxXMLRPCParams = 16
)

// xmlrpcScalars are the typed scalar elements of XML-RPC; a bare value
// element is a string.
var xmlrpcScalars = map[string]bool{"string": true, "int": true, "i4": true, "boolean": true, "double": true, "base64": true}

// xmlrpcCall is the method and string parameters of an XML-RPC call; for
// system.multicall, those of the first call inside that carries a login.
type xmlrpcCall struct {
	method string
	calls  []xmlrpcInner
}

type xmlrpcInner struct {
	method string
	params []string
}

// parseXMLRPC reads the calls of a methodCall body: the method name, then
// every scalar value in document order. Inside system.multicall each
// struct member named methodName starts a new inner call. It gives up
// quietly on malformed XML, keeping what it read.
func parseXMLRPC(body []byte) xmlrpcCall {
	d := xml.NewDecoder(io.LimitReader(bytes.NewReader(body), maxBodyKept))
	d.Strict = false
	var call xmlrpcCall
	var path []string
	var text strings.Builder
	lastName := ""
	for range maxXMLRPCTokens {
		tok, err := d.Token()
		if err != nil {
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			path = append(path, t.Name.Local)
			text.Reset()
		case xml.CharData:
			if text.Len() < 4096 {
				text.Write(t)
			}
		case xml.EndElement:
			if len(path) == 0 {
				return call
			}
			el := path[len(path)-1]
			path = path[:len(path)-1]
			v := text.String()
			switch {
			case el == "methodName" && call.method == "":
				call.method = strings.TrimSpace(v)
				call.calls = append(call.calls, xmlrpcInner{method: call.method})
			case el == "name":
				lastName = strings.TrimSpace(v)
			case (xmlrpcScalars[el] || el == "value") && len(call.calls) > 0:
				if el == "value" && v == "" {
					break
				}
				if lastName == "methodName" {
					call.calls = append(call.calls, xmlrpcInner{method: v})
					lastName = ""
					break
				}
				cur := &call.calls[len(call.calls)-1]
				if len(cur.params) < maxXMLRPCParams {
					cur.params = append(cur.params, v)
				}
			}
			text.Reset()
		}
	}
	return call
}

// login finds the user name and password of the first call that carries
// them, by the parameter layout of WordPress's XML-RPC methods:
// wp.getUsersBlogs(user, pass); blogger.*(appkey, …, user, pass) and most
// wp.*/metaWeblog.*(blog_id, user, pass, …).
func (c xmlrpcCall) login() (user, pass string, ok bool) {
	for _, in := range c.calls {
		p := in.params
		switch {
		case in.method == "system.multicall" || in.method == "":
			continue
		case strings.HasSuffix(in.method, ".getUsersBlogs") && !strings.HasPrefix(in.method, "blogger."):
			if len(p) >= 2 {
				return p[0], p[1], p[1] != ""
			}
		case len(p) >= 3:
			return p[1], p[2], p[2] != ""
		}
	}
	return "", "", false
}
