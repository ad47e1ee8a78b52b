package honeypot

import (
	"encoding/base64"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/decnet-go/decnet/internal/event"
)

// Secret kinds of the HTTP credential helpers (spec/engine.md §2.0).
const (
	SecretHTTPBearer    = "http_bearer"
	SecretHTTPDigestMD5 = "http_digest_md5"
	// SecretHTTPDigestSHA256 is a Digest response computed with SHA-256
	// (RFC 7616), which DECNET never saw; the kind list is open.
	SecretHTTPDigestSHA256 = "http_digest_sha256"
)

// ClassifyAuthorization turns an HTTP Authorization header value into a
// captured credential, as DECNET's classify_authorization does:
//
//   - Basic: principal is the user, the secret the password (plaintext);
//   - Bearer or Token: the token (http_bearer), with no principal;
//   - Digest: principal is the username, the secret the response hash
//     (http_digest_md5, or http_digest_sha256 for algorithm=SHA-256[-sess]);
//     DigestParams gives the realm, nonce and the rest a cracker needs.
//
// It reports false for other schemes and for values that carry no secret
// (undecodable Basic, empty password, Digest without a response): an event
// cannot carry an empty secret, and the raw header stays in the request event.
// The outcome is always failure: a decky never lets an HTTP client in.
func ClassifyAuthorization(header string) (*event.Credential, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	rest = strings.TrimSpace(rest)
	switch strings.ToLower(scheme) {
	case "basic":
		return basicCredential(rest)
	case "bearer", "token":
		if rest == "" {
			return nil, false
		}
		return event.NewCredential("", SecretHTTPBearer, []byte(rest), event.OutcomeFailure), true
	case "digest":
		params := digestParams(rest)
		resp := params["response"]
		if resp == "" {
			return nil, false
		}
		kind := SecretHTTPDigestMD5
		if strings.HasPrefix(strings.ToUpper(params["algorithm"]), "SHA-256") {
			kind = SecretHTTPDigestSHA256
		}
		return event.NewCredential(params["username"], kind, []byte(resp), event.OutcomeFailure), true
	}
	return nil, false
}

func basicCredential(token string) (*event.Credential, bool) {
	raw, err := base64.StdEncoding.DecodeString(token)
	if err != nil {
		// Some clients drop the padding; a real server would still try.
		if raw, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(token, "=")); err != nil {
			return nil, false
		}
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	if pass == "" {
		return nil, false
	}
	return event.NewCredential(user, event.SecretPlaintext, []byte(pass), event.OutcomeFailure), true
}

// DigestParams returns the auth-params of a Digest Authorization header
// value (username, realm, nonce, uri, qop, nc, cnonce, algorithm, response,
// opaque, …), keys lower-cased; false when the scheme is not Digest. With
// the request method they are what it takes to test a guessed password
// against the captured response.
func DigestParams(header string) (map[string]string, bool) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	if !strings.EqualFold(scheme, "digest") {
		return nil, false
	}
	return digestParams(strings.TrimSpace(rest)), true
}

// digestParams parses the comma-separated auth-params of a Digest header:
// key=token or key="quoted string" with backslash escapes. Keys are lower-cased;
// the first occurrence of a key wins.
func digestParams(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " \t,")
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			break
		}
		key := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var val string
		if strings.HasPrefix(s, `"`) {
			var sb strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				sb.WriteByte(s[i])
			}
			val, s = sb.String(), s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			val, s = strings.TrimSpace(s[:end]), s[end:]
		}
		if _, seen := out[key]; !seen {
			out[key] = val
		}
	}
	return out
}

// Form field names DECNET's extract_form_credentials looks for, in order of
// preference, plus Jenkins' (Spring/Acegi Security) j_username and j_password.
var (
	FormPrincipalKeys = []string{"username", "user", "email", "login", "userid", "account", "log", "user_login", "uname", "pma_username", "j_username"}
	FormSecretKeys    = []string{"password", "pass", "pwd", "passwd", "passwort", "mot_de_passe", "user_password", "pma_password", "j_password"}
)

// FormCredentials finds a login in submitted form values (a urlencoded or
// multipart POST body): the first non-empty secret field by FormSecretKeys
// and, if any, the first non-empty principal field by FormPrincipalKeys.
// Field names match case-insensitively ("Password" counts), exact names
// first. It reports false when the form holds no secret.
func FormCredentials(values url.Values) (*event.Credential, bool) {
	secret, ok := formField(values, FormSecretKeys)
	if !ok {
		return nil, false
	}
	principal, _ := formField(values, FormPrincipalKeys)
	return event.NewCredential(principal, event.SecretPlaintext, []byte(secret), event.OutcomeFailure), true
}

// formField returns the first non-empty value among keys, trying exact
// names before case-insensitive ones.
func formField(values url.Values, keys []string) (string, bool) {
	for _, k := range keys {
		for _, v := range values[k] {
			if v != "" {
				return v, true
			}
		}
	}
	names := slices.Sorted(maps.Keys(values)) // deterministic when names differ only in case
	for _, k := range keys {
		for _, name := range names {
			if !strings.EqualFold(name, k) || name == k {
				continue
			}
			for _, v := range values[name] {
				if v != "" {
					return v, true
				}
			}
		}
	}
	return "", false
}
