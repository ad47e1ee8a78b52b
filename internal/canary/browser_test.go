package canary

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// TestBeaconInBrowser opens generated fingerprint pages in headless
// Chromium: the collector must really run, pass all four layers and
// report the automation (navigator.webdriver), and the token must revoke
// itself afterwards.
func TestBeaconInBrowser(t *testing.T) {
	if os.Getenv("DECNET_TEST_BROWSER") != "1" {
		gate.Missing(t, "DECNET_TEST_BROWSER=1 is not set (headless Chromium runs the fingerprint beacon)")
	}
	chromium := gate.Tool(t, "chromium")

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	// The first action starts the browser; it must not carry a timeout
	// (the browser would die with it).
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("start chromium: %v", err)
	}

	for _, gen := range []string{"fingerprint_html", "fingerprint_svg"} {
		t.Run(gen, func(t *testing.T) {
			tok := testToken(gen, "brwsr"+gen[len(gen)-3:]+"000000000000")
			r := newRig(tok)
			listener := httptest.NewServer(r.l.Handler())
			t.Cleanup(listener.Close)
			g, _ := LookupGenerator(gen)
			art, err := g.Make(Params{Token: tok, HTTPBase: listener.URL, Persona: testPersona("decky-01")})
			if err != nil {
				t.Fatal(err)
			}
			ctype := "text/html; charset=utf-8"
			if gen == "fingerprint_svg" {
				ctype = "image/svg+xml"
			}
			// The page comes from another origin than the callback, as
			// when an attacker opens the stolen file.
			pages := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", ctype)
				_, _ = w.Write(art.Content)
			}))
			t.Cleanup(pages.Close)

			tab, cancelTab := chromedp.NewContext(browser)
			defer cancelTab()
			ctx, cancel := context.WithTimeout(tab, 60*time.Second)
			defer cancel()
			if err := chromedp.Do(ctx, chromedp.Navigate(pages.URL+"/doc")); err != nil {
				t.Fatalf("navigate: %v", err)
			}
			deadline := time.Now().Add(30 * time.Second)
			var tr Trigger
			for {
				if trs := r.tokens.Triggers(); len(trs) > 0 {
					tr = trs[0]
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no beacon within 30 s")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if tr.Fingerprint == nil {
				t.Fatalf("beacon failed validation: %v", tr.RawHeaders)
			}
			for _, s := range []string{"nav", "scr", "tz", "cv", "ft"} {
				if tr.Fingerprint[s] == nil {
					t.Errorf("section %s missing: %v", s, tr.Fingerprint)
				}
			}
			var names []string
			for _, m := range tr.Metrics {
				names = append(names, m.Name)
			}
			if !slices.Contains(names, "navigator_webdriver") {
				t.Fatalf("metrics %v, want navigator_webdriver (fingerprint %v)", names, tr.Fingerprint)
			}
			if got := r.rev.Revoked(); len(got) != 1 {
				t.Fatalf("revocations %v", got)
			}
			t.Logf("%s: sections %d, metrics %v, gl %v", gen, len(tr.Fingerprint), names, tr.Fingerprint["gl"])
		})
	}
}
