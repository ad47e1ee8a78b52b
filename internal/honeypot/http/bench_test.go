package http

import (
	"bufio"
	"crypto/tls"
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

// BenchmarkHTTPSHandshake measures full TLS handshakes (no resumption)
// against the https service over loopback, one connection each.
func BenchmarkHTTPSHandshake(b *testing.B) {
	addr, _ := startHTTPS(b, map[string]string{"server_header": "nginx/1.22.1"})
	cfg := &tls.Config{InsecureSkipVerify: true, ClientSessionCache: nil}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		c, err := tls.Dial("tcp", addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkHTTPSRequest measures keep-alive GETs over one TLS connection.
func BenchmarkHTTPSRequest(b *testing.B) {
	addr, _ := startHTTPS(b, map[string]string{"server_header": "nginx/1.22.1"})
	dial := func() *tls.Conn {
		c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	c := dial()
	defer func() { c.Close() }()
	br := bufio.NewReader(c)
	const req = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if i > 0 && i%900 == 0 {
			c.Close()
			c = dial()
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

// BenchmarkRequestParallel is BenchmarkRequest with 4 keep-alive
// connections per CPU, as a load generator would drive a decky.
func BenchmarkRequestParallel(b *testing.B) {
	addr, _ := start(b, map[string]string{"server_header": "nginx/1.22.1"})
	const req = "GET / HTTP/1.1\r\nHost: bench\r\nUser-Agent: bench\r\n\r\n"
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var c net.Conn
		var br *bufio.Reader
		for i := 0; pb.Next(); i++ {
			if i%900 == 0 {
				if c != nil {
					c.Close()
				}
				var err error
				if c, err = net.Dial("tcp", addr); err != nil {
					b.Error(err)
					return
				}
				br = bufio.NewReader(c)
			}
			if _, err := io.WriteString(c, req); err != nil {
				b.Error(err)
				return
			}
			resp, err := nethttp.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if c != nil {
			c.Close()
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
