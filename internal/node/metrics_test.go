package node_test

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/decnet-go/decnet/internal/node"
	"github.com/decnet-go/decnet/internal/testkit"
)

// TestMetricsListener: with --metrics-listen, an attack shows in the
// Prometheus series on a listener that needs no token — events ingested by
// service and type, connections, batch latency and the consumer lag.
func TestMetricsListener(t *testing.T) {
	s := testkit.StartConfig(t, node.Config{Fleet: testkit.Fleet(1), MetricsListen: "127.0.0.1:0"})
	if s.Node.MetricsAddr == "" {
		t.Fatal("no metrics listener")
	}
	name := s.Fleet[0].Name
	c, err := net.DialTimeout("tcp", s.Addr(name, "ssh"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	scrape := func() string {
		resp, err := http.Get("http://" + s.Node.MetricsAddr + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("metrics: %d", resp.StatusCode)
		}
		return string(b)
	}
	want := []string{
		`decnet_events_ingested_total{service="ssh",type="connect"}`,
		`decnet_connections_total{service="ssh"}`,
		`decnet_bus_consumer_lag{consumer="ingest"}`,
		`decnet_store_batch_seconds_bucket`,
	}
	var body string
	s.Eventually(15*time.Second, "the attack in the metrics", func() bool {
		body = scrape()
		for _, w := range want {
			if !strings.Contains(body, w) {
				return false
			}
		}
		return true
	})
	// The API's own /metrics wants a token.
	resp, err := http.Get("http://" + s.Node.APIAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("API /metrics without a token: %d", resp.StatusCode)
	}
}
