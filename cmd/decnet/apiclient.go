package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// apiClient drives a running `decnet up` through its API: deploy,
// teardown and status with --api go through the control plane, which keeps
// the store, the reconciler and the live operations in step.
type apiClient struct {
	base  string // http://host:port
	token string
	hc    *http.Client
}

// apiHelp is the help text of --api, shared by the commands that have it.
const apiHelp = "URL of a running `decnet up` to act through (env DECNET_API); " +
	"credentials from DECNET_API_TOKEN, or DECNET_API_USER (default admin) and DECNET_API_PASSWORD"

// newAPIClient logs in to the API at base.
func newAPIClient(ctx context.Context, base string) (*apiClient, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--api %q: give the API's URL, e.g. http://127.0.0.1:8080", base)
	}
	c := &apiClient{base: strings.TrimSuffix(u.Scheme+"://"+u.Host, "/"), hc: &http.Client{Timeout: 30 * time.Second}}
	if c.token = os.Getenv("DECNET_API_TOKEN"); c.token != "" {
		return c, nil
	}
	pw := os.Getenv("DECNET_API_PASSWORD")
	if pw == "" {
		return nil, errors.New("--api: set DECNET_API_TOKEN, or DECNET_API_PASSWORD (and DECNET_API_USER if not admin)")
	}
	user := os.Getenv("DECNET_API_USER")
	if user == "" {
		user = "admin"
	}
	var out struct {
		Token      string `json:"access_token"`
		MustChange bool   `json:"must_change_password"`
	}
	if err := c.do(ctx, "POST", "/api/v1/auth/login", map[string]string{"username": user, "password": pw}, &out); err != nil {
		return nil, fmt.Errorf("log in to %s as %s: %w", c.base, user, err)
	}
	if out.MustChange {
		return nil, fmt.Errorf("%s must change the password first (log in to the dashboard or POST /api/v1/auth/change-password)", user)
	}
	c.token = out.Token
	return c, nil
}

// do sends body as JSON and decodes a 2xx answer into out (nil: ignore);
// any other answer is an error with the API's detail.
func (c *apiClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Detail any `json:"detail"`
		}
		if json.Unmarshal(data, &e) == nil && e.Detail != nil {
			return fmt.Errorf("%s %s: %d %v", method, path, resp.StatusCode, e.Detail)
		}
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(data))
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

// deploy sends a fleet file (INI, or YAML by its extension) and follows
// the deploy's lifecycle rows until each has finished, one line per change.
func (c *apiClient) deploy(ctx context.Context, w io.Writer, name string, content []byte, replace bool) error {
	body := map[string]any{"ini_content": string(content), "replace_fleet": replace}
	if ext := strings.ToLower(filepath.Ext(name)); ext == ".yaml" || ext == ".yml" {
		body = map[string]any{"yaml_content": string(content), "replace_fleet": replace}
	}
	var resp struct {
		Message      string   `json:"message"`
		LifecycleIDs []string `json:"lifecycle_ids"`
	}
	if err := c.do(ctx, "POST", "/api/v1/deckies/deploy", body, &resp); err != nil {
		return err
	}
	fmt.Fprintf(w, "  › %s\n", resp.Message)
	q := url.Values{"ids": resp.LifecycleIDs}
	seen := map[string]string{}
	var failed []string
	for {
		var out struct{ Rows []store.Lifecycle }
		if err := c.do(ctx, "GET", "/api/v1/deckies/lifecycle?"+q.Encode(), nil, &out); err != nil {
			return err
		}
		done := 0
		for _, r := range out.Rows {
			if seen[r.ID] != r.Status {
				seen[r.ID] = r.Status
				line := fmt.Sprintf("  › %s: %s %s", r.DeckyName, r.Operation, r.Status)
				if r.Error != nil && *r.Error != "" {
					line += ": " + *r.Error
				}
				fmt.Fprintln(w, line)
			}
			if store.Terminal(r.Status) {
				done++
				if r.Status == store.LifecycleFailed {
					failed = append(failed, r.DeckyName)
				}
			}
		}
		if done == len(resp.LifecycleIDs) {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("deploy failed for %s", strings.Join(failed, ", "))
	}
	return nil
}

// deckies is GET /api/v1/deckies.
func (c *apiClient) deckies(ctx context.Context) ([]store.DeckyRow, error) {
	var rows []store.DeckyRow
	return rows, c.do(ctx, "GET", "/api/v1/deckies", nil, &rows)
}

// teardown deletes the named deckies, or every decky when names is nil.
func (c *apiClient) teardown(ctx context.Context, w io.Writer, names []string) error {
	if names == nil {
		rows, err := c.deckies(ctx)
		if err != nil {
			return err
		}
		for _, r := range rows {
			names = append(names, r.Name)
		}
	}
	for _, n := range names {
		if err := c.do(ctx, "DELETE", "/api/v1/deckies/"+url.PathEscape(n), nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(w, "removed %s\n", n)
	}
	return nil
}

func printDeckyRows(w io.Writer, rows []store.DeckyRow) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DECKY\tIP\tHOSTNAME\tSTATE\tSERVICES")
	for _, d := range rows {
		var svcs []string
		for _, s := range d.Services {
			svcs = append(svcs, s.Name+":"+s.Status)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, d.IP, d.Hostname, d.Status, strings.Join(svcs, " "))
	}
	tw.Flush()
}
