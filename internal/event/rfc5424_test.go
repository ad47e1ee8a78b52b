package event

import (
	"bufio"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// decnetLines reads testdata/decnet-lines.log: DECNET lines, each after a
// "# name: <case>" comment.
func decnetLines(t testing.TB) map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "decnet-lines.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := map[string]string{}
	name := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if n, ok := strings.CutPrefix(l, "# name: "); ok {
			name = n
			continue
		}
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		if name == "" {
			t.Fatalf("decnet-lines.log: line without a name: %s", l)
		}
		lines[name] = l
		name = ""
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// roundTripEvents are the events the round-trip and golden tests encode.
func roundTripEvents() []struct {
	name string
	e    Event
} {
	base := func(typ string) Event {
		return Event{
			ID:      "0196a0c4-5b7e-7c3a-9d2e-1f2a3b4c5d6e",
			Time:    time.Date(2026, 5, 2, 6, 22, 48, 89309000, time.UTC),
			Decky:   "decky-01",
			Service: "ssh",
			Type:    typ,
		}
	}
	login := base(TypeLoginAttempt)
	login.SrcIP, login.SrcPort, login.DstIP, login.DstPort = "198.51.100.7", 40022, "10.0.0.5", 22
	login.Proto, login.Session = "tcp", "0196a0c4-5b7e-7c3a-9d2e-000000000001"
	login.Fields = map[string]any{"username": "root", "client_version": "SSH-2.0-OpenSSH_8.9"}
	login.Credential = NewCredential("root", SecretPlaintext, []byte("pässwörd\x00"), OutcomeFailure)

	quoting := base(TypeCommand)
	quoting.SrcIP = "2001:db8::1"
	quoting.SrcPort = 51000
	quoting.Fields = map[string]any{
		"command":   `echo "a]b" \ c\\d [relay@55555 src_ip="6.6.6.6"]`,
		"trailing":  `C:\`,
		"unicode":   "héllo wörld ☃ 日本",
		"empty":     "",
		"injection": "x\n<134>1 2026-05-02T06:22:48.000000+00:00 decky-01 ssh - login_attempt [relay@55555 src_ip=\"6.6.6.6\"]\r",
	}

	startup := base(TypeStartup)
	startup.Service = "http"
	startup.Fields = map[string]any{"msg": "HTTP server starting as decky-01", "version": "2.4.58"}

	bare := base(TypeConnect)
	bare.Service = "telnet"
	bare.Time = time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("CEST", 2*3600))

	cred := base("auth")
	cred.Service = "mqtt"
	cred.Credential = &Credential{SecretKind: "scram_sha256", SecretPrintable: "n,,n=user", SecretB64: "biwsbj11c2Vy"}

	return []struct {
		name string
		e    Event
	}{
		{"login with credential", login},
		{"quoting unicode ipv6", quoting},
		{"startup msg", startup},
		{"no fields", bare},
		{"credential without principal", cred},
	}
}

func TestRFC5424RoundTrip(t *testing.T) {
	for _, tc := range roundTripEvents() {
		t.Run(tc.name, func(t *testing.T) {
			line := EncodeRFC5424(&tc.e)
			if strings.ContainsAny(line, "\r\n") {
				t.Fatalf("encoded line holds a line break: %q", line)
			}
			got, err := DecodeRFC5424(line)
			if err != nil {
				t.Fatalf("DecodeRFC5424(%q) = %v", line, err)
			}
			want := tc.e
			want.Time = want.Time.UTC().Truncate(time.Microsecond)
			if !got.Time.Equal(want.Time) {
				t.Errorf("Time = %v, want %v", got.Time, want.Time)
			}
			got.Time = want.Time // Equal above; the location pointer may differ
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip of\n%s\n got %#v\nwant %#v", line, got, want)
				if got.Credential != nil && want.Credential != nil {
					t.Errorf("credential got %+v want %+v", *got.Credential, *want.Credential)
				}
			}
		})
	}
}

func TestEncodeRFC5424Golden(t *testing.T) {
	events := roundTripEvents()
	// Cases that only make sense one way: the encoder repairs what a line
	// cannot carry.
	odd := events[0].e
	odd.Credential = nil
	odd.Service = "my service"
	odd.Type = "a_type_that_is_far_too_long_for_a_msgid"
	odd.Fields = map[string]any{
		"key with spaces":                     "v",
		"a_name_longer_than_thirty_two_bytes": "v",
		"int":                                 42,
		"float":                               42.118,
		"bool":                                true,
		"list":                                []string{"ssh", "smb"},
		"nil":                                 nil,
		"src_ip":                              "6.6.6.6", // envelope keys in fields are dropped
		"msg":                                 "two\nlines",
	}
	events = append(events, struct {
		name string
		e    Event
	}{"repaired", odd})

	var b strings.Builder
	for _, tc := range events {
		b.WriteString("# " + tc.name + "\n")
		b.WriteString(EncodeRFC5424(&tc.e) + "\n")
	}
	path := filepath.Join("testdata", "encode.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if got := b.String(); got != string(want) {
		t.Errorf("encoded lines differ from %s (run go test -update and review the diff):\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestDecodeDECNETLines(t *testing.T) {
	lines := decnetLines(t)
	plaintext := func(principal, printable, b64 string) *Credential {
		return &Credential{Principal: principal, SecretKind: SecretPlaintext, SecretPrintable: printable, SecretB64: b64}
	}
	tests := []struct {
		name      string
		decky     string
		service   string
		typ       string
		time      string // RFC 3339, empty: not checked
		srcIP     string
		srcPort   int
		fields    map[string]any
		cred      *Credential
		wantValid bool
	}{
		{
			name: "ftp-auth-no-src", decky: "decky-01", service: "ftp", typ: "auth_attempt",
			time:   "2026-05-02T06:22:48.089309Z",
			fields: map[string]any{"username": "root"},
			cred:   plaintext("root", "toor", "dG9vcg=="), wantValid: true,
		},
		{
			name: "smtp-auth-src", decky: "decky-02", service: "smtp", typ: "auth_attempt",
			srcIP:  "203.0.113.9",
			fields: map[string]any{"username": "admin"},
			cred:   plaintext("admin", "P@ss", "UEBzcw=="), wantValid: true,
		},
		{
			name: "dns-query", decky: "decky-03", service: "dns", typ: "query",
			srcIP: "203.0.113.9", srcPort: 53211,
			fields: map[string]any{"transport": "udp", "qname": "www.apex-corp.local", "qtype": "A",
				"qclass": "IN", "edns_size": "1232", "recursion_desired": "True"},
			wantValid: true,
		},
		{
			name: "http-startup-msg", decky: "decky-03", service: "http", typ: "startup",
			time:      "2026-05-02T06:24:10.12Z",
			fields:    map[string]any{"msg": "HTTP server starting as decky-03"},
			wantValid: true,
		},
		{
			name: "auth-helper", decky: "srv-alpha-12", service: "auth-helper", typ: "auth_attempt",
			srcIP:  "198.51.100.7",
			fields: map[string]any{"username": "ubuntu"},
			cred:   plaintext("ubuntu", "123456", "MTIzNDU2"), wantValid: true,
		},
		{
			name: "sessrec", decky: "decky-01", service: "sessrec", typ: "session_recorded",
			srcIP: "198.51.100.7",
			fields: map[string]any{"sid": "9f1c…", "service": "ssh", "duration_s": "42.118",
				"bytes": "18234", "truncated": "false"},
			wantValid: true,
		},
		{
			name: "ssh-file-captured", decky: "decky-01", service: "ssh", typ: "file_captured",
			srcIP: "198.51.100.7", srcPort: 40022,
			fields: map[string]any{"stored_as": "2026-05-02T06:31:00Z_ab12cd34ef56_x.sh", "sha256": "ab12…",
				"size": "512", "orig_path": "/tmp/x.sh", "ssh_user": "root", "ssh_pid": "311",
				"attribution": "pid-chain", "writer_pid": "402", "writer_comm": "wget", "writer_uid": "0",
				"mtime": "…", "meta_json_b64": "eyJj…"},
			wantValid: true,
		},
		{
			// The inner (logger) header wins over rsyslog's outer one.
			name: "bash-double-wrapped", decky: "srv-delta-77", service: "bash", typ: "command",
			time:      "2026-05-02T06:22:48.089286Z",
			srcIP:     "192.168.1.5",
			fields:    map[string]any{"uid": "0", "user": "root", "pwd": "/root", "command": "ls /var/www/html"},
			wantValid: true,
		},
		{
			name: "http-remote-addr", decky: "decky-04", service: "http", typ: "request",
			srcIP: "1.2.3.4", srcPort: 5555,
			fields:    map[string]any{"method": "GET", "path": "/wp-login.php"},
			wantValid: true,
		},
		{
			// Native daemon lines decode, but "sshd" is no service: the
			// collector drops them by APP-NAME, and Validate refuses them.
			name: "sshd-native", decky: "decky-01", service: "sshd", typ: "log",
			fields: map[string]any{"msg": "Accepted password for root from 198.51.100.7 port 40022 ssh2"},
		},
		{
			name: "mutator", decky: "decky-01", service: "mutator", typ: "decky_mutated",
			fields:    map[string]any{"old_services": "['ssh', 'http']", "new_services": "['ssh', 'smb']"},
			wantValid: true,
		},
		{
			name: "escaped-values", decky: "decky-01", service: "http", typ: "request",
			srcIP:     "198.51.100.7",
			fields:    map[string]any{"path": `/a"b\c]d`, "user_agent": `curl/8.0 \x`},
			wantValid: true,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, ok := lines[tc.name]
			if !ok {
				t.Fatalf("no line %q in testdata/decnet-lines.log", tc.name)
			}
			e, err := DecodeRFC5424(line)
			if err != nil {
				t.Fatalf("DecodeRFC5424 = %v", err)
			}
			if e.Decky != tc.decky || e.Service != tc.service || e.Type != tc.typ {
				t.Errorf("decky/service/type = %q/%q/%q, want %q/%q/%q", e.Decky, e.Service, e.Type, tc.decky, tc.service, tc.typ)
			}
			if tc.time != "" {
				want, err := time.Parse(time.RFC3339Nano, tc.time)
				if err != nil {
					t.Fatal(err)
				}
				if !e.Time.Equal(want) || e.Time.Location() != time.UTC {
					t.Errorf("Time = %v, want %v in UTC", e.Time, want)
				}
			}
			if e.SrcIP != tc.srcIP || e.SrcPort != tc.srcPort {
				t.Errorf("src = %q port %d, want %q port %d", e.SrcIP, e.SrcPort, tc.srcIP, tc.srcPort)
			}
			if !reflect.DeepEqual(e.Fields, tc.fields) {
				t.Errorf("Fields =\n%#v\nwant\n%#v", e.Fields, tc.fields)
			}
			if !reflect.DeepEqual(e.Credential, tc.cred) {
				t.Errorf("Credential = %+v, want %+v", e.Credential, tc.cred)
			}
			if id, err := uuid.Parse(e.ID); err != nil || id.Version() != 5 {
				t.Errorf("ID = %q: want a UUIDv5 of the line (err %v)", e.ID, err)
			}
			if err := e.Validate(); (err == nil) != tc.wantValid {
				t.Errorf("Validate() = %v, want valid=%v", err, tc.wantValid)
			}
		})
	}
}

