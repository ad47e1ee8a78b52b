package http

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
)

// Bounds on multipart parsing of an attacker's body.
const (
	maxFormParts     = 32
	maxFormPartBytes = 64 << 10
)

// formValues returns the fields of a form-like request body: urlencoded,
// multipart (file parts skipped) or a flat JSON object of strings.
func formValues(req *request) url.Values {
	if len(req.Body) == 0 {
		return nil
	}
	mediaType, params, err := mime.ParseMediaType(req.Get("Content-Type"))
	if err != nil {
		return nil
	}
	switch mediaType {
	case "application/x-www-form-urlencoded":
		v, _ := url.ParseQuery(string(req.Body)) // keep what parsed before a bad escape
		return v
	case "multipart/form-data":
		return multipartValues(req.Body, params["boundary"])
	case "application/json":
		var obj map[string]any
		if json.Unmarshal(req.Body, &obj) != nil {
			return nil
		}
		v := url.Values{}
		for k, val := range obj {
			if s, ok := val.(string); ok {
				v.Add(k, s)
			}
		}
		return v
	}
	return nil
}

// multipartValues reads the non-file parts of a multipart body.
func multipartValues(body []byte, boundary string) url.Values {
	if boundary == "" {
		return nil
	}
	v := url.Values{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for range maxFormParts {
		part, err := mr.NextPart()
		if err != nil {
			break
		}
		if part.FileName() == "" && part.FormName() != "" {
			var sb strings.Builder
			io.Copy(&sb, io.LimitReader(part, maxFormPartBytes))
			v.Add(part.FormName(), sb.String())
		}
		part.Close()
	}
	return v
}
