package api

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/decnet-go/decnet/internal/webhook"
)

func TestWebhookCRUD(t *testing.T) {
	var notified []string
	var mu sync.Mutex
	e := newEnv(t, func(c *Config) {
		c.Notify = func(subject string, _ any) { mu.Lock(); notified = append(notified, subject); mu.Unlock() }
	})
	e.addUser("admin", RoleAdmin, false)
	admin := e.login("admin", testPassword)
	viewer := e.viewerToken()

	create := func(body string) *httptest.ResponseRecorder { return e.do("POST", "/api/v1/webhooks", admin, body) }
	rec := create(`{"name":"siem","url":"https://siem.example.org/hook","simple_events":["DeckyStatus"],"topic_patterns":["canary.*.triggered"]}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var made webhookCreateResponse
	decode(t, rec, &made)
	if len(made.Secret) < minWebhookSecret || made.UUID == "" || !made.Enabled {
		t.Fatalf("create answer %+v: want a generated secret, an id, enabled", made)
	}
	if got := strings.Join(made.TopicPatterns, " "); got != "decky.*.state decky.*.traffic canary.*.triggered" {
		t.Errorf("patterns %q", got)
	}
	if len(made.SimpleEvents) != 1 || made.SimpleEvents[0] != "DeckyStatus" {
		t.Errorf("simple_events %v", made.SimpleEvents)
	}

	tests := []struct {
		name   string
		method string
		path   string
		token  string
		body   string
		status int
	}{
		{"viewer cannot list", "GET", "/api/v1/webhooks", viewer, "", http.StatusForbidden},
		{"viewer cannot create", "POST", "/api/v1/webhooks", viewer, `{"name":"x","url":"https://a.example/","topic_patterns":["a.>"]}`, http.StatusForbidden},
		{"duplicate name", "POST", "/api/v1/webhooks", admin, `{"name":"siem","url":"https://b.example/","topic_patterns":["a.>"]}`, http.StatusConflict},
		{"no patterns", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"https://b.example/"}`, http.StatusBadRequest},
		{"missing url", "POST", "/api/v1/webhooks", admin, `{"name":"n","topic_patterns":["a.>"]}`, http.StatusBadRequest},
		{"ftp url", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"ftp://b.example/","topic_patterns":["a.>"]}`, http.StatusUnprocessableEntity},
		{"loopback url", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"http://127.0.0.1:8000/","topic_patterns":["a.>"]}`, http.StatusUnprocessableEntity},
		{"metadata url", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"http://169.254.169.254/","topic_patterns":["a.>"]}`, http.StatusUnprocessableEntity},
		{"short secret", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"https://b.example/","secret":"short","topic_patterns":["a.>"]}`, http.StatusUnprocessableEntity},
		{"unknown preset", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"https://b.example/","simple_events":["Everything"]}`, http.StatusUnprocessableEntity},
		{"> not last", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"https://b.example/","topic_patterns":["a.>.b"]}`, http.StatusUnprocessableEntity},
		{"empty token", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"https://b.example/","topic_patterns":["a..b"]}`, http.StatusUnprocessableEntity},
		{"name too long", "POST", "/api/v1/webhooks", admin, `{"name":"` + strings.Repeat("n", 65) + `","url":"https://b.example/","topic_patterns":["a"]}`, http.StatusUnprocessableEntity},
		{"unknown field", "POST", "/api/v1/webhooks", admin, `{"name":"n","url":"https://b.example/","topic_patterns":["a"],"x":1}`, http.StatusBadRequest},
		{"get unknown", "GET", "/api/v1/webhooks/nope", admin, "", http.StatusNotFound},
		{"patch unknown", "PATCH", "/api/v1/webhooks/nope", admin, `{"enabled":false}`, http.StatusNotFound},
		{"patch away every pattern", "PATCH", "/api/v1/webhooks/" + made.UUID, admin, `{"simple_events":[],"topic_patterns":[]}`, http.StatusBadRequest},
		{"patch to a private url", "PATCH", "/api/v1/webhooks/" + made.UUID, admin, `{"url":"http://10.0.0.5/"}`, http.StatusUnprocessableEntity},
		{"delete unknown", "DELETE", "/api/v1/webhooks/nope", admin, "", http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if rec := e.do(tc.method, tc.path, tc.token, tc.body); rec.Code != tc.status {
				t.Fatalf("%s %s: %d %s; want %d", tc.method, tc.path, rec.Code, rec.Body, tc.status)
			}
		})
	}

	// Only the create answer shows the secret.
	for _, path := range []string{"/api/v1/webhooks", "/api/v1/webhooks/" + made.UUID} {
		rec := e.do("GET", path, admin, "")
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), made.Secret) || strings.Contains(rec.Body.String(), `"secret"`) {
			t.Errorf("GET %s leaks the secret or fails: %d %s", path, rec.Code, rec.Body)
		}
	}

	// Replacing the presets keeps the raw patterns; http:// is flagged.
	rec = e.do("PATCH", "/api/v1/webhooks/"+made.UUID, admin, `{"simple_events":["SystemStatus"],"url":"http://siem.example.org/h","enabled":false}`)
	var got webhookResponse
	decode(t, rec, &got)
	if rec.Code != http.StatusOK || strings.Join(got.TopicPatterns, " ") != "system.> canary.*.triggered" || got.Enabled ||
		len(got.Warnings) != 1 || got.Warnings[0] != "insecure_url" {
		t.Fatalf("patch: %d %+v", rec.Code, got)
	}
	if rec := e.do("DELETE", "/api/v1/webhooks/"+made.UUID, admin, ""); rec.Code != http.StatusOK {
		t.Fatalf("delete: %d %s", rec.Code, rec.Body)
	}
	if rec := e.do("GET", "/api/v1/webhooks/"+made.UUID, admin, ""); rec.Code != http.StatusNotFound {
		t.Fatalf("get after delete: %d", rec.Code)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notified) != 3 || notified[0] != webhooksChanged {
		t.Errorf("notifications %v; want three %s", notified, webhooksChanged)
	}
}

func TestWebhookCreateRateLimit(t *testing.T) {
	e := newEnv(t)
	e.addUser("admin", RoleAdmin, false)
	admin := e.login("admin", testPassword)
	for i := range webhookCreateLimit + 1 {
		rec := e.do("POST", "/api/v1/webhooks", admin, `{"name":"h`+strings.Repeat("x", i)+`","url":"https://a.example/","topic_patterns":["a.>"]}`)
		want := http.StatusCreated
		if i == webhookCreateLimit {
			want = http.StatusTooManyRequests
		}
		if rec.Code != want {
			t.Fatalf("creation %d: %d %s; want %d", i+1, rec.Code, rec.Body, want)
		}
	}
}

func TestWebhookTestDelivery(t *testing.T) {
	type got struct {
		body []byte
		sig  string
	}
	seen := make(chan got, 1)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen <- got{b, r.Header.Get(webhook.HeaderSignature)}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(recv.Close)

	for _, tc := range []struct {
		name         string
		allowPrivate bool
		delivered    bool
	}{{"private targets allowed", true, true}, {"private targets refused at dial time", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.WebhookAllowPrivate = tc.allowPrivate })
			e.addUser("admin", RoleAdmin, false)
			admin := e.login("admin", testPassword)
			// A public-looking name that resolves to loopback cannot be
			// checked at create time; the dialer refuses it instead.
			e.srv.hooks.allowPrivate = true
			rec := e.do("POST", "/api/v1/webhooks", admin, `{"name":"r","url":"`+recv.URL+`","secret":"0123456789abcdef0123","topic_patterns":["test.>"]}`)
			e.srv.hooks.allowPrivate = tc.allowPrivate
			var made webhookCreateResponse
			decode(t, rec, &made)
			rec = e.do("POST", "/api/v1/webhooks/"+made.UUID+"/test", admin, "")
			var res webhook.Result
			decode(t, rec, &res)
			if rec.Code != http.StatusOK || res.Delivered != tc.delivered {
				t.Fatalf("test: %d %s; want delivered=%v", rec.Code, rec.Body, tc.delivered)
			}
			if !tc.delivered {
				return
			}
			g := <-seen
			if g.sig != webhook.Sign("0123456789abcdef0123", g.body) {
				t.Errorf("signature %q does not sign the body", g.sig)
			}
			var m map[string]any
			if json.Unmarshal(g.body, &m) != nil || m["topic"] != "test.ping" {
				t.Errorf("body %s", g.body)
			}
		})
	}
}
