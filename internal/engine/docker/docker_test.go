package docker

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/bus"
	"github.com/decnet-go/decnet/internal/decky"
	"github.com/decnet-go/decnet/internal/engine"
	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/persona"
	"github.com/decnet-go/decnet/internal/testkit/gate"
)

// dockerDriver returns a driver on a fresh network name, or skips (fails
// under DECNET_REQUIRE_ALL=1) when docker tests are not enabled. Enabled
// but unreachable is a failure.
func dockerDriver(tb testing.TB) *Driver {
	tb.Helper()
	if os.Getenv("DECNET_TEST_DOCKER") != "1" {
		gate.Missing(tb, "set DECNET_TEST_DOCKER=1 and run dockerd")
	}
	d, err := New()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Ping(ctx); err != nil {
		tb.Fatalf("DECNET_TEST_DOCKER=1 but %v", err)
	}
	d.Binary = staticBinary(tb)
	return d
}

// staticBinary builds decnet with CGO_ENABLED=0 (the test binary itself is
// not decnet, and may be dynamic).
func staticBinary(tb testing.TB) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "decnet")
	cmd := exec.Command("go", "build", "-o", out, "github.com/decnet-go/decnet/cmd/decnet")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build static decnet: %v\n%s", err, b)
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testNetwork creates a bridge network with a unique name and a free
// 172.31.x.0/24 subnet, torn down (with everything on it) when the test
// ends.
func testNetwork(tb testing.TB, d *Driver) DeployOptions {
	tb.Helper()
	ctx := context.Background()
	d.NetworkName = "decnet_test_" + randHex(4)
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := d.Teardown(ctx, nil); err != nil {
			tb.Errorf("cleanup teardown: %v", err)
		}
	})
	secret := make([]byte, 32)
	rand.Read(secret)
	o := DeployOptions{Network: "bridge", DataDir: tb.TempDir(), InstallSecret: secret, Progress: func(s string) { tb.Log(s) }}
	var err error
	for try := 0; try < 8; try++ {
		b := make([]byte, 1)
		rand.Read(b)
		o.Subnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{172, 31, b[0], 0}), 24)
		n, perr := planNetwork(d.network(), o, nil)
		if perr != nil {
			tb.Fatal(perr)
		}
		if err = d.ensureNetwork(ctx, n, o.progress); err == nil {
			o.Gateway = n.Gateway
			return o
		}
	}
	tb.Fatalf("no test network: %v", err)
	return o
}

