package tftp

import (
	"bytes"
	"net"
	"testing"
	"time"
)

func FuzzParseRequest(f *testing.F) {
	for _, s := range [][]byte{
		rq(opRRQ, "pxelinux.0", "octet"),
		rq(opWRQ, "running-config", "netascii", "tsize", "1024"),
		rq(opRRQ, "x", "octet", "blksize", "1428", "tsize", "0", "timeout", "1"),
		append(rq(opRRQ, "x", "octet"), "junk"...),
		[]byte("\x00\x01abc"), []byte("\x00\x05\x00\x01oops\x00"), {0}, {},
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		req, ok := parseRequest(pkt)
		if !ok {
			return
		}
		if req.op != opRRQ && req.op != opWRQ {
			t.Fatalf("op %d accepted", req.op)
		}
		if req.err == "" && req.mode != "octet" && req.mode != "netascii" {
			t.Errorf("mode %q accepted", req.mode)
		}
		if len(req.options) > maxOptions {
			t.Errorf("%d options kept", len(req.options))
		}
	})
}

// FuzzServePacket sends arbitrary datagrams to a running service: none
// may stop it, and it must still answer a good request afterwards.
func FuzzServePacket(f *testing.F) {
	f.Add(rq(opRRQ, "nope", "octet"))
	f.Add(rq(opWRQ, "x", "octet", "blksize", "99999999999999999999999"))
	f.Add([]byte("\x00\x04\x00\x01"))
	// Lift the flood limits: here every datagram comes from one address
	// and many fuzzed WRQs open transfers nobody finishes.
	rateBurst, perSource, maxTransfers = 1e9, 1<<20, 1<<20
	f.Cleanup(func() { rateBurst, perSource, maxTransfers = 10, 8, 64 })
	srv := startServer(f, nil)
	f.Fuzz(func(t *testing.T, pkt []byte) {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.WriteToUDP(pkt, srv.addr)
		c.WriteToUDP(rq(opRRQ, "no-such-file", "octet"), srv.addr)
		buf := make([]byte, 70000)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, _, err := c.ReadFromUDP(buf)
			if err != nil {
				t.Fatalf("no answer to a good request after %q: %v", pkt, err)
			}
			if bytes.Contains(buf[:n], []byte("File not found")) {
				return
			}
		}
	})
}
