package http

import (
	"bufio"
	"io"
	"net"
	nethttp "net/http"
	"testing"
)

// BenchmarkRequest measures keep-alive GETs of the login page over loopback.
func BenchmarkRequest(b *testing.B) {
	addr, _ := start(b, map[string]string{"server_header": "nginx/1.22.1"})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	const req = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%900 == 0 { // stay under nginx's keepalive_requests
			c.Close()
			if c, err = net.Dial("tcp", addr); err != nil {
				b.Fatal(err)
			}
			br.Reset(c)
		}
		if _, err := io.WriteString(c, req); err != nil {
			b.Fatal(err)
		}
		resp, err := nethttp.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
