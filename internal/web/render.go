package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/decnet-go/decnet/internal/store"
)

// pages holds one template set per page: the layout, the shared partials
// and that page's file.
type pages struct {
	sets map[string]*template.Template
}

// sharedFiles are parsed into every page's set.
var sharedFiles = []string{"templates/layout.html", "templates/partials.html"}

func parsePages() (*pages, error) {
	base, err := template.New("").Funcs(funcs).ParseFS(templateFS, sharedFiles...)
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := &pages{sets: map[string]*template.Template{}}
	for _, f := range files {
		if f == sharedFiles[0] || f == sharedFiles[1] {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", f, err)
		}
		p.sets[strings.TrimSuffix(path.Base(f), ".html")] = t
	}
	return p, nil
}

// view is what every page template gets: the shell's data and the page's.
type view struct {
	Title   string
	Page    string // template name, marks the active nav entry
	User    string
	Role    string
	Admin   bool
	CSRF    string
	Version string
	Data    any
}

// renderPage writes page name for a signed-in operator. An htmx request
// aimed at #results gets only that fragment.
func (d *Dashboard) renderPage(w http.ResponseWriter, r *http.Request, s *session, status int, name, title string, data any) error {
	v := view{Title: title, Page: name, Version: d.version, Data: data}
	if s != nil {
		v.User, v.Role, v.Admin, v.CSRF = s.user.Username, s.user.Role, s.isAdmin(), s.csrf
	}
	tmpl := "layout"
	if r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Target") == "results" && d.pages.sets[name].Lookup("results") != nil {
		tmpl = "results"
		w.Header().Set("Vary", "HX-Request")
	}
	return d.execute(w, status, name, tmpl, v)
}

// render writes a page outside the shell (the login page).
func (d *Dashboard) render(w http.ResponseWriter, status int, name string, data any) {
	if err := d.execute(w, status, name, name, data); err != nil {
		d.log.Error("web: render", "page", name, "err", err)
	}
}

// execute renders into a buffer first, so a template error becomes a clean
// 500 rather than half a page.
func (d *Dashboard) execute(w http.ResponseWriter, status int, set, tmpl string, data any) error {
	t, ok := d.pages.sets[set]
	if !ok {
		return fmt.Errorf("web: no page %q", set)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, tmpl, data); err != nil {
		return fmt.Errorf("web: render %s/%s: %w", set, tmpl, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// errorView is the data of the error page.
type errorView struct {
	Status  int
	Heading string
	Message string
}

func (d *Dashboard) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, heading, msg string) {
	if err := d.renderPage(w, r, s, status, "error", heading, errorView{status, heading, msg}); err != nil {
		d.log.Error("web: render error page", "err", err)
		http.Error(w, heading, status)
	}
}

// funcs are the helpers templates may call.
var funcs = template.FuncMap{
	"num":      num,
	"ago":      ago,
	"stamp":    stamp,
	"shortTS":  func(t time.Time) string { return t.UTC().Format("15:04:05") },
	"join":     strings.Join,
	"pretty":   prettyJSON,
	"summary":  summary,
	"truncate": truncate,
	"query":    query,
	"add":      func(a, b int) int { return a + b },
	"bytes":    byteSize,
	"deref":    func(b *bool) bool { return b != nil && *b },
	"pct": func(n, total int) int {
		if total <= 0 {
			return 0
		}
		return n * 100 / total
	},
}

// num formats n with thin thousands separators: 12 345.
func num(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// stamp is a timestamp as operators read it in logs: UTC, to the second.
func stamp(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago is how long before now t was, coarsely: "42s", "5m", "3h", "2d".
// now is passed in (not read from the clock) so pages render the same in
// tests.
func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", max(0, int(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh ago", int(d.Hours()))
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

// prettyJSON indents a JSON document for the event inspector.
func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}

// byteSize is a file size for people: 812 B, 4.2 KiB, 1.5 MiB.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 3; m /= unit {
		div *= unit
		exp++
	}
	return strconv.FormatFloat(float64(n)/float64(div), 'f', 1, 64) + " " + string("KMGT"[exp]) + "iB"
}

// truncate cuts s to n runes with an ellipsis.
func truncate(n int, s string) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// query returns "?" + v with the pairs kv set (empty values removed), for
// links that change one parameter of the current list.
func query(v url.Values, kv ...any) template.URL {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Set(fmt.Sprint(kv[i]), fmt.Sprint(kv[i+1]))
	}
	for k, vs := range c {
		if len(vs) == 0 || vs[0] == "" {
			delete(c, k)
		}
	}
	return template.URL("?" + c.Encode())
}

// summary is an event's fields in one line, "key=value" in key order, for
// tables; the inspector shows them in full.
func summary(e store.EventRow) string {
	var m map[string]any
	json.Unmarshal(e.Fields, &m)
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	if c := e.Credential; c != nil {
		fmt.Fprintf(&b, "%s:%s (%s) ", c.Principal, c.SecretPrintable, c.Outcome)
	}
	for _, k := range keys {
		v := m[k]
		if s, ok := v.(string); ok {
			fmt.Fprintf(&b, "%s=%s ", k, s)
			continue
		}
		j, _ := json.Marshal(v)
		fmt.Fprintf(&b, "%s=%s ", k, j)
	}
	return strings.TrimSpace(b.String())
}
