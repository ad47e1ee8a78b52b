package api

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/decnet-go/decnet/internal/recording"
)

func TestTranscripts(t *testing.T) {
	data := t.TempDir()
	dir := filepath.Join(data, "deckies", "decky-01", "ssh", "transcripts")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cast := `{"version":2,"width":80,"height":24,"timestamp":1767323045}` + "\n" +
		`[0.1,"o","$ "]` + "\n" + `[0.5,"i","id\r"]` + "\n" + `[0.6,"o","uid=0(root)\r\n"]` + "\n"
	if err := os.WriteFile(filepath.Join(dir, "2026-01-02T03-04-05Z_0190-abcd.cast"), []byte(cast), 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.DataDir = data })
	e.addUser("root", RoleAdmin, false)
	admin := e.login("root", testPassword)
	viewer := e.viewerToken()

	for _, tc := range []struct {
		name, path, token string
		status            int
		want              string
	}{
		{"first page", "/api/v1/transcripts/decky-01/0190-abcd", admin, http.StatusOK,
			`"events":[[0.1,"o","$ "],[0.5,"i","id\r"],[0.6,"o","uid=0(root)\r\n"]],"offset":0,"total":3,"has_more":false`},
		{"paged", "/api/v1/transcripts/decky-01/0190-abcd?offset=1&limit=1", admin, http.StatusOK,
			`"events":[[0.5,"i","id\r"]],"offset":1,"total":3,"has_more":true`},
		{"limit too large", "/api/v1/transcripts/decky-01/0190-abcd?limit=5001", admin, http.StatusUnprocessableEntity, "limit"},
		{"bad decky", "/api/v1/transcripts/Decky..01/0190-abcd", admin, http.StatusBadRequest, "decky"},
		{"bad sid", "/api/v1/transcripts/decky-01/a%2Fb", admin, http.StatusBadRequest, "sid"},
		{"unknown sid", "/api/v1/transcripts/decky-01/0190-ffff", admin, http.StatusNotFound, "not found"},
		{"unknown decky", "/api/v1/transcripts/decky-02/0190-abcd", admin, http.StatusNotFound, "not found"},
		{"viewer refused", "/api/v1/transcripts/decky-01/0190-abcd", viewer, http.StatusForbidden, ""},
		{"anonymous refused", "/api/v1/transcripts/decky-01/0190-abcd", "", http.StatusUnauthorized, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do("GET", tc.path, tc.token, "")
			if rec.Code != tc.status {
				t.Fatalf("GET %s: %d %s, want %d", tc.path, rec.Code, rec.Body, tc.status)
			}
			body := rec.Body.String()
			if tc.status == http.StatusOK {
				var v map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil || v["header"] == nil {
					t.Fatalf("body %s: %v", body, err)
				}
				body = strings.ReplaceAll(body, `\u0026`, "&")
			}
			if !strings.Contains(strings.ToLower(body), strings.ToLower(tc.want)) {
				t.Errorf("body %s, want it to hold %s", body, tc.want)
			}
		})
	}
}

// TestTranscriptPageDocumented: the OpenAPI shape names the fields the
// route answers.
func TestTranscriptPageDocumented(t *testing.T) {
	keys := func(v any) []string {
		b, _ := json.Marshal(v)
		var m map[string]any
		json.Unmarshal(b, &m)
		var out []string
		for k := range m {
			out = append(out, k)
		}
		slices.Sort(out)
		return out
	}
	if got, want := keys(transcriptPage{}), keys(recording.Page{}); !slices.Equal(got, want) {
		t.Errorf("documented fields %v, answered %v", got, want)
	}
}