func TestDeployBridge(t *testing.T) {
	d := dockerDriver(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	o := testNetwork(t, d)

	// The bus listens on the bridge's gateway: reachable from the deckies
	// and from this host, nowhere else.
	b, err := bus.Open(ctx, bus.Options{DataDir: t.TempDir(), Listen: net.JoinHostPort(o.Gateway.String(), "0")})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	o.NATSURL = "nats://" + b.ListenAddr()

	p := "t" + randHex(2)
	ip := func(n byte) netip.Addr { a := o.Subnet.Addr().As4(); a[3] = n; return netip.AddrFrom4(a) }
	fleet := []decky.Decky{
		{Name: p + "-lin", IP: ip(10), Services: []string{"ssh", "http"}, OSFamily: "linux"},
		{Name: p + "-win", IP: ip(11), Services: []string{"ssh"}, OSFamily: "windows"},
		{Name: p + "-emb", IP: ip(12), Services: []string{"ssh"}, OSFamily: "embedded"},
	}
	start := time.Now()
	if err := d.Deploy(ctx, fleet, o); err != nil {
		t.Fatal(err)
	}
	t.Logf("deployed 3 deckies in %.1fs", time.Since(start).Seconds())

	target := fleet[0]
	addr := net.JoinHostPort(target.IP.String(), "22")
	waitListening(t, addr, 20*time.Second)

	cons, err := b.Consumer(ctx, bus.ConsumerOptions{Durable: "dockertest",
		Filter: event.SubjectPrefix + target.Name + ".ssh." + event.TypeLoginAttempt})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Stop()

	t.Run("ssh login attempt reaches the bus", func(t *testing.T) {
		_, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{
			User: "gotest", Auth: []ssh.AuthMethod{ssh.Password("not-the-password")},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
		})
		if err == nil {
			t.Fatal("login with a wrong password succeeded")
		}
		want := []string{"gotest"}
		if sshpass, e1 := exec.LookPath("sshpass"); e1 == nil {
			if sshBin, e2 := exec.LookPath("ssh"); e2 == nil {
				out, err := exec.CommandContext(ctx, sshpass, "-p", "wrong-pw", sshBin,
					"-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
					"-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
					"-o", "ConnectTimeout=10", "realssh@"+target.IP.String(), "true").CombinedOutput()
				if err == nil {
					t.Fatalf("real ssh logged in with a wrong password:\n%s", out)
				}
				want = append(want, "realssh")
			}
		} else {
			t.Log("sshpass not installed: only the Go client tries")
		}
		got := map[string]bool{}
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Second)
		defer wcancel()
		for !allSeen(got, want) {
			ds, err := cons.Next(wctx, 16, 50*time.Millisecond)
			if err != nil {
				t.Fatalf("login_attempt events for %v not on the bus (seen %v): %v", want, got, err)
			}
			for _, dl := range ds {
				for _, e := range dl.Events {
					if e.Decky != target.Name || e.Service != "ssh" || e.Type != event.TypeLoginAttempt {
						t.Errorf("event %s/%s/%s, want %s/ssh/login_attempt", e.Decky, e.Service, e.Type, target.Name)
					}
					if e.Credential != nil {
						got[e.Credential.Principal] = true
					}
					if e.DstIP != target.IP.String() {
						t.Errorf("dst_ip %s, want the decky's %s", e.DstIP, target.IP)
					}
				}
				dl.Ack()
			}
		}
	})

	t.Run("ttl follows the OS family", func(t *testing.T) {
		ping := gate.Tool(t, "ping")
		ttlRe := regexp.MustCompile(`ttl=(\d+)`)
		for _, c := range []struct {
			d   decky.Decky
			ttl int
		}{{fleet[0], 64}, {fleet[1], 128}, {fleet[2], 255}} {
			out, err := exec.CommandContext(ctx, ping, "-c", "1", "-W", "2", c.d.IP.String()).CombinedOutput()
			if err != nil {
				t.Errorf("ping %s (%s): %v\n%s", c.d.Name, c.d.IP, err, out)
				continue
			}
			m := ttlRe.FindSubmatch(out)
			if m == nil {
				t.Errorf("ping %s: no ttl in %q", c.d.Name, out)
				continue
			}
			if ttl, _ := strconv.Atoi(string(m[1])); ttl != c.ttl {
				t.Errorf("%s (%s): ttl=%d, want %d", c.d.Name, c.d.OSFamily, ttl, c.ttl)
			}
		}
	})

	t.Run("status shows every decky running", func(t *testing.T) {
		st, err := d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(st) != 3 {
			t.Fatalf("status has %d deckies, want 3: %+v", len(st), st)
		}
		for i, s := range st {
			want := sortedByName(fleet)[i]
			if s.Name != want.Name || s.IP != want.IP.String() || s.State != StateRunning || len(s.Services) != len(want.Services) {
				t.Errorf("status %+v; want %s at %s running %v", s, want.Name, want.IP, want.Services)
			}
		}
	})

	t.Run("deploying again changes nothing", func(t *testing.T) {
		before := containerIDs(t, d)
		if err := d.Deploy(ctx, fleet, o); err != nil {
			t.Fatal(err)
		}
		after := containerIDs(t, d)
		if !slices.Equal(before, after) || len(before) != 7 {
			t.Errorf("containers before %v, after %v: want the same 7", before, after)
		}
	})

	t.Run("live operations", func(t *testing.T) {
		// A driver of another process (the API server) knows only the
		// network: the rest comes from the containers and the data dir.
		live, err := New()
		if err != nil {
			t.Fatal(err)
		}
		defer live.Close()
		live.NetworkName = d.NetworkName
		testLiveOperations(ctx, t, live, fleet, o)
	})

	t.Run("reconcile and reap", func(t *testing.T) {
		testReconcile(ctx, t, d, fleet, p)
	})

	t.Run("teardown leaves nothing", func(t *testing.T) {
		if err := d.Teardown(ctx, nil); err != nil {
			t.Fatal(err)
		}
		f := client.Filters{}.Add("label", LabelNetwork+"="+d.network())
		cs, err := d.cli.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		ns, err := d.cli.NetworkList(ctx, client.NetworkListOptions{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		if len(cs.Items) != 0 || len(ns.Items) != 0 {
			t.Errorf("after teardown: %d containers and %d networks still labelled %s", len(cs.Items), len(ns.Items), d.network())
		}
		if want, err := d.desired(o.DataDir); err != nil || len(want) != 0 {
			t.Errorf("after teardown the data dir still wants %v (%v): reconcile would bring them back", want, err)
		}
	})
}

func allSeen(got map[string]bool, want []string) bool {
	for _, w := range want {
		if !got[w] {
			return false
		}
	}
	return true
}

func sortedByName(f []decky.Decky) []decky.Decky {
	out := slices.Clone(f)
	slices.SortFunc(out, func(a, b decky.Decky) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

func containerIDs(t *testing.T, d *Driver) []string {
	t.Helper()
	cs, err := d.list(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range cs {
		ids = append(ids, name(c)+"="+c.ID)
	}
	slices.Sort(ids)
	return ids
}

func waitListening(t *testing.T, addr string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not listening after %s: %v", addr, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkDeploy20 deploys 20 deckies with 3 services each (ssh, http,
// ftp: 80 containers) with the image already built, and tears them down
// between iterations (not timed). Run with -benchtime=1x.
func BenchmarkDeploy20(b *testing.B) {
	d := dockerDriver(b)
	ctx := context.Background()
	o := testNetwork(b, d)
	o.Progress = nil
	img, err := d.EnsureImage(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	o.Image = img
	fleet, err := decky.GenerateOn(20, decky.GenerateOptions{Services: []string{"ssh", "http", "ftp"}},
		decky.Network{Subnet: o.Subnet, Gateway: o.Gateway})
	if err != nil {
		b.Fatal(err)
	}
	p := "b" + randHex(2)
	var names []string
	for i := range fleet {
		fleet[i].Name = fmt.Sprintf("%s-%02d", p, i+1)
		names = append(names, fleet[i].Name)
	}
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := d.Deploy(ctx, fleet, o); err != nil {
			b.Fatal(err)
		}
		total += time.Since(start)
		b.StopTimer()
		if err := d.Teardown(ctx, names); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/deploy")
}

// testLiveOperations changes the deployed fleet through engine.Operator:
// fleet[1] has ssh only, fleet[0] ssh and http.
func testLiveOperations(ctx context.Context, t *testing.T, d *Driver, fleet []decky.Decky, o DeployOptions) {
	win, lin := fleet[1], fleet[0]
	httpAddr := net.JoinHostPort(win.IP.String(), "80")

	t.Run("add http", func(t *testing.T) {
		if err := d.AddService(ctx, win.Name, "http", map[string]string{"response_code": "200"}); err != nil {
			t.Fatal(err)
		}
		waitListening(t, httpAddr, 20*time.Second)
		hc := &http.Client{Timeout: 10 * time.Second}
		res, err := hc.Get("http://" + httpAddr + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode == 0 {
			t.Fatal("no HTTP answer")
		}
		if err := d.AddService(ctx, win.Name, "http", nil); !errors.Is(err, engine.ErrServiceExists) {
			t.Errorf("adding http twice: %v, want ErrServiceExists", err)
		}
		st, err := d.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range st {
			if s.Name == win.Name && (len(s.Services) != 2 || s.State != StateRunning) {
				t.Errorf("status of %s after adding http: %+v", win.Name, s)
			}
		}
	})

	t.Run("remove http", func(t *testing.T) {
		if err := d.RemoveService(ctx, win.Name, "http"); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", httpAddr, time.Second)
			if err != nil {
				if !errors.Is(err, syscall.ECONNREFUSED) {
					t.Fatalf("after removing http, %s: %v, want connection refused", httpAddr, err)
				}
				break
			}
			c.Close()
			if time.Now().After(deadline) {
				t.Fatalf("%s still accepts connections after RemoveService", httpAddr)
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err := d.RemoveService(ctx, win.Name, "http"); !errors.Is(err, engine.ErrServiceAbsent) {
			t.Errorf("removing http twice: %v, want ErrServiceAbsent", err)
		}
		// ssh on that decky is untouched
		waitListening(t, net.JoinHostPort(win.IP.String(), "22"), 5*time.Second)
	})

	t.Run("configure ssh banner", func(t *testing.T) {
		addr := net.JoinHostPort(lin.IP.String(), "22")
		const banner = "OpenSSH_9.9p1 Gotest-1"
		before := containerIDs(t, d)
		recreated, err := d.ConfigureService(ctx, lin.Name, "ssh", map[string]string{"banner": banner}, false)
		if err != nil || recreated {
			t.Fatalf("save: recreated=%v err=%v", recreated, err)
		}
		if after := containerIDs(t, d); !slices.Equal(before, after) {
			t.Errorf("saving a configuration changed the containers: %v -> %v", before, after)
		}
		if got := sshIdent(t, addr); got == "SSH-2.0-"+banner {
			t.Errorf("the banner changed without apply: %q", got)
		}
		recreated, err = d.ConfigureService(ctx, lin.Name, "ssh", map[string]string{"banner": banner}, true)
		if err != nil || !recreated {
			t.Fatalf("apply: recreated=%v err=%v", recreated, err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			got := sshIdent(t, addr)
			if got == "SSH-2.0-"+banner {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("identification %q, want SSH-2.0-%s", got, banner)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("write and remove a file", func(t *testing.T) {
		const content = "vpn: admin / Winter2026!\n"
		if err := d.WriteFile(ctx, lin.Name, "/root/notes.txt", []byte(content), 0o600, time.Time{}); err != nil {
			t.Fatal(err)
		}
		host := filepath.Join(DropsDir(o.DataDir, lin.Name), "root", "notes.txt")
		fi, err := os.Stat(host)
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o600 || !ok || st.Uid != nobody {
			t.Errorf("%s: mode %v, stat %+v; want 0600 owned by %d", host, fi.Mode(), fi.Sys(), nobody)
		}
		if err := d.WriteFile(ctx, lin.Name, "/../etc/x", nil, 0o644, time.Time{}); !errors.Is(err, engine.ErrBadPath) {
			t.Errorf("path with ..: %v, want ErrBadPath", err)
		}
		if err := d.WriteFile(ctx, "no-such-decky", "/x", nil, 0o644, time.Time{}); !errors.Is(err, engine.ErrUnknownDecky) {
			t.Errorf("unknown decky: %v, want ErrUnknownDecky", err)
		}

		// The ssh shell of the (recreated) ssh container shows it.
		p, err := persona.NewWithDistro(o.InstallSecret, lin.Name, lin.Distro)
		if err != nil {
			t.Fatal(err)
		}
		root, _ := p.Account("root")
		cl, err := ssh.Dial("tcp", net.JoinHostPort(lin.IP.String(), "22"), &ssh.ClientConfig{
			User: "root", Auth: []ssh.AuthMethod{ssh.Password(root.Password)},
			HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatalf("ssh login as root: %v", err)
		}
		defer cl.Close()
		sess, err := cl.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		out, _ := sess.CombinedOutput("cat /root/notes.txt")
		sess.Close()
		if string(out) != content {
			t.Errorf("cat /root/notes.txt through ssh = %q, want %q", out, content)
		}

		if err := d.RemoveFile(ctx, lin.Name, "/root/notes.txt"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(host); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after RemoveFile: %v", err)
		}
	})
}

// sshIdent reads the server's identification line.
func sshIdent(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.TrimRight(line, "\r\n")
}

// reconcileOf returns the report of one decky.
func reconcileOf(t *testing.T, rep Report, name string) DeckyReconcile {
	t.Helper()
	for _, dr := range rep.Deckies {
		if dr.Name == name {
			return dr
		}
	}
	t.Fatalf("reconcile report has no %s: %+v", name, rep)
	return DeckyReconcile{}
}

// testReconcile breaks the deployed fleet (fleet[0] runs ssh and http)
// behind the driver's back and has Reconcile and Reap repair it.
func testReconcile(ctx context.Context, t *testing.T, d *Driver, fleet []decky.Decky, prefix string) {
	lin, emb := fleet[0], fleet[2]

	t.Run("nothing to do on a healthy fleet", func(t *testing.T) {
		before := containerIDs(t, d)
		rep, err := d.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(rep.Deckies) != 3 || rep.Repaired() != 0 {
			t.Errorf("healthy fleet: %+v, want 3 deckies and no repair", rep)
		}
		for _, dr := range rep.Deckies {
			if dr.Before != StateRunning || dr.After != StateRunning {
				t.Errorf("%s: %s -> %s, want running -> running", dr.Name, dr.Before, dr.After)
			}
		}
		if after := containerIDs(t, d); !slices.Equal(before, after) {
			t.Errorf("containers changed: %v -> %v", before, after)
		}
	})

	t.Run("a stopped service is started", func(t *testing.T) {
		timeout := 5
		if _, err := d.cli.ContainerStop(ctx, lin.Name+"-http", client.ContainerStopOptions{Timeout: &timeout}); err != nil {
			t.Fatal(err)
		}
		rep, err := d.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dr := reconcileOf(t, rep, lin.Name)
		if dr.Before != StateDegraded || dr.After != StateRunning || len(dr.Repairs) != 1 || !strings.HasPrefix(dr.Repairs[0], "http ") {
			t.Errorf("%s: %+v, want degraded -> running by repairing http", lin.Name, dr)
		}
		if rep.Repaired() != 1 {
			t.Errorf("repairs elsewhere: %+v", rep)
		}
		waitListening(t, net.JoinHostPort(lin.IP.String(), "80"), 20*time.Second)
	})

	t.Run("a removed base is recreated with its services", func(t *testing.T) {
		if _, err := d.cli.ContainerRemove(ctx, emb.Name, client.ContainerRemoveOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
		rep, err := d.Reconcile(ctx)
		if err != nil {
			t.Fatal(err)
		}
		dr := reconcileOf(t, rep, emb.Name)
		if dr.Before != StateFailed || dr.After != StateRunning || !slices.Contains(dr.Repairs, "base recreated") || !slices.Contains(dr.Repairs, "ssh recreated") {
			t.Errorf("%s: %+v, want failed -> running, base and ssh recreated", emb.Name, dr)
		}
		waitListening(t, net.JoinHostPort(emb.IP.String(), "22"), 20*time.Second)
		if got := sshIdent(t, net.JoinHostPort(emb.IP.String(), "22")); !strings.HasPrefix(got, "SSH-2.0-") {
			t.Errorf("ssh on the recreated %s: %q", emb.Name, got)
		}
	})

	t.Run("reap removes a stray and nothing else", func(t *testing.T) {
		before := containerIDs(t, d)
		cs, err := d.list(ctx)
		if err != nil || len(cs) == 0 {
			t.Fatalf("list: %v %v", cs, err)
		}
		stray := prefix + "-stray"
		cfg := &container.Config{Image: cs[0].Image, Cmd: []string{"decky", "run", "--idle"}, User: "65534:65534",
			Labels: map[string]string{LabelManaged: "true", LabelNetwork: d.network(), LabelDecky: stray, LabelRole: RoleBase}}
		hc := &container.HostConfig{NetworkMode: container.NetworkMode(d.network())}
		res, err := d.cli.ContainerCreate(ctx, client.ContainerCreateOptions{Name: stray, Config: cfg, HostConfig: hc})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.cli.ContainerStart(ctx, res.ID, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
		rep, err := d.Reconcile(ctx)
		if err != nil || rep.Repaired() != 0 || len(rep.Deckies) != 3 {
			t.Errorf("reconcile with a stray: %+v %v, want it ignored", rep, err)
		}
		reap, err := d.Reap(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(reap.Removed) != 1 || reap.Removed[0].Container != stray || reap.Removed[0].Decky != stray {
			t.Errorf("reaped %+v, want only %s", reap.Removed, stray)
		}
		if after := containerIDs(t, d); !slices.Equal(before, after) {
			t.Errorf("the fleet changed: %v -> %v", before, after)
		}
		reap, err = d.Reap(ctx)
		if err != nil || len(reap.Removed) != 0 {
			t.Errorf("second reap: %+v %v", reap, err)
		}
	})
}
