package store

import (
	"encoding/json"
	"strings"
	"unicode/utf8"
)

// jsonSpace is the whitespace JSON allows between tokens.
const jsonSpace = " \t\n\r"

// decodeList decodes a JSON array of strings as the store writes them
// (services, deckies). The common form — strings without escapes — is
// split directly, which costs a fraction of encoding/json's reflection on
// the attacker list's hot path; anything else goes through json.Unmarshal.
// Never nil.
func decodeList(s string) []string {
	if l, ok := splitPlainList(s); ok {
		return l
	}
	var l []string
	json.Unmarshal([]byte(s), &l)
	if l == nil {
		l = []string{}
	}
	return l
}

// splitPlainList splits `["a","b"]` (JSON whitespace between tokens) when no
// element holds a backslash, a quote or invalid UTF-8; ok is false for any
// other text.
func splitPlainList(s string) ([]string, bool) {
	s = strings.Trim(s, jsonSpace)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' || strings.IndexByte(s, '\\') >= 0 || !utf8.ValidString(s) {
		return nil, false
	}
	body := strings.Trim(s[1:len(s)-1], jsonSpace)
	if body == "" {
		return []string{}, true
	}
	out := make([]string, 0, strings.Count(body, ",")+1)
	for len(body) > 0 {
		if body[0] != '"' {
			return nil, false
		}
		end := strings.IndexByte(body[1:], '"')
		if end < 0 {
			return nil, false
		}
		v := body[1 : 1+end]
		for i := 0; i < len(v); i++ {
			if v[i] < 0x20 {
				return nil, false // a control character is not valid JSON
			}
		}
		out = append(out, v)
		body = strings.TrimLeft(body[end+2:], jsonSpace)
		if body == "" {
			break
		}
		if body[0] != ',' {
			return nil, false
		}
		body = strings.TrimLeft(body[1:], jsonSpace)
		if body == "" {
			return nil, false // trailing comma
		}
	}
	return out, true
}
