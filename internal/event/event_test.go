package event

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// validEvent is a login attempt that passes Validate; cases change one thing.
func validEvent() Event {
	return Event{
		ID:         "0196a0c4-5b7e-7c3a-9d2e-1f2a3b4c5d6e",
		Time:       time.Date(2026, 5, 2, 6, 22, 48, 89309123, time.UTC),
		Decky:      "decky-01",
		Service:    "ssh",
		Type:       TypeLoginAttempt,
		SrcIP:      "198.51.100.7",
		SrcPort:    40022,
		DstIP:      "10.0.0.5",
		DstPort:    22,
		Proto:      "tcp",
		Session:    "0196a0c4-5b7e-7c3a-9d2e-000000000001",
		Fields:     map[string]any{"client_version": "SSH-2.0-OpenSSH_8.9"},
		Credential: NewCredential("root", SecretPlaintext, []byte("toor"), OutcomeFailure),
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *Event)
		want   error // nil: valid
		inMsg  string
	}{
		{name: "ok", mutate: func(*Event) {}},
		{name: "ok minimal", mutate: func(e *Event) {
			e.SrcIP, e.SrcPort, e.DstIP, e.DstPort, e.Proto, e.Session = "", 0, "", 0, "", ""
			e.Fields, e.Credential = nil, nil
		}},
		{name: "ok ipv6 src", mutate: func(e *Event) { e.SrcIP = "2001:db8::1" }},
		{name: "ok port 65535", mutate: func(e *Event) { e.SrcPort = 65535 }},
		{name: "ok foreign emitter", mutate: func(e *Event) { e.Service = "auth-helper" }},
		{name: "empty id", mutate: func(e *Event) { e.ID = "" }, want: ErrNoID},
		{name: "zero time", mutate: func(e *Event) { e.Time = time.Time{} }, want: ErrNoTime},
		{name: "empty decky", mutate: func(e *Event) { e.Decky = "" }, want: ErrDecky},
		{name: "uppercase decky", mutate: func(e *Event) { e.Decky = "Decky-01" }, want: ErrDecky, inMsg: `"Decky-01"`},
		{name: "decky with dot", mutate: func(e *Event) { e.Decky = "decky.01" }, want: ErrDecky},
		{name: "decky too long", mutate: func(e *Event) { e.Decky = strings.Repeat("a", 64) }, want: ErrDecky},
		{name: "unknown service", mutate: func(e *Event) { e.Service = "gopher" }, want: ErrUnknownService, inMsg: `"gopher"`},
		{name: "empty type", mutate: func(e *Event) { e.Type = "" }, want: ErrType},
		{name: "bad type", mutate: func(e *Event) { e.Type = "Login Attempt" }, want: ErrType, inMsg: `"Login Attempt"`},
		{name: "type too long", mutate: func(e *Event) { e.Type = strings.Repeat("a", 33) }, want: ErrType},
		{name: "bad src_ip", mutate: func(e *Event) { e.SrcIP = "999.1.1.1" }, want: ErrIP, inMsg: `src_ip "999.1.1.1"`},
		{name: "src_ip with port", mutate: func(e *Event) { e.SrcIP = "1.2.3.4:80" }, want: ErrIP},
		{name: "bad dst_ip", mutate: func(e *Event) { e.DstIP = "localhost" }, want: ErrIP, inMsg: "dst_ip"},
		{name: "src port too big", mutate: func(e *Event) { e.SrcPort = 65536 }, want: ErrPort},
		{name: "negative dst port", mutate: func(e *Event) { e.DstPort = -1 }, want: ErrPort},
		{name: "credential bad base64", mutate: func(e *Event) { e.Credential.SecretB64 = "not base64!" }, want: ErrCredential},
		{name: "credential empty secret is valid", mutate: func(e *Event) { e.Credential.SecretB64 = "" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := validEvent()
			tc.mutate(&e)
			err := e.Validate()
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Validate() = %v, want errors.Is %v", err, tc.want)
			}
			if tc.inMsg != "" && !strings.Contains(err.Error(), tc.inMsg) {
				t.Errorf("Validate() = %q, want it to name %s", err, tc.inMsg)
			}
		})
	}
}

