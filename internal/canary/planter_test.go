package canary

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/event"
)

func newPlanter() (*Planter, *fakeTokens, *fakeFiles, *fakeSink) {
	tokens, files, sink := newFakeTokens(), newFakeFiles(), &fakeSink{}
	now := time.Date(2026, 4, 2, 10, 11, 12, 345, time.UTC)
	return &Planter{Tokens: tokens, Files: files, Personas: runningPersonas("decky-01"), Sink: sink,
		HTTPBase: testBase, DNSZone: testZone, Log: quietLog, Now: func() time.Time { return now }}, tokens, files, sink
}

func TestPlant(t *testing.T) {
	for _, g := range Generators() {
		t.Run(g.Name, func(t *testing.T) {
			p, tokens, files, sink := newPlanter()
			tok, art, err := p.Plant(context.Background(), PlantRequest{Decky: "decky-01", Generator: g.Name})
			if err != nil {
				t.Fatal(err)
			}
			if tok.State != StatePlanted || tok.Kind != g.Kind || tok.Generator != g.Name || len(tok.Slug) != 20 || !validSlug(tok.Slug) ||
				tok.SecretSeed == "" || tok.FingerprintNonce == "" || tok.PlacementPath != g.DefaultPath(testPersona("decky-01")) {
				t.Fatalf("token %+v", tok)
			}
			if stored := tokens.Get(tok.UUID); stored.Slug != tok.Slug || stored.AccessKeyID != art.AccessKeyID {
				t.Fatalf("stored %+v", stored)
			}
			if (g.Kind == KindAWSPassive) != (tok.AccessKeyID != "") {
				t.Fatalf("access key id %q", tok.AccessKeyID)
			}
			f, ok := files.Get("decky-01", tok.PlacementPath)
			if !ok || !bytes.Equal(f.content, art.Content) || f.mode != art.Mode || !f.mtime.Equal(tok.CreatedAt.Add(-art.MtimeOffset)) {
				t.Fatalf("file %v %v %v", ok, f.mode, f.mtime)
			}
			ns := sink.Notices()
			if len(ns) != 1 || ns[0].Subject != "canary."+tok.UUID+".placed" || ns[0].Payload["generator"] != g.Name ||
				ns[0].Payload["placement_path"] != tok.PlacementPath || ns[0].Payload["kind"] != g.Kind {
				t.Fatalf("notices %+v", ns)
			}
			// After a restart the same bytes go back in, silently.
			if err := files.RemoveFile(context.Background(), "decky-01", tok.PlacementPath); err != nil {
				t.Fatal(err)
			}
			if err := p.Replant(context.Background(), tokens.Get(tok.UUID)); err != nil {
				t.Fatal(err)
			}
			f2, _ := files.Get("decky-01", tok.PlacementPath)
			if !bytes.Equal(f2.content, art.Content) || !f2.mtime.Equal(f.mtime) || len(sink.Notices()) != 1 {
				t.Fatal("replant differs")
			}
			prev, err := p.Preview(tok)
			if err != nil || !bytes.Equal(prev.Content, art.Content) {
				t.Fatalf("preview: %v", err)
			}
		})
	}
}

func TestPlantRejects(t *testing.T) {
	cases := []struct {
		name string
		req  PlantRequest
		zone string
		want error
	}{
		{"unknown generator", PlantRequest{Decky: "decky-01", Generator: "nope"}, testZone, ErrUnknownGenerator},
		{"relative", PlantRequest{Decky: "decky-01", Generator: "env_file", Path: "etc/x"}, testZone, ErrBadPath},
		{"dotdot", PlantRequest{Decky: "decky-01", Generator: "env_file", Path: "/var/../etc/x"}, testZone, ErrBadPath},
		{"unclean", PlantRequest{Decky: "decky-01", Generator: "env_file", Path: "/var//x"}, testZone, ErrBadPath},
		{"root", PlantRequest{Decky: "decky-01", Generator: "env_file", Path: "/"}, testZone, ErrBadPath},
		{"newline", PlantRequest{Decky: "decky-01", Generator: "env_file", Path: "/tmp/a\nb"}, testZone, ErrBadPath},
		{"long", PlantRequest{Decky: "decky-01", Generator: "env_file", Path: "/" + strings.Repeat("a", 512)}, testZone, ErrBadPath},
		{"stopped decky", PlantRequest{Decky: "decky-99", Generator: "env_file"}, testZone, ErrDeckyNotRunning},
		{"dns without zone", PlantRequest{Decky: "decky-01", Generator: "ssh_key"}, "", ErrNoDNSZone},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, tokens, _, sink := newPlanter()
			p.DNSZone = tc.zone
			_, _, err := p.Plant(context.Background(), tc.req)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err %v, want %v", err, tc.want)
			}
			if len(tokens.tokens) != 0 || len(sink.Notices()) != 0 {
				t.Fatal("a rejected plant left a token or notice")
			}
		})
	}
}

func TestPlantWriteFailureStoresFailedToken(t *testing.T) {
	p, tokens, files, sink := newPlanter()
	files.writeErr = errors.New("container gone")
	tok, _, err := p.Plant(context.Background(), PlantRequest{Decky: "decky-01", Generator: "env_file", Path: "/srv/app/.env"})
	if err == nil || !strings.Contains(err.Error(), "container gone") {
		t.Fatalf("err %v", err)
	}
	if got := tokens.Get(tok.UUID); got.State != StateFailed || got.LastError == "" || got.PlacementPath != "/srv/app/.env" {
		t.Fatalf("stored %+v", got)
	}
	if len(sink.Notices()) != 0 {
		t.Fatal("failed plant published")
	}
}

