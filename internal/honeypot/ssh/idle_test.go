package ssh

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// idleSessions is how many idle sessions TestIdleSessionMemory opens.
const idleSessions = 128

// maxIdleSessionHeap is the budget of one idle, logged-in session with a
// shell on a pty, recorded: the target.
const maxIdleSessionHeap = 64 << 10

// TestIdleSessionMemory measures the server's heap per open, idle,
// authenticated session with an interactive shell. The clients run in a
// child process (this test binary again), so only the server's memory is
// counted.
func TestIdleSessionMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 128 sessions")
	}
	srv := startServer(t, stateWithKeys(t), nil)
	before := heapInUse()
	goroutines := runtime.NumGoroutine()

	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientHelper$")
	cmd.Env = append(os.Environ(), "DECNET_SSH_IDLE_CLIENT="+srv.addr+","+rootPassword(srv.persona))
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("helper said %q: %v", line, err)
	}
	time.Sleep(200 * time.Millisecond) // the last prompts are written
	after := heapInUse()
	if p := os.Getenv("DECNET_SSH_HEAPPROFILE"); p != "" { // for go tool pprof -sample_index=inuse_space
		if f, err := os.Create(p); err == nil {
			pprof.WriteHeapProfile(f)
			f.Close()
		}
	}
	perSession := (after - before) / idleSessions
	perG := float64(runtime.NumGoroutine()-goroutines) / idleSessions
	t.Logf("idle session: %d bytes of heap, %.1f goroutines (%d sessions)", perSession, perG, idleSessions)
	if perSession > maxIdleSessionHeap {
		t.Errorf("an idle session costs %d bytes of heap, budget %d", perSession, maxIdleSessionHeap)
	}
}

func heapInUse() int64 {
	var m runtime.MemStats
	for range 3 {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestIdleClientHelper is the child of TestIdleSessionMemory: it opens
// idleSessions shells from several loopback addresses (the per-source cap
// is 16), says "ready" and holds them until its stdin closes.
func TestIdleClientHelper(t *testing.T) {
	spec := os.Getenv("DECNET_SSH_IDLE_CLIENT")
	if spec == "" {
		t.Skip("helper process of TestIdleSessionMemory")
	}
	addr, pw, _ := strings.Cut(spec, ",")
	var clients []*ssh.Client
	for i := range idleSessions {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.1." + strconv.Itoa(1+i/10))}, Timeout: 5 * time.Second}
		c, err := d.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		sc, chans, reqs, err := ssh.NewClientConn(c, addr, clientConfig("root", pw, nil))
		if err != nil {
			t.Fatal(err)
		}
		cl := ssh.NewClient(sc, chans, reqs)
		s, err := cl.NewSession()
		if err != nil {
			t.Fatal(err)
		}
		if err := s.RequestPty("xterm-256color", 40, 120, ssh.TerminalModes{}); err != nil {
			t.Fatal(err)
		}
		out, _ := s.StdoutPipe()
		if _, err := s.StdinPipe(); err != nil {
			t.Fatal(err)
		}
		if err := s.Shell(); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(out)
		for { // read up to the prompt
			l, err := r.ReadString(' ')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasSuffix(l, "# ") {
				break
			}
		}
		clients = append(clients, cl)
	}
	fmt.Println("ready")
	bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range clients {
		c.Close()
	}
}