func TestValidDeckyName(t *testing.T) {
	for name, want := range map[string]bool{
		"decky-01": true, "a": true, "0": true, strings.Repeat("a", 63): true,
		"": false, "-a": false, "Decky": false, "a_b": false, "a.b": false, strings.Repeat("a", 64): false,
	} {
		if got := ValidDeckyName(name); got != want {
			t.Errorf("ValidDeckyName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestSubject(t *testing.T) {
	tests := []struct {
		name string
		e    Event
		want string
	}{
		{"login", Event{Decky: "decky-01", Service: "ssh", Type: TypeLoginAttempt}, "events.decky-01.ssh.login_attempt"},
		{"foreign emitter", Event{Decky: "srv-alpha-12", Service: "auth-helper", Type: "auth_attempt"}, "events.srv-alpha-12.auth-helper.auth_attempt"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.e.Subject()
			if got != tc.want {
				t.Errorf("Subject() = %q, want %q", got, tc.want)
			}
			if !strings.HasPrefix(got, SubjectPrefix) {
				t.Errorf("Subject() = %q does not start with SubjectPrefix %q", got, SubjectPrefix)
			}
			// Four NATS tokens: a subject token may not hold '.', '*', '>' or spaces.
			if n := len(strings.Split(got, ".")); n != 4 {
				t.Errorf("Subject() = %q has %d tokens, want 4", got, n)
			}
		})
	}
}

func TestNew(t *testing.T) {
	before := time.Now()
	e := New("decky-01", "ssh", TypeConnect)
	if err := e.Validate(); err != nil {
		t.Fatalf("New(...).Validate() = %v", err)
	}
	id, err := uuid.Parse(e.ID)
	if err != nil || id.Version() != 7 {
		t.Errorf("New id %q: version %v, err %v; want a UUIDv7", e.ID, id.Version(), err)
	}
	if e.Time.Location() != time.UTC || e.Time.Before(before.Add(-time.Second)) {
		t.Errorf("New time %v: want the current UTC time", e.Time)
	}
	if e2 := New("decky-01", "ssh", TypeConnect); e2.ID == e.ID {
		t.Errorf("two New events share the id %q", e.ID)
	}
}

func TestNewCredential(t *testing.T) {
	tests := []struct {
		name          string
		secret        []byte
		wantPrintable string
		wantB64       string
	}{
		{"ascii", []byte("toor"), "toor", "dG9vcg=="},
		{"space and tilde kept", []byte(" a~"), " a~", "IGF+"},
		{"control bytes", []byte("a\x00b\tc\x7f"), "a?b?c?", "YQBiCWN/"},
		{"utf-8 bytes each become ?", []byte("pä"), "p??", "cMOk"},
		{"binary", []byte{0xff, 0xfe, 0x41}, "??A", "//5B"},
		{"empty", []byte{}, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewCredential("root", SecretPlaintext, tc.secret, OutcomeObserved)
			if c.Principal != "root" || c.SecretKind != SecretPlaintext || c.Outcome != OutcomeObserved {
				t.Errorf("NewCredential = %+v: principal, kind or outcome lost", c)
			}
			if c.SecretPrintable != tc.wantPrintable {
				t.Errorf("SecretPrintable = %q, want %q", c.SecretPrintable, tc.wantPrintable)
			}
			if got := Printable(tc.secret); got != tc.wantPrintable {
				t.Errorf("Printable = %q, want %q", got, tc.wantPrintable)
			}
			if c.SecretB64 != tc.wantB64 {
				t.Errorf("SecretB64 = %q, want %q", c.SecretB64, tc.wantB64)
			}
			if len(tc.secret) == 0 {
				return
			}
			got, err := c.Secret()
			if err != nil || string(got) != string(tc.secret) {
				t.Errorf("Secret() = %q, %v; want the exact bytes %q", got, err, tc.secret)
			}
		})
	}
}

func TestCredentialSHA256(t *testing.T) {
	tests := []struct {
		name    string
		b64     string
		want    string
		wantErr bool
	}{
		// sha256("toor") and sha256("password"), as `printf %s … | sha256sum` gives them.
		{name: "toor", b64: "dG9vcg==", want: "ce5ca673d13b36118d54a7cf13aeb0ca012383bf771e713421b4d1fd841f539a"},
		{name: "password", b64: "cGFzc3dvcmQ=", want: "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"},
		{name: "bad base64", b64: "@@@", wantErr: true},
		{name: "empty", b64: "", want: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := &Credential{SecretB64: tc.b64}
			got, err := c.SHA256()
			if (err != nil) != tc.wantErr {
				t.Fatalf("SHA256() error = %v, wantErr %v", err, tc.wantErr)
			}
			if got != tc.want {
				t.Errorf("SHA256() = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCredentialKind(t *testing.T) {
	if got := (&Credential{}).Kind(); got != SecretPlaintext {
		t.Errorf("Kind() of an unset kind = %q, want %q", got, SecretPlaintext)
	}
	if got := (&Credential{SecretKind: "ntlmssp_v2"}).Kind(); got != "ntlmssp_v2" {
		t.Errorf("Kind() = %q, want ntlmssp_v2", got)
	}
}

func TestEventJSON(t *testing.T) {
	e := validEvent()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"id":`, `"ts":"2026-05-02T06:22:48.089309123Z"`, `"decky":"decky-01"`,
		`"src_ip":"198.51.100.7"`, `"credential":{"principal":"root","secret_kind":"plaintext"`} {
		if !strings.Contains(string(b), key) {
			t.Errorf("JSON %s lacks %s", b, key)
		}
	}
	var got Event
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, e) {
		t.Errorf("JSON round trip:\n got %+v\nwant %+v", got, e)
	}
	// Empty optional parts stay out of the document.
	b, _ = json.Marshal(Event{ID: "x", Decky: "d", Service: "ssh", Type: "connect"})
	for _, key := range []string{"src_ip", "src_port", "fields", "credential", "session"} {
		if strings.Contains(string(b), key) {
			t.Errorf("JSON %s holds the empty %s", b, key)
		}
	}
}

func BenchmarkEventJSON(b *testing.B) {
	e := validEvent()
	b.ReportAllocs()
	for b.Loop() {
		buf, err := json.Marshal(&e)
		if err != nil {
			b.Fatal(err)
		}
		var out Event
		if err := json.Unmarshal(buf, &out); err != nil {
			b.Fatal(err)
		}
	}
}
