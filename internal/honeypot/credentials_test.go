package honeypot

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/decnet-go/decnet/internal/event"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestClassifyAuthorization(t *testing.T) {
	tests := []struct {
		name, header           string
		ok                     bool
		principal, kind, value string
	}{
		{"basic", "Basic " + b64("admin:hunter2"), true, "admin", "plaintext", "hunter2"},
		{"basic lower-case scheme", "basic " + b64("root:toor"), true, "root", "plaintext", "toor"},
		{"basic password with colon", "Basic " + b64("u:pa:ss"), true, "u", "plaintext", "pa:ss"},
		{"basic unpadded", "Basic " + base64.RawStdEncoding.EncodeToString([]byte("ab:c")), true, "ab", "plaintext", "c"},
		{"basic binary password", "Basic " + b64("u:\x00\xff"), true, "u", "plaintext", "??"},
		{"basic empty password", "Basic " + b64("admin:"), false, "", "", ""},
		{"basic no colon", "Basic " + b64("admin"), false, "", "", ""},
		{"basic garbage", "Basic !!!notbase64", false, "", "", ""},
		{"bearer", "Bearer eyJhbGciOiJIUzI1NiJ9.e30.sig", true, "", "http_bearer", "eyJhbGciOiJIUzI1NiJ9.e30.sig"},
		{"token", "Token abc123", true, "", "http_bearer", "abc123"},
		{"bearer empty", "Bearer ", false, "", "", ""},
		{"digest", `Digest username="bob", realm="r", nonce="n", uri="/", response="6629fae49393a05397450978507c4ef1", qop=auth, nc=00000001, cnonce="c"`,
			true, "bob", "http_digest_md5", "6629fae49393a05397450978507c4ef1"},
		{"digest escaped username", `Digest username="a\"b", response=abcd`, true, `a"b`, "http_digest_md5", "abcd"},
		{"digest sha-256", `Digest username="eve", realm="r", algorithm=SHA-256, response="ab12"`, true, "eve", "http_digest_sha256", "ab12"},
		{"digest no response", `Digest username="bob", realm="r"`, false, "", "", ""},
		{"ntlm", "NTLM TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAGAbEdAAAADw==", false, "", "", ""},
		{"empty", "", false, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, ok := ClassifyAuthorization(tc.header)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v (cred %+v)", ok, tc.ok, c)
			}
			if !ok {
				return
			}
			if c.Principal != tc.principal || c.SecretKind != tc.kind || c.SecretPrintable != tc.value {
				t.Errorf("got principal=%q kind=%q secret=%q, want %q %q %q",
					c.Principal, c.SecretKind, c.SecretPrintable, tc.principal, tc.kind, tc.value)
			}
			if c.Principal == "None" {
				t.Error(`principal is the string "None"`)
			}
			if c.Outcome != event.OutcomeFailure {
				t.Errorf("outcome = %q, want failure", c.Outcome)
			}
		})
	}
}

func TestFormCredentials(t *testing.T) {
	tests := []struct {
		name              string
		form              string
		ok                bool
		principal, secret string
	}{
		{"username password", "username=bob&password=s3cret", true, "bob", "s3cret"},
		{"wordpress", "log=admin&pwd=admin123&wp-submit=Log+In", true, "admin", "admin123"},
		{"phpmyadmin", "pma_username=root&pma_password=toor&server=1", true, "root", "toor"},
		{"jenkins", "j_username=admin&j_password=jenkins&from=%2F&Submit=Sign+in", true, "admin", "jenkins"},
		{"german", "email=a%40b.de&passwort=geheim", true, "a@b.de", "geheim"},
		{"french", "login=jean&mot_de_passe=motdepasse", true, "jean", "motdepasse"},
		{"principal preference order", "login=second&username=first&pass=x", true, "first", "x"},
		{"secret only", "password=lonely", true, "", "lonely"},
		{"case-insensitive names", "Username=Carl&Password=Pw", true, "Carl", "Pw"},
		{"empty secret skipped", "password=&pass=real&user=u", true, "u", "real"},
		{"no secret", "username=bob&q=search", false, "", ""},
		{"empty", "", false, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := url.ParseQuery(tc.form)
			if err != nil {
				t.Fatal(err)
			}
			c, ok := FormCredentials(v)
			if ok != tc.ok {
				t.Fatalf("ok = %v, want %v", ok, tc.ok)
			}
			if !ok {
				return
			}
			if c.Principal != tc.principal || c.SecretPrintable != tc.secret || c.SecretKind != event.SecretPlaintext {
				t.Errorf("got %q/%q (%s), want %q/%q", c.Principal, c.SecretPrintable, c.SecretKind, tc.principal, tc.secret)
			}
			if c.Outcome != event.OutcomeFailure {
				t.Errorf("outcome = %q", c.Outcome)
			}
		})
	}
}

// FuzzClassifyAuthorization checks that no header value panics the parser and
// that every credential it returns is one an event can carry.
func FuzzClassifyAuthorization(f *testing.F) {
	for _, s := range []string{
		"Basic " + b64("admin:hunter2"),
		"Basic YWRtaW4=",
		"Bearer abc.def.ghi",
		"Token t",
		`Digest username="bob", realm="x", nonce="1", uri="/", response="0123456789abcdef0123456789abcdef"`,
		`Digest username="a\\\"", response=`,
		"Negotiate YIIB",
		"Basic",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		c, ok := ClassifyAuthorization(header)
		if !ok {
			if c != nil {
				t.Fatal("credential returned with ok=false")
			}
			return
		}
		secret, err := c.Secret()
		if err != nil || len(secret) == 0 {
			t.Fatalf("credential with unusable secret: %+v (%v)", c, err)
		}
		if c.Kind() == SecretHTTPBearer && c.Principal != "" {
			t.Fatalf("bearer with principal %q", c.Principal)
		}
	})
}

// FuzzFormCredentials checks arbitrary urlencoded bodies.
func FuzzFormCredentials(f *testing.F) {
	for _, s := range []string{"username=bob&password=s3cret", "log=a&pwd=b", "%zz=1&password=%", "Password=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, _ := url.ParseQuery(body)
		c, ok := FormCredentials(v)
		if ok {
			if s, err := c.Secret(); err != nil || len(s) == 0 {
				t.Fatalf("unusable secret %+v", c)
			}
		}
	})
}

func TestDigestParams(t *testing.T) {
	p, ok := DigestParams(`Digest username="bob", realm="Restricted", nonce="abc=", uri="/x", algorithm=MD5, response="0123", qop=auth, nc=00000001, cnonce="cn"`)
	if !ok {
		t.Fatal("not recognised as Digest")
	}
	want := map[string]string{"username": "bob", "realm": "Restricted", "nonce": "abc=", "uri": "/x", "algorithm": "MD5",
		"response": "0123", "qop": "auth", "nc": "00000001", "cnonce": "cn"}
	for k, v := range want {
		if p[k] != v {
			t.Errorf("%s = %q, want %q", k, p[k], v)
		}
	}
	if _, ok := DigestParams("Basic Zm9vOmJhcg=="); ok {
		t.Error("Basic taken for Digest")
	}
}
