package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
)

// decodeJSON reads one JSON object from r's body into dst, refusing fields
// dst does not have. Errors are ready to send: 400 for malformed or
// ill-shaped JSON (naming the field), 413 for bodies over maxBodyBytes.
func decodeJSON(r *http.Request, dst any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return badRequest("body must be a single JSON object")
	}
	return nil
}

func bodyError(err error) error {
	var (
		tooLarge *http.MaxBytesError
		typeErr  *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooLarge):
		return errBodyTooLarge
	case errors.Is(err, io.EOF):
		return badRequest("request body is empty")
	case errors.As(err, &typeErr):
		if typeErr.Field == "" {
			return badRequest("body must be a JSON object")
		}
		return badRequest(fmt.Sprintf("field %q must be a %s", typeErr.Field, jsonKind(typeErr.Type.Kind())))
	}
	// encoding/json has no typed error for an unknown field, only this text.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest("unknown field " + name)
	}
	return errMalformedJSON
}

// jsonKind names a Go kind the way a JSON client thinks of it.
func jsonKind(k reflect.Kind) string {
	switch k {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	}
	return "number"
}

// missingField is the 400 for a required body field that is absent.
func missingField(name string) error {
	return badRequest(fmt.Sprintf("field %q is required", name))
}