func TestRevokeAndPreviewFallback(t *testing.T) {
	p, tokens, files, sink := newPlanter()
	tok, _, err := p.Plant(context.Background(), PlantRequest{Decky: "decky-01", Generator: "honeydoc"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Revoke(context.Background(), tok, "operator"); err != nil {
		t.Fatal(err)
	}
	if _, ok := files.Get("decky-01", tok.PlacementPath); ok || tokens.Get(tok.UUID).State != StateRevoked {
		t.Fatal("not revoked")
	}
	ns := sink.Notices()
	if last := ns[len(ns)-1]; last.Subject != "canary."+tok.UUID+".revoked" || last.Payload["reason"] != "operator" {
		t.Fatalf("notice %+v", last)
	}
	// The decky stops: a preview still works, without its persona.
	p.Personas = runningPersonas()
	art, err := p.Preview(tok)
	if err != nil || !strings.Contains(string(art.Content), "/c/"+tok.Slug) || art.Path != tok.PlacementPath {
		t.Fatalf("preview: %v", err)
	}
	if err := p.Replant(context.Background(), tok); !errors.Is(err, ErrDeckyNotRunning) {
		t.Fatalf("replant on a stopped decky: %v", err)
	}
}

func TestScanEvent(t *testing.T) {
	p, tokens, _, _ := newPlanter()
	tok, art, err := p.Plant(context.Background(), PlantRequest{Decky: "decky-01", Generator: "aws_creds"})
	if err != nil {
		t.Fatal(err)
	}
	key := art.AccessKeyID
	cases := []struct {
		name string
		ev   event.Event
		want bool
	}{
		{"sigv4 header", event.Event{Decky: "decky-02", Service: "http", Type: "request", SrcIP: "203.0.113.4",
			Fields: map[string]any{"headers": map[string]any{"Authorization": "AWS4-HMAC-SHA256 Credential=" + key + "/20260401/us-east-1/s3/aws4_request, SignedHeaders=host"}, "path": "/bucket"}}, true},
		{"http.Header field", event.Event{Decky: "decky-02", Service: "http", Type: "request", SrcIP: "203.0.113.4",
			Fields: map[string]any{"headers": map[string][]string{"X-Amz-Security-Token": {"t"}, "Authorization": {"AWS " + key + ":sig"}}}}, true},
		{"credential principal", event.Event{Decky: "decky-02", Service: "ssh", Type: "auth", SrcIP: "203.0.113.4",
			Credential: event.NewCredential(key, "", []byte("x"), "failure")}, true},
		{"credential secret", event.Event{Decky: "decky-02", Service: "ftp", Type: "auth", SrcIP: "203.0.113.4",
			Credential: event.NewCredential("u", "", []byte("aws_access_key_id = "+key), "failure")}, true},
		{"uploaded config in a list", event.Event{Decky: "decky-02", Service: "smb", Type: "upload", SrcIP: "203.0.113.4",
			Fields: map[string]any{"lines": []any{"[default]", "aws_access_key_id=" + key}}}, true},
		{"unplanted key", event.Event{Decky: "decky-02", Service: "http", SrcIP: "203.0.113.4", Fields: map[string]any{"q": "AKIAIOSFODNN7EXAMPLE"}}, false},
		{"embedded in a longer word", event.Event{Decky: "decky-02", Service: "http", SrcIP: "203.0.113.4", Fields: map[string]any{"q": "X" + key}}, false},
		{"canary event", event.Event{Decky: "decky-01", Service: "canary", Type: TypeTriggered, SrcIP: "203.0.113.4", Fields: map[string]any{"q": key}}, false},
		{"revoked", event.Event{}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &Listener{Tokens: tokens, Sink: &fakeSink{}, Log: quietLog}
			if tc.name == "revoked" {
				_ = tokens.SetTokenState(context.Background(), tok.UUID, StateRevoked)
				tc.ev = event.Event{Service: "http", Fields: map[string]any{"q": key}}
				defer func() { _ = tokens.SetTokenState(context.Background(), tok.UUID, StatePlanted) }()
			}
			before := len(tokens.Triggers())
			if got := l.ScanEvent(context.Background(), tc.ev); got != tc.want {
				t.Fatalf("fired %v", got)
			}
			trs := tokens.Triggers()
			if !tc.want {
				if len(trs) != before {
					t.Fatal("recorded a trigger")
				}
				return
			}
			tr := trs[len(trs)-1]
			if tr.Via != "passive" || tr.SrcIP != "203.0.113.4" || tr.TokenUUID != tok.UUID || tr.RawHeaders["_source_decky"] != "decky-02" {
				t.Fatalf("trigger %+v", tr)
			}
			evs := l.Sink.(*fakeSink).Events()
			if len(evs) != 1 || evs[0].Decky != "decky-01" || evs[0].Fields["kind"] != KindAWSPassive || evs[0].Fields["via"] != "passive" {
				t.Fatalf("events %+v", evs)
			}
		})
	}
}

func TestFindKeyIDs(t *testing.T) {
	cases := []struct{ in, want string }{
		{"Credential=AKIAABCDEFGHIJKLMNOP/2026", "AKIAABCDEFGHIJKLMNOP"},
		{"ASIAABCDEFGHIJKLMNOP", "ASIAABCDEFGHIJKLMNOP"},
		{"AKIAABCDEFGHIJKLMNOPQ", ""}, // 21 characters: not a key id
		{"AKIAabcdefghijklmnop", ""},
		{"AKIAABCDEFGHIJKLMN01", ""}, // 0 and 1 are not in the alphabet
		{"x AKIA2222222222222222 y AKIA3333333333333333", "AKIA2222222222222222,AKIA3333333333333333"},
		{"AKIA", ""},
	}
	for _, tc := range cases {
		if got := strings.Join(findKeyIDs(tc.in), ","); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.in, got, tc.want)
		}
	}
}
