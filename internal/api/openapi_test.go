package api

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes: every route routes() registers is in the served
// document, and every operation the document names is a registered route
// the mux really dispatches to.
func TestOpenAPICoversRoutes(t *testing.T) {
	e := newEnv(t)
	rec := e.do("GET", "/api/v1/openapi.json", "", "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/json" {
		t.Fatalf("openapi.json: %d %s", rec.Code, rec.Header().Get("Content-Type"))
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	decode(t, rec, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}

	documented := map[string]bool{}
	for path, ops := range doc.Paths {
		for method, op := range ops {
			pattern := strings.ToUpper(method) + " " + path
			documented[pattern] = true
			if !e.srv.patterns[pattern] {
				t.Errorf("documented but not registered: %s", pattern)
				continue
			}
			// The mux dispatches a concrete request of this operation to it.
			concrete := pathParam.ReplaceAllString(path, "p1")
			r := httptest.NewRequest(strings.ToUpper(method), concrete, nil)
			if _, got := e.srv.mux.Handler(r); got != pattern {
				t.Errorf("%s %s dispatches to %q, not %q", strings.ToUpper(method), concrete, got, pattern)
			}
			if op["summary"] == "" || op["responses"] == nil || op["operationId"] == "" {
				t.Errorf("%s: incomplete operation %v", pattern, op)
			}
		}
	}
	for _, pattern := range e.srv.routeList {
		if !documented[pattern] {
			t.Errorf("registered but not documented: %s", pattern)
		}
	}
	if len(documented) != len(e.srv.routeList) {
		t.Errorf("%d operations documented, %d routes registered", len(documented), len(e.srv.routeList))
	}

	// Every $ref resolves, and the schemas carry the wire names.
	body := rec.Body.String()
	for _, ref := range refPattern.FindAllStringSubmatch(body, -1) {
		if _, ok := doc.Components.Schemas[ref[1]]; !ok {
			t.Errorf("dangling $ref %s", ref[1])
		}
	}
	for _, want := range []string{`"must_change_password"`, `"access_token"`, `"deployment_limit"`, `"secret_sha256"`, `"service_activity"`} {
		if !strings.Contains(body, want) {
			t.Errorf("document lacks %s", want)
		}
	}
	var ids []string
	for _, ops := range doc.Paths {
		for _, op := range ops {
			ids = append(ids, op["operationId"].(string))
		}
	}
	slices.Sort(ids)
	if len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("duplicate operationIds: %v", ids)
	}
	// The document is valid JSON all the way (re-encode round trip).
	var anyDoc any
	if err := json.Unmarshal(rec.Body.Bytes(), &anyDoc); err != nil {
		t.Fatal(err)
	}
}

var refPattern = regexp.MustCompile(`"\$ref":"#/components/schemas/([A-Za-z0-9]+)"`)
