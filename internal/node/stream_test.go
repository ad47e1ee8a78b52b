package node_test

import (
	"bufio"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/testkit"
)

// TestAttackerEventStreamFollowsBus: the node gives the API its bus, so a
// message the pipeline publishes on core NATS about an attacker reaches
// that attacker's event stream (GET /attackers/{uuid}/events).
func TestAttackerEventStreamFollowsBus(t *testing.T) {
	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(1)})
	s.Login()
	conn, err := net.Dial("tcp", s.Addr("decky-01", "ssh"))
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	var a attackerDetail
	s.Eventually(10*time.Second, "the attacker of the ssh connection", func() (ok bool) {
		a, ok = attackerWith(s, "ssh")
		return ok
	})

	var tk struct {
		Ticket string `json:"ticket"`
	}
	if code := s.Do("POST", "/api/v1/auth/sse-ticket", nil, &tk); code != 200 {
		t.Fatalf("sse-ticket: %d", code)
	}
	resp, err := http.Get("http://" + s.Node.APIAddr + "/api/v1/attackers/" + a.UUID + "/events?ticket=" + tk.Ticket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stream: %d", resp.StatusCode)
	}
	events := make(chan [2]string, 16) // event name, data
	go func() {
		defer close(events)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var name string
		for sc.Scan() {
			line := sc.Text()
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				events <- [2]string{name, v}
			}
		}
	}()
	waitEvent := func(want func(name, data string) bool) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					t.Fatal("stream ended")
				}
				if want(ev[0], ev[1]) {
					return
				}
			case <-deadline:
				t.Fatal("no such frame within 10 s")
			}
		}
	}
	waitEvent(func(name, data string) bool { return name == "snapshot" && strings.Contains(data, a.UUID) })

	payload, _ := json.Marshal(map[string]any{"attacker_uuid": a.UUID, "attacker_ip": a.IP, "threat_score": 99, "marker": "stream-test"})
	if err := s.Node.Bus.Conn().Publish("attacker.scored", payload); err != nil {
		t.Fatal(err)
	}
	waitEvent(func(name, data string) bool {
		return name == "attacker.scored" && strings.Contains(data, `"topic":"attacker.scored"`) && strings.Contains(data, "stream-test")
	})
}