func TestDecodeRFC5424ID(t *testing.T) {
	lines := decnetLines(t)
	a, b := lines["ftp-auth-no-src"], lines["smtp-auth-src"]
	decode := func(l string) Event {
		t.Helper()
		e, err := DecodeRFC5424(l)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	if x, y := decode(a), decode(a); x.ID != y.ID {
		t.Errorf("the same line got ids %q and %q", x.ID, y.ID)
	}
	if x, y := decode(a+"\n"), decode(a); x.ID != y.ID {
		t.Errorf("a trailing newline changed the id: %q vs %q", x.ID, y.ID)
	}
	if x, y := decode(a), decode(b); x.ID == y.ID {
		t.Errorf("two lines share the id %q", x.ID)
	}
	withID := strings.Replace(a, "[relay@55555 ", `[relay@55555 event_id="0196a0c4-5b7e-7c3a-9d2e-1f2a3b4c5d6e" `, 1)
	if e := decode(withID); e.ID != "0196a0c4-5b7e-7c3a-9d2e-1f2a3b4c5d6e" {
		t.Errorf("event_id param ignored: ID = %q", e.ID)
	}
}

func TestDecodeRFC5424Quirks(t *testing.T) {
	const ts = "2026-05-02T06:22:48.089309+00:00"
	tests := []struct {
		name    string
		line    string
		check   func(t *testing.T, e Event)
		comment string
	}{
		{
			name: "pwd cannot override the hook's src or set envelope keys",
			line: "<14>1 " + ts + " decky-01 bash - - - CMD uid=0 user=root src=192.168.1.5 pwd=/tmp/x src=6.6.6.6 event_id=evil src_ip=7.7.7.7 uid=1 cmd=id",
			check: func(t *testing.T, e Event) {
				if e.SrcIP != "192.168.1.5" || e.ID == "evil" || e.Fields["uid"] != "0" || e.Fields["command"] != "id" {
					t.Errorf("got src %q id %q fields %v", e.SrcIP, e.ID, e.Fields)
				}
				if _, ok := e.Fields["src_ip"]; ok {
					t.Errorf("envelope key src_ip kept as a field: %v", e.Fields)
				}
			},
		},
		{
			name: "invalid ip:port gives no port",
			line: "<134>1 " + ts + ` decky-01 http - request [relay@55555 src="nohost:80" ip="10.1.2.3"]`,
			check: func(t *testing.T, e Event) {
				if e.SrcIP != "10.1.2.3" || e.SrcPort != 0 {
					t.Errorf("src %q port %d, want 10.1.2.3 port 0", e.SrcIP, e.SrcPort)
				}
				if e.Fields["src"] != "nohost:80" {
					t.Errorf("unusable src lost: %v", e.Fields)
				}
			},
		},
		{
			name: "ports outside 1-65535 are no ports",
			line: "<134>1 " + ts + ` decky-01 http - request [relay@55555 src_ip="10.1.2.3" src_port="0" remote_port="5" dst_port="70000"]`,
			check: func(t *testing.T, e Event) {
				if e.SrcPort != 5 || e.DstPort != 0 {
					t.Errorf("src port %d dst port %d, want 5 (from remote_port) and 0", e.SrcPort, e.DstPort)
				}
			},
		},
		{
			name: "ipv6 remote_addr",
			line: "<134>1 " + ts + ` decky-01 http - request [relay@55555 remote_addr="[2001:db8::2]:443"]`,
			check: func(t *testing.T, e Event) {
				if e.SrcIP != "2001:db8::2" || e.SrcPort != 443 || e.Fields != nil {
					t.Errorf("src %q port %d fields %v", e.SrcIP, e.SrcPort, e.Fields)
				}
			},
		},
		{
			name: "other SD elements are skipped, MSG kept",
			line: "<134>1 " + ts + ` decky-01 ssh - x [meta a="1"][relay@55555 b="2"][other c="]"] hello`,
			check: func(t *testing.T, e Event) {
				want := map[string]any{"b": "2", "msg": "hello"}
				if !reflect.DeepEqual(e.Fields, want) {
					t.Errorf("fields %v, want %v", e.Fields, want)
				}
			},
		},
		{
			name: "nil timestamp is now",
			line: `<134>1 - decky-01 ssh - connect -`,
			check: func(t *testing.T, e Event) {
				if time.Since(e.Time) > time.Minute || e.Type != "connect" {
					t.Errorf("time %v type %q", e.Time, e.Type)
				}
			},
		},
		{
			name: "missing msgid is log",
			line: "<134>1 " + ts + ` decky-01 ssh - - [relay@55555 a="b"]`,
			check: func(t *testing.T, e Event) {
				if e.Type != "log" {
					t.Errorf("type %q, want log", e.Type)
				}
			},
		},
		{
			name: "crlf and BOM",
			line: "<134>1 " + ts + " decky-01 ssh - x - \ufeffhi\rthere\r\n",
			check: func(t *testing.T, e Event) {
				if e.Fields["msg"] != "hi there" {
					t.Errorf("msg %q, want the MSG on one line without its BOM", e.Fields["msg"])
				}
			},
		},
		{
			name: "msg SD param when there is no MSG",
			line: "<134>1 " + ts + ` decky-01 http - startup [relay@55555 msg="up"]`,
			check: func(t *testing.T, e Event) {
				if !reflect.DeepEqual(e.Fields, map[string]any{"msg": "up"}) {
					t.Errorf("fields %v", e.Fields)
				}
			},
		},
		{
			name: "MSG wins over a msg SD param",
			line: "<134>1 " + ts + ` decky-01 http - startup [relay@55555 msg="param"] part`,
			check: func(t *testing.T, e Event) {
				if !reflect.DeepEqual(e.Fields, map[string]any{"msg": "part"}) {
					t.Errorf("fields %v", e.Fields)
				}
			},
		},
		{
			name: "empty msg is none",
			line: "<134>1 " + ts + ` decky-01 http - startup [relay@55555 msg=""]`,
			check: func(t *testing.T, e Event) {
				if e.Fields != nil {
					t.Errorf("fields %v, want none", e.Fields)
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := DecodeRFC5424(tc.line)
			if err != nil {
				t.Fatalf("DecodeRFC5424 = %v", err)
			}
			tc.check(t, e)
		})
	}
}

func TestDecodeRFC5424Errors(t *testing.T) {
	const ts = "2026-05-02T06:22:48.089309+00:00"
	tests := []struct {
		name string
		line string
		want string // in the error text
	}{
		{"empty", "", "no priority"},
		{"no PRI", "134>1 " + ts + " decky-01 ssh - x -", "no priority"},
		{"PRI not a number", "<abc>1 " + ts + " decky-01 ssh - x -", "bad priority"},
		{"PRI too big", "<192>1 " + ts + " decky-01 ssh - x -", "bad priority"},
		{"PRI unterminated", "<134", "bad priority"},
		{"bad version", "<134>2 " + ts + " decky-01 ssh - x -", "not version 1"},
		{"BSD syslog", "<134>May  2 06:22:48 decky-01 sshd[311]: hi", "not version 1"},
		{"short header", "<134>1 " + ts + " decky-01 ftp", "short header"},
		{"double space in header", "<134>1 " + ts + " decky-01  ftp - x -", "short header"},
		{"no SD", "<134>1 " + ts + " decky-01 ftp - x ", "no structured data"},
		{"empty SD", "<134>1 " + ts + " decky-01 ftp - x  msg", "no structured data"},
		{"SD is a word", "<134>1 " + ts + " decky-01 ftp - x hello world", "no structured data"},
		{"unterminated SD element", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555 a="b"`, "unterminated SD element"},
		{"unterminated SD id", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555`, "unterminated SD element"},
		{"unterminated SD value", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555 a="b]`, "unterminated SD value"},
		{"escaped closing quote", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555 a="b\"]`, "unterminated SD value"},
		{"unquoted SD value", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555 a=b]`, "bad SD param"},
		{"SD param name with space", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555 a b="c"]`, "bad SD param name"},
		{"SD param name too long", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555 ` + strings.Repeat("k", 33) + `="c"]`, "bad SD param name"},
		{"junk after SD", "<134>1 " + ts + ` decky-01 ftp - x [relay@55555 a="b"]junk`, "junk after structured data"},
		{"junk after nil SD", "<134>1 " + ts + ` decky-01 ftp - x -junk`, "junk after structured data"},
		{"bad timestamp", "<134>1 2026-13-02T06:22:48+00:00 decky-01 ftp - x -", "bad timestamp"},
		{"timestamp without zone", "<134>1 2026-05-02T06:22:48.089309 decky-01 ftp - x -", "bad timestamp"},
		{"timestamp past year 9999 in UTC", "<134>1 9999-12-31T23:00:00-05:00 decky-01 ftp - x -", "bad timestamp"},
		{"non-ASCII hostname", "<134>1 " + ts + " décky ftp - x -", "bad hostname"},
		{"hostname too long", "<134>1 " + ts + " " + strings.Repeat("h", 256) + " ftp - x -", "bad hostname"},
		{"app-name too long", "<134>1 " + ts + " decky-01 " + strings.Repeat("a", 49) + " - x -", "bad app-name"},
		{"msgid too long", "<134>1 " + ts + " decky-01 ftp - " + strings.Repeat("m", 33) + " -", "bad msgid"},
		{"over-long line", "<134>1 " + ts + " decky-01 ftp - x - " + strings.Repeat("A", MaxLineLen), "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := DecodeRFC5424(tc.line)
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("DecodeRFC5424 = %+v, %v; want ErrSyntax", e, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
		})
	}
}

func FuzzDecodeRFC5424(f *testing.F) {
	for _, l := range decnetLines(f) {
		f.Add(l)
	}
	for _, tc := range roundTripEvents() {
		f.Add(EncodeRFC5424(&tc.e))
	}
	f.Fuzz(func(t *testing.T, line string) {
		e1, err := DecodeRFC5424(line)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v is not ErrSyntax", err)
			}
			return
		}
		l2 := EncodeRFC5424(&e1)
		if strings.ContainsAny(l2, "\r\n") {
			t.Fatalf("re-encoded line holds a line break: %q", l2)
		}
		if len(l2) > MaxLineLen {
			return // escaping can push a line near the limit past it
		}
		e2, err := DecodeRFC5424(l2)
		if err != nil {
			t.Fatalf("re-encoded line does not decode: %v\n%q\nfrom %q", err, l2, line)
		}
		if e1.Decky != e2.Decky || e1.Service != e2.Service || e1.Type != e2.Type || e1.ID != e2.ID ||
			e1.SrcIP != e2.SrcIP || e1.SrcPort != e2.SrcPort {
			t.Errorf("envelope changed:\n%+v\n%+v\nline %q\nre-encoded %q", e1, e2, line, l2)
		}
		if !e1.Time.Truncate(time.Microsecond).Equal(e2.Time) {
			t.Errorf("time changed: %v → %v", e1.Time, e2.Time)
		}
		if !reflect.DeepEqual(e1.Credential, e2.Credential) {
			t.Errorf("credential changed: %+v → %+v\nline %q", e1.Credential, e2.Credential, line)
		}
		// The decoder reads a msg in the form the encoder writes it (see
		// canonicalMsg), so even msg, the one lossy field, must be stable.
		if !reflect.DeepEqual(e1.Fields, e2.Fields) {
			t.Errorf("fields changed:\n%#v\n%#v\nline %q\nre-encoded %q", e1.Fields, e2.Fields, line, l2)
		}
	})
}

func BenchmarkEncodeRFC5424(b *testing.B) {
	e := validEvent()
	b.ReportAllocs()
	for b.Loop() {
		_ = EncodeRFC5424(&e)
	}
}

func BenchmarkDecodeRFC5424(b *testing.B) {
	e := validEvent()
	line := EncodeRFC5424(&e)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeRFC5424(line); err != nil {
			b.Fatal(err)
		}
	}
}
