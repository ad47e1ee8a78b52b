package api

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestHealth(t *testing.T) {
	ok := func(context.Context) error { return nil }
	down := func(context.Context) error { return errors.New("connection refused") }
	tests := []struct {
		name       string
		checks     map[string]func(context.Context) error
		token      bool
		status     int
		wantStatus string
		failing    []string
	}{
		{"liveness without token", map[string]func(context.Context) error{"bus": down}, false, 200, "ok", nil},
		{"all healthy", map[string]func(context.Context) error{"bus": ok, "ingest": ok}, true, 200, "healthy", nil},
		{"bus down", map[string]func(context.Context) error{"bus": down, "ingest": ok}, true, 503, "unhealthy", []string{"bus"}},
		{"database down", map[string]func(context.Context) error{"database": down}, true, 503, "unhealthy", []string{"database"}},
		{"non-critical down", map[string]func(context.Context) error{"bus": ok, "sniffer": down}, true, 200, "degraded", []string{"sniffer"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.Checks = tc.checks })
			tok := ""
			if tc.token {
				tok = e.viewerToken()
			}
			rec := e.do("GET", "/api/v1/health", tok, "")
			if rec.Code != tc.status {
				t.Fatalf("%d %s, want %d", rec.Code, rec.Body, tc.status)
			}
			if !tc.token {
				if strings.TrimSpace(rec.Body.String()) != `{"status":"ok"}` {
					t.Errorf("liveness body %s, want only the status", rec.Body)
				}
				return
			}
			var rep healthReport
			decode(t, rec, &rep)
			if rep.Status != tc.wantStatus || rep.Version != "test" {
				t.Errorf("status %q version %q, want %q", rep.Status, rep.Version, tc.wantStatus)
			}
			if _, ok := rep.Components["database"]; !ok {
				t.Errorf("no database component: %+v", rep.Components)
			}
			for name, c := range rep.Components {
				failing := c.Status == "failing"
				want := false
				for _, f := range tc.failing {
					want = want || f == name
				}
				if failing != want || (failing && c.Detail != "connection refused") {
					t.Errorf("component %s = %+v", name, c)
				}
			}
		})
	}

	t.Run("bad token", func(t *testing.T) {
		e := newEnv(t)
		if rec := e.do("GET", "/api/v1/health", "forged", ""); rec.Code != http.StatusUnauthorized {
			t.Fatalf("%d, want 401", rec.Code)
		}
	})
}
